package config_test

import (
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
)

// testSubgraphSecret is realEnv's SUBGRAPH_SECRET: any occurrence in an
// error text is a leak.
const testSubgraphSecret = "subgraph-S3cr3t-9fQx2LmZ"

// TestLoadSubgraph: the federation settings, each accepted or refused with
// a message naming the variable and never quoting the secret.
func TestLoadSubgraph(t *testing.T) {
	tests := []struct {
		name string
		give env
		want string // in the error; "" for none
	}{
		{"off by default", env{}, ""},
		{"on, no secret", env{"SUBGRAPH_MODE": "true"}, ""},
		{"on, secret and header", env{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": testSubgraphSecret, "SUBGRAPH_CLIENT_HEADER": "X-Client-Id"}, ""},
		{"not a boolean", env{"SUBGRAPH_MODE": "yes please"}, "SUBGRAPH_MODE"},
		{"secret without the mode", env{"SUBGRAPH_SECRET": testSubgraphSecret}, "SUBGRAPH_SECRET: set without SUBGRAPH_MODE=true"},
		{"secret too short", env{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": "short-S3cr3t"}, "SUBGRAPH_SECRET: want at least 16"},
		{"secret with a space", env{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": testSubgraphSecret + " x"}, "SUBGRAPH_SECRET: want at least 16"},
		{"header without the mode", env{"SUBGRAPH_CLIENT_HEADER": "X-Client-Id"}, "SUBGRAPH_CLIENT_HEADER: set without SUBGRAPH_MODE=true"},
		{"header not a token", env{"SUBGRAPH_MODE": "true", "SUBGRAPH_CLIENT_HEADER": "X Client:Id"}, "SUBGRAPH_CLIENT_HEADER: \"X Client:Id\" is not an HTTP header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.give.get)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.SubgraphMode != (tt.give["SUBGRAPH_MODE"] == "true") || c.SubgraphSecret.Reveal() != tt.give["SUBGRAPH_SECRET"] || c.SubgraphClientHeader != tt.give["SUBGRAPH_CLIENT_HEADER"] {
					t.Errorf("Load(%v) = mode %v, secret set %v, header %q", tt.give, c.SubgraphMode, !c.SubgraphSecret.IsZero(), c.SubgraphClientHeader)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%v) = %v, want an error containing %q", tt.give, err, tt.want)
			}
			if secret := tt.give["SUBGRAPH_SECRET"]; secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
}
