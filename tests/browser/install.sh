#!/usr/bin/env bash
# Installs Debian's headless Chromium and ChromeDriver for the browser tests.
# Run by `cargo xtask test` when /usr/bin/chromium or /usr/bin/chromedriver
# is missing. Needs root (or passwordless sudo) and Debian's package mirrors.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo -n"
  else
    echo "installing Chromium needs root: run as root or install the chromium and chromium-driver packages" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
/usr/bin/chromium --version
