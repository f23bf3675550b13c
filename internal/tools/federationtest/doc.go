// Package federationtest runs the service as a subgraph of a real Apollo
// Federation v2 supergraph: Hive Gateway (npm @graphql-hive/gateway) serving
// a supergraph composed by @theguild/federation-composition from the live
// SDLs of the service and of a second subgraph that extends OpportunityType
// by its key (examples/federation). It has tests only. Without the gateway
// installed (npm ci in examples/federation) or node, the tests skip, unless
// FEDERATION_TEST_REQUIRED=1 (set by .ci/federation.sh, which installs it).
package federationtest
