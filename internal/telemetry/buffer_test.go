package telemetry_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// TestBufferedLogs: info lines wait for the interval and go out in one write;
// a warning goes out at once with everything before it, in order; Close
// flushes the rest.
func TestBufferedLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &testkit.LogBuffer{} // the process's stderr: written by the flusher, read by the test
		w := telemetry.NewBufferedWriter(out, 100*time.Millisecond)
		logger, err := telemetry.NewLogger(w, "json")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			logger.Info("request", "n", i)
		}
		if out.String() != "" {
			t.Fatalf("lines written before the interval: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := strings.Count(out.String(), `"msg":"request"`); got != 50 || out.Writes() != 1 {
			t.Fatalf("after the interval: %d lines in %d writes, want 50 in 1", got, out.Writes())
		}

		logger.Info("before")
		logger.WarnContext(context.Background(), "upstream failing")
		s := out.String()
		if !strings.Contains(s, "upstream failing") || strings.Index(s, "before") > strings.Index(s, "upstream failing") {
			t.Fatalf("a warning waited, or lines lost their order: %s", s)
		}

		// After a long quiet spell (the flusher asleep), a line still
		// waits one interval, no more.
		time.Sleep(time.Minute)
		synctest.Wait()
		writes := out.Writes()
		logger.Info("after a quiet minute")
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if out.Writes() != writes {
			t.Fatal("a line after a quiet spell was written before its interval")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if out.Writes() != writes+1 || !strings.Contains(out.String(), "after a quiet minute") {
			t.Fatalf("a line after a quiet spell was not written one interval later (%d writes, want %d)", out.Writes(), writes+1)
		}

		logger.Info("last words")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "last words") {
			t.Errorf("Close did not flush: %s", out)
		}
	})
}

// gatedWriter is a log reader that has stopped reading: Write blocks until
// the gate opens, and says when it has started.
type gatedWriter struct {
	testkit.LogBuffer
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.LogBuffer.Write(p)
}

// TestBufferedLogsDoNotWaitForASlowReader: while a batch is being written to
// a reader that does not read, lines go on being added; they wait only when a
// second batch has filled. Order is kept.
func TestBufferedLogsDoNotWaitForASlowReader(t *testing.T) {
	out := &gatedWriter{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	w := telemetry.NewBufferedWriter(out, time.Hour)
	if _, err := w.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- w.Flush() }()
	<-out.entered // the first batch is being written, and stuck

	added := make(chan struct{})
	go func() {
		for i := range 100 {
			_, _ = fmt.Fprintf(w, "line %d\n", i)
		}
		close(added)
	}()
	select {
	case <-added:
	case <-time.After(10 * time.Second):
		t.Fatal("lines waited for the stuck write of an earlier batch")
	}

	close(out.gate)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	go func() {
		for range out.entered { // let the later writes through
		}
	}()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	close(out.entered)
	got := out.String()
	if !strings.HasPrefix(got, "first\nline 0\n") || !strings.HasSuffix(got, "line 99\n") || strings.Count(got, "\n") != 101 {
		t.Errorf("lines lost or out of order: %.80q … %d lines", got, strings.Count(got, "\n"))
	}
}
