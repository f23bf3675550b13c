#!/usr/bin/env bash
# The typed client example against the real service: builds and starts the
# service on a free port with demo data, then in examples/web installs the
# pinned packages (npm ci), generates typed operations from the live schema
# (graphql-codegen, introspection), type-checks them (tsc --noEmit) and runs
# them (tsx src/main.ts), which checks the results and exits non-zero on a
# mismatch.
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
