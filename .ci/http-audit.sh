#!/usr/bin/env bash
# Runs the GraphQL-over-HTTP specification's server audits (npm graphql-http,
# pinned by .ci/graphql-http-audit/package-lock.json) against the real service:
# every MUST, SHOULD and MAY must pass.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/oppconfig-graphql" .
PORT=0 RATE_LIMIT=0 "$tmp/oppconfig-graphql" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do
  addr=$(grep -o '"msg":"listening","addr":"[^"]*"' "$tmp/log" | sed 's/.*"addr":"http:\/\/\[::\]:\([0-9]*\)"/\1/' || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "service did not start:"; cat "$tmp/log"; exit 1; }

(cd .ci/graphql-http-audit && npm ci --no-audit --no-fund --silent)
node .ci/graphql-http-audit/audit.mjs "http://127.0.0.1:$addr/query"
