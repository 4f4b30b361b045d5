#!/usr/bin/env bash
# Installs Debian's HAProxy for the tests that run the generated load
# balancer configuration (deploy/haproxy.cfg) in front of real replicas.
# The tests start their own HAProxy; the package's own service is not used.
# Run by `cargo xtask install-tools` when /usr/sbin/haproxy is missing.
set -euo pipefail

if [ ! -x /usr/sbin/haproxy ]; then
  "$(dirname "$0")/../apt-install.sh" HAProxy haproxy
fi
/usr/sbin/haproxy -v | sed -n 1p  # not head: it closes the pipe early, and pipefail fails on SIGPIPE
