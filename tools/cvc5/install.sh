#!/usr/bin/env bash
# Installs the cvc5 solver that `orchestrator-mcp policy diff` and
# `policy verify` drive: cvc5 1.3.1 (the version Cedar's symbolic compiler
# is built against) from PyPI into a Python environment in DIR, and
# DIR/bin/cvc5, a command over it (tools/cvc5/cvc5-command.py). Point CVC5 at it:
#
#   bash tools/cvc5/install.sh ~/.local/cvc5
#   export CVC5=~/.local/cvc5/bin/cvc5
#
# Needs python3 with venv and PyPI. A no-op when DIR already has it.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
version="1.3.1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$(mkdir -p "$1" && cd "$1" && pwd)"
stamp="$dir/installed-version"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$version" ] || [ ! -x "$dir/bin/cvc5" ]; then
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check "cvc5==$version"
  echo "$version" > "$stamp"
fi
# The launcher is rewritten every time, so it follows the script it names.
mkdir -p "$dir/bin"
cp "$here/cvc5-command.py" "$dir/cvc5-command.py"
cat > "$dir/bin/cvc5" <<LAUNCHER
#!/bin/sh
exec "$dir/venv/bin/python" "$dir/cvc5-command.py" "\$@"
LAUNCHER
chmod +x "$dir/bin/cvc5"
"$dir/bin/cvc5" --version
