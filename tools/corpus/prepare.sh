#!/usr/bin/env bash
# Prepares the corpora `cargo xtask corpus` measures the code tools on, in
# the directory given (under target/):
#
#   venv/              bandit and lizard, pinned in tools/corpus/requirements.txt
#   bandit-1.9.4/      bandit's source release from PyPI: its examples/ are the
#                      corpus, its LICENSE (Apache-2.0) says what may be done
#   bandit.json        what bandit reports on examples/ at medium or high severity
#
# Idempotent: what is there stays. Needs Python 3 and PyPI.
set -euo pipefail

dir=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
cd "$dir"

if [ ! -x venv/bin/bandit ] || ! cmp -s "$here/requirements.txt" venv/requirements.txt; then
  rm -rf venv
  python3 -m venv venv
  venv/bin/pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" venv/requirements.txt
fi

version=1.9.4
if [ ! -d "bandit-$version/examples" ]; then
  venv/bin/pip download --quiet --disable-pip-version-check --no-deps \
    --no-binary :all: --dest . "bandit==$version"
  tar xzf "bandit-$version.tar.gz"
fi

if [ ! -s bandit.json ]; then
  # bandit exits 1 when it finds something, which it will.
  venv/bin/bandit --recursive "bandit-$version/examples" --format json --quiet \
    --severity-level medium --output bandit.json || [ -s bandit.json ]
fi
echo "corpus: bandit $version examples and their bandit report in $dir"
