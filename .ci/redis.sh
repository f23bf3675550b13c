#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing (CI runs as root on
# Debian). The tests start their own servers on loopback ports with
# persistence off (internal/testkit.StartRedis); nothing is left running.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  echo "== installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends redis-server
  # The package starts a system server on 6379; the tests need none.
  (service redis-server stop || pkill -x redis-server || true) >/dev/null 2>&1
fi
echo "== $(redis-server --version)"
