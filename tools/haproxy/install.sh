#!/usr/bin/env bash
# Installs Debian's HAProxy for the tests that run the generated load
# balancer configuration (deploy/haproxy.cfg) in front of real replicas.
# The tests start their own HAProxy; the package's own service is not used.
# Run by `cargo xtask install-tools` when /usr/sbin/haproxy is missing.
# Needs root (or passwordless sudo) and Debian's package mirrors.
set -euo pipefail

if [ -x /usr/sbin/haproxy ]; then
  /usr/sbin/haproxy -v | head -1
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo -n"
  else
    echo "installing HAProxy needs root: run as root or install the haproxy package" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Containers have no init system to start the packaged service with; tell
# the package scripts not to try.
policy_rc=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy_rc" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy_rc" >/dev/null
  $sudo chmod +x "$policy_rc"
  created_policy=1
fi
cleanup() { if [ -n "$created_policy" ]; then $sudo rm -f "$policy_rc"; fi; }
trap cleanup EXIT

$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends haproxy >/dev/null
/usr/sbin/haproxy -v | head -1
