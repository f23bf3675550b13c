#!/usr/bin/env bash
# The service as a subgraph of a real Apollo Federation v2 supergraph: in
# examples/federation installs the pinned packages (npm ci: Hive Gateway,
# @theguild/federation-composition, and @apollo/subgraph for the second
# subgraph), then runs ./internal/tools/federationtest, which builds and
# starts the service with SUBGRAPH_MODE=true and a shared secret, starts the
# second subgraph, composes the supergraph from both live SDLs
# (compose.mjs), serves it with the gateway on a loopback port, and compares
# the gateway's answers with the service's (every benchmark query, and
# queries crossing both subgraphs). FEDERATION_TEST_REQUIRED=1 makes a
# missing gateway a failure rather than a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

echo "== npm ci (examples/federation)"
# --loglevel=error: the gateway's dependency tree holds packages declaring
# newer engines than Node 20 for code paths the gateway does not take here;
# the EBADENGINE warnings would only bury real output.
(cd examples/federation && npm ci --no-audit --no-fund --loglevel=error)
echo "== $(node --version) / hive-gateway $(cd examples/federation && node -p 'require("@graphql-hive/gateway/package.json").version')"

echo "== gateway test"
FEDERATION_TEST_REQUIRED=1 go test -count=1 ./internal/tools/federationtest
