#!/usr/bin/env bash
# Installs Debian's wrk, the HTTP load generator `cargo xtask bench e2e`
# runs against every server it compares. Run by the bench when
# /usr/bin/wrk is missing.
set -euo pipefail

if [ ! -x /usr/bin/wrk ]; then
  "$(dirname "$0")/../apt-install.sh" wrk wrk
fi
/usr/bin/wrk --version 2>&1 | sed -n 1p || true
