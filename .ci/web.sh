#!/usr/bin/env bash
# The typed client example against the real service: builds and starts the
# service on a free port with demo data, then in examples/web installs the
# pinned packages (npm ci), generates typed operations from the live schema
# (graphql-codegen, introspection), type-checks them (tsc --noEmit) and runs
# them (tsx src/main.ts), which checks the results and exits non-zero on a
# mismatch. Then the live configuration (tsx src/live.ts): a second service,
# with CACHE_TTL=1s, against the simulator (internal/tools/simulator) whose
# data the script changes, subscribed to over SSE and WebSocket.
set -euo pipefail
cd "$(dirname "$0")/.."

. .ci/lib.sh

echo "== build and start the service"
# Introspection on (its demo-mode default, made explicit) for codegen.
start_service INTROSPECTION=true
export GRAPHQL_URL="$SERVICE_URL/query"
echo "service at $GRAPHQL_URL"

cd examples/web
echo "== npm ci"
# --loglevel=error: graphql-codegen's URL loader pulls in packages declaring
# node >= 22 (@whatwg-node/*, listr2); they run on Node 20, and the
# EBADENGINE warnings would only bury real output.
npm ci --no-audit --no-fund --loglevel=error
echo "== codegen from the live schema"
rm -rf src/gql # generated, not committed: always from the schema being served
npm run --silent codegen
echo "== tsc --noEmit"
npm run --silent typecheck
echo "== run the operations"
npm run --silent start

echo "== live configuration: subscriptions over SSE and WebSocket, against an upstream that changes"
# In a subshell, whose EXIT trap stops what it starts: the tanmarket simulator
# on a port of its own (internal/tools/simulator; the demo service's embedded
# one cannot be changed from outside), whose PATCH /control/types/{id} the
# script calls, and a second service reading it, whose own EXIT trap
# start_service sets in the inner subshell.
(
  cd ../..
  export UPSTREAM_APP_ID=live-app UPSTREAM_APP_KEY=live-key UPSTREAM_APP_SECRET=live-secret
  bin_dir=$(mktemp -d)
  go build -o "$bin_dir/simulator" ./internal/tools/simulator
  upstream_out="$bin_dir/out"
  "$bin_dir/simulator" >"$upstream_out" &
  upstream_pid=$!
  trap 'kill "$upstream_pid" 2>/dev/null || true; wait "$upstream_pid" 2>/dev/null || true; rm -rf "$bin_dir"' EXIT
  upstream=""
  for _ in $(seq 100); do
    upstream=$(head -n 1 "$upstream_out")
    [ -n "$upstream" ] && break
    kill -0 "$upstream_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$upstream" ] || { echo "the simulator did not start"; exit 1; }
  echo "simulator at $upstream"
  (
    # CACHE_TTL=1s: an open stream makes the service refresh past its TTL,
    # so a change upstream reaches the subscribers within about a second.
    start_service UPSTREAM_URL="$upstream" CACHE_TTL=1s
    echo "service at $SERVICE_URL/query, reading the simulator"
    cd examples/web
    GRAPHQL_URL="$SERVICE_URL/query" UPSTREAM_CONTROL_URL="$upstream" npm run --silent live
  )
)
