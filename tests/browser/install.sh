#!/usr/bin/env bash
# Installs Debian's headless Chromium and ChromeDriver for the browser tests.
# Run by `cargo xtask test` when /usr/bin/chromium or /usr/bin/chromedriver
# is missing.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
"$(dirname "$0")/../../tools/apt-install.sh" Chromium chromium chromium-driver
/usr/bin/chromium --version
