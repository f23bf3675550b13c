#!/usr/bin/env bash
# The typed client example against the real service: builds and starts the
# service on a free port with demo data, then in examples/web installs the
# pinned packages (npm ci), generates typed operations from the live schema
# (graphql-codegen, introspection), type-checks them (tsc --noEmit) and runs
# them (tsx src/main.ts), which checks the results and exits non-zero on a
# mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT

echo "== build and start the service"
go build -o "$tmp/oppconfig-graphql" .
# Demo data; introspection on (its demo-mode default, made explicit) for
# codegen; no rate limit; JSON logs, whose "listening" line gives the port.
env -u UPSTREAM_URL PORT=0 RATE_LIMIT=0 INTROSPECTION=true LOG_FORMAT=json \
  "$tmp/oppconfig-graphql" 2>"$tmp/log" &
pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*"msg":"listening","addr":"http:\/\/\[::\]:\([0-9]*\)".*/\1/p' "$tmp/log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "service did not start:"; cat "$tmp/log"; exit 1; }
export GRAPHQL_URL="http://127.0.0.1:$port/query"
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
