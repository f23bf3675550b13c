#!/usr/bin/env bash
# Runs the GraphQL-over-HTTP specification's server audits (npm graphql-http,
# pinned by .ci/graphql-http-audit/package-lock.json) against the real service:
# every MUST, SHOULD and MAY must pass.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh

start_service
(cd .ci/graphql-http-audit && npm ci --no-audit --no-fund --silent)
node .ci/graphql-http-audit/audit.mjs "$SERVICE_URL/query"
