#!/usr/bin/env bash
# Installs Debian packages a test needs, never starting their services
# (the tests start their own):
#
#   tools/apt-install.sh <what, for the error message> <package>...
#
# Needs root (or passwordless sudo) and Debian's package mirrors.
set -euo pipefail

what=$1
shift

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo -n"
  else
    echo "installing $what needs root: run as root or install the Debian packages $*" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Containers have no init system to start a packaged service with; tell
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
$sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
