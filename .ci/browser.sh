#!/usr/bin/env bash
# Browser test of the pipeline explorer (GET /explorer): installs Debian's
# Chromium when it is missing (CI runs as root on Debian), then runs
# ./internal/tools/browsertest, where a missing browser is a failure rather than a skip.
# UPDATE_SCREENSHOT=1 also rewrites internal/tools/browsertest/testdata/explorer.png.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends chromium
fi
echo "== $(chromium --version 2>/dev/null || echo chromium)"

echo "== browser test"
CHROMIUM="${CHROMIUM:-$(command -v chromium)}" BROWSER_TEST_REQUIRED=1 go test -count=1 ./internal/tools/browsertest
