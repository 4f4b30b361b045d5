#!/usr/bin/env bash
# Installs Debian's redis-server for the tests that run several replicas
# against a real Redis. The tests start their own server on a free loopback
# port without persistence; the package's own service is not used.
# Run by `cargo xtask install-tools` when /usr/bin/redis-server is missing.
set -euo pipefail

if [ ! -x /usr/bin/redis-server ]; then
  "$(dirname "$0")/../apt-install.sh" Redis redis-server
fi
/usr/bin/redis-server --version
