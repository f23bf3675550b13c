package testkit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// StartBinary builds the service and runs it as a child process with env
// (proc.Options.Env: its whole environment), keeping its whole log. When
// the test ends the service must stop cleanly on SIGTERM, and its log is
// shown if the test failed. Each test builds into its own directory; after
// the first, go build only links, from the build cache.
func StartBinary(ctx context.Context, t *testing.T, env []string) (*proc.Process, *LogBuffer) {
	t.Helper()
	bin, err := proc.Build(ctx, t.TempDir(), ".")
	if err != nil {
		t.Fatal(err)
	}
	logs := &LogBuffer{}
	p, err := proc.Start(ctx, bin, nil, proc.Options{
		Env:    env,
		OnLine: func(line []byte) { fmt.Fprintf(logs, "%s\n", line) }, // one Write: the line and its newline together
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if res := p.Stop(10 * time.Second); !res.OK() {
			t.Errorf("service did not stop cleanly: %+v", res)
		}
		if t.Failed() {
			t.Logf("service log:\n%s", logs)
		}
	})
	return p, logs
}
