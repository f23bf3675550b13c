package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// TestPatchChangesWhatTheSignedClientReads: the command serves the demo
// data to the service's own signed client, and a PATCH renames a type in the
// next answer; bad patches are refused.
func TestPatchChangesWhatTheSignedClientReads(t *testing.T) {
	creds := testkit.Creds()
	env := map[string]string{"UPSTREAM_APP_ID": creds.AppID, "UPSTREAM_APP_KEY": creds.AppKey.Reveal(), "UPSTREAM_APP_SECRET": creds.AppSecret.Reveal()}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, listening) }()
	base := <-listening
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	cfg, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	client, err := tanmarket.NewClient(base, creds, signature.Default(), nil, tanmarket.Options{
		AttemptTimeout: cfg.UpstreamTimeout, Budget: cfg.UpstreamBudget, MaxRetries: &cfg.UpstreamRetries,
		BreakerFailures: cfg.BreakerFailures, BreakerCooldown: cfg.BreakerCooldown, MaxBodyBytes: cfg.MaxBodyBytes,
	})
	if err != nil {
		t.Fatal(err)
	}
	name := func() string {
		snap, err := client.OpportunityConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return snap.Type(1004).TypeName
	}
	if got := name(); got != "大客户项目" {
		t.Fatalf("type 1004 is %q", got)
	}
	patch := func(path, body string) int {
		req, _ := http.NewRequest(http.MethodPatch, base+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		path, body string
		want       int
	}{
		{"/control/types/1004", `{"typeName":"改名"}`, http.StatusNoContent},
		{"/control/types/9", `{"typeName":"x"}`, http.StatusNotFound},
		{"/control/types/1004", `{"typeId":5}`, http.StatusBadRequest},
		{"/control/types/1004", `[1]`, http.StatusBadRequest},
		{"/control/types/x", `{}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		if got := patch(tt.path, tt.body); got != tt.want {
			t.Errorf("PATCH %s %s: %d, want %d", tt.path, tt.body, got, tt.want)
		}
	}
	if got := name(); got != "改名" {
		t.Fatalf("after the patch type 1004 is %q", got)
	}
}
