#!/usr/bin/env bash
# Prepares the corpora `cargo xtask corpus` measures the code tools on, in
# the directory given (under target/):
#
#   venv/              bandit and lizard, pinned in tools/corpus/requirements.txt
#   bandit-1.9.4/      bandit's source release from PyPI: its examples/ are the
#                      corpus, its LICENSE (Apache-2.0) says what may be done
#   bandit.json        what bandit reports on examples/ at medium or high severity
#   sources/<language>/ a real code base per language, from the npm registry
#                      and Debian's packages (each keeps its licence file):
#                      axios (JavaScript), rxjs (TypeScript), cordova-android
#                      (Java), gorilla/mux (Go), rack (Ruby); bandit's own
#                      source is the Python one and this project's crates the
#                      Rust one
#   lizard-<language>.csv what lizard measures on each, function by function
#
# Idempotent: what is there stays. Needs Python 3 and PyPI, npm and apt.
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
# Sources for the lizard comparison.
mkdir -p sources
npm_source() { # language package@version
  if [ ! -d "sources/$1" ]; then
    local pack
    pack=$(npm pack --silent "$2" | tail -1)
    mkdir -p "sources/$1"
    tar xzf "$pack" -C "sources/$1" --strip-components=1
    rm -f "$pack"
  fi
}
deb_source() { # language package
  if [ ! -d "sources/$1" ]; then
    apt-get download "$2" 2>/dev/null || { apt-get update -qq && apt-get download "$2"; }
    mkdir -p "sources/$1"
    dpkg-deb -x "$2"_*.deb "sources/$1"
    rm -f "$2"_*.deb
  fi
}
npm_source javascript axios@1.7.9
npm_source typescript rxjs@7.8.1
npm_source java cordova-android@13.0.0
deb_source go golang-github-gorilla-mux-dev
deb_source ruby ruby-rack

root=$(cd "$here/../.." && pwd)
lizard_csv() { # language path...
  local language=$1
  shift
  if [ ! -s "lizard-$language.csv" ]; then
    venv/bin/lizard --csv --languages "$language" "$@" > "lizard-$language.csv.part"
    mv "lizard-$language.csv.part" "lizard-$language.csv"
  fi
}
lizard_csv python "$PWD/bandit-$version/bandit"
lizard_csv javascript "$PWD/sources/javascript/lib"
lizard_csv typescript "$PWD/sources/typescript/src"
lizard_csv java "$PWD/sources/java/framework/src"
lizard_csv go "$PWD/sources/go/usr/share/gocode/src"
lizard_csv ruby "$PWD/sources/ruby/usr/share/rubygems-integration/all/gems"
# This project's Rust is measured as it stands, so it is measured afresh.
rm -f lizard-rust.csv
lizard_csv rust "$root/crates" "$root/plugins" "$root/xtask"

echo "corpus: bandit $version examples and their bandit report, and sources with lizard's measures, in $dir"
