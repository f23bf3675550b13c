package federationtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// requiredEnv turns a missing gateway from a skip into a failure.
const requiredEnv = "FEDERATION_TEST_REQUIRED"

// testTimeout bounds the whole test: the service's build, three processes'
// start-up, composition and every query.
const testTimeout = 3 * time.Minute

// gatewaySecret is the SUBGRAPH_SECRET the service and the gateway share
// in this test; it guards nothing beyond it.
const gatewaySecret = "federation-test-secret-0123456789"

// example returns examples/federation, and skips (or fails, with
// FEDERATION_TEST_REQUIRED=1) when node or the installed gateway is missing.
func example(t *testing.T, root string) (dir, node string) {
	t.Helper()
	dir = filepath.Join(root, "examples", "federation")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", ".bin", "hive-gateway"))
	}
	if err != nil {
		msg := fmt.Sprintf("the federation gateway is not installed (%v): run `npm ci` in examples/federation (Node 20+), or `bash .ci/federation.sh`", err)
		if os.Getenv(requiredEnv) == "1" {
			t.Fatal(msg + "; " + requiredEnv + "=1 forbids skipping")
		}
		t.Skip(msg)
	}
	return dir, node
}

// TestGatewayAnswersAsTheService composes the supergraph from the live
// subgraphs, serves it with Hive Gateway, and requires the gateway's answer
// to every benchmark query (testdata/queries, the queries the load
// benchmark runs) to be the service's own, then queries that cross both
// subgraphs: the service's types with the second subgraph's owners, and the
// second subgraph's reference with the service's fields, which the gateway
// asks the service's _entities for.
func TestGatewayAnswersAsTheService(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	root, err := proc.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir, node := example(t, root)

	service := startService(ctx, t)
	owners := startNode(ctx, t, dir, node, []string{"owners.mjs"}, []string{"PORT=0"}, regexp.MustCompile(`owners subgraph at (http://\S+)`))
	supergraph := filepath.Join(t.TempDir(), "supergraph.graphql")
	compose := exec.CommandContext(ctx, node, "compose.mjs", supergraph, "oppconfig="+service+"/query", "owners="+owners)
	compose.Dir = dir
	compose.Env = append(os.Environ(), "SUBGRAPH_SECRET="+gatewaySecret)
	if out, err := compose.CombinedOutput(); err != nil {
		t.Fatalf("compose: %v\n%s", err, out)
	}
	port := freePort(t)
	gateway := startNode(ctx, t, dir, filepath.Join(dir, "node_modules", ".bin", "hive-gateway"),
		[]string{"supergraph", supergraph, "--host", "127.0.0.1", "--port", port},
		[]string{"SUBGRAPH_SECRET=" + gatewaySecret}, regexp.MustCompile(`Listening on (http://\S+)`))
	gateway += "/graphql"

	queries, err := filepath.Glob(filepath.Join(root, "testdata", "queries", "*.graphql"))
	if err != nil || len(queries) == 0 {
		t.Fatalf("no benchmark queries in testdata/queries (%v)", err)
	}
	for _, path := range queries {
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimSuffix(filepath.Base(path), ".graphql"), func(t *testing.T) {
			direct := data(t, service+"/query", string(doc))
			through := data(t, gateway, string(doc))
			if !reflect.DeepEqual(through, direct) {
				t.Errorf("through the gateway:\n%.2000s\ndirect:\n%.2000s", encode(through), encode(direct))
			}
		})
	}

	t.Run("the service's types, the owners subgraph's owners", func(t *testing.T) {
		type withOwner struct {
			TypeID   int    `json:"typeId"`
			TypeName string `json:"typeName"`
			Owner    string `json:"owner"`
		}
		var through struct{ OpportunityTypes []withOwner }
		decode(t, data(t, gateway, `{ opportunityTypes { typeId typeName owner } }`), &through)
		var direct struct{ OpportunityTypes []withOwner }
		decode(t, data(t, service+"/query", `{ opportunityTypes { typeId typeName } }`), &direct)
		if len(through.OpportunityTypes) == 0 || len(through.OpportunityTypes) != len(direct.OpportunityTypes) {
			t.Fatalf("%d types through the gateway, %d direct", len(through.OpportunityTypes), len(direct.OpportunityTypes))
		}
		for i, got := range through.OpportunityTypes {
			want := direct.OpportunityTypes[i]
			want.Owner = ownerOf(want.TypeID)
			if got != want {
				t.Errorf("type %d: %+v, want %+v", i, got, want)
			}
		}
	})

	t.Run("the owners subgraph's reference, the service's _entities", func(t *testing.T) {
		var direct struct{ OpportunityTypes []struct{ TypeID int } }
		decode(t, data(t, service+"/query", `{ opportunityTypes { typeId } }`), &direct)
		for _, ty := range direct.OpportunityTypes {
			through := data(t, gateway, fmt.Sprintf(`{ ownedType(typeId: %d) { typeId owner typeName stages { id name children { id name } } fields { id name } } }`, ty.TypeID))
			want := data(t, service+"/query", fmt.Sprintf(`{ ownedType: opportunityType(typeId: %d) { typeId typeName stages { id name children { id name } } fields { id name } } }`, ty.TypeID))
			want["ownedType"].(map[string]any)["owner"] = ownerOf(ty.TypeID)
			if !reflect.DeepEqual(through, want) {
				t.Errorf("typeId %d through the gateway:\n%s\nwant:\n%s", ty.TypeID, encode(through), encode(want))
			}
		}
	})
}

// ownerOf is examples/federation/owners.mjs's rule.
func ownerOf(typeID int) string { return "team-" + []string{"north", "south", "east"}[typeID%3] }

// startService builds the service and runs it as a subgraph on a free port,
// with demo data, and returns its base URL; it is stopped when the test ends.
func startService(ctx context.Context, t *testing.T) string {
	t.Helper()
	var logs *testkit.LogBuffer
	// Registered first, so run last: after StartBinary's cleanup has
	// stopped the service, on its whole log.
	t.Cleanup(func() {
		if logs != nil && strings.Contains(logs.String(), gatewaySecret) {
			t.Error("the service logged the gateway's secret")
		}
	})
	p, logs := testkit.StartBinary(ctx, t, []string{"PORT=0", "RATE_LIMIT=0", "LOG_FORMAT=json", "SUBGRAPH_MODE=true", "SUBGRAPH_SECRET=" + gatewaySecret, "SUBGRAPH_CLIENT_HEADER=X-Client-Id"})
	return p.Base
}

// ansi matches terminal colour codes, which the gateway writes even to a pipe.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// startNode runs a Node program in dir (the working directory the gateway
// finds its gateway.config.mjs in) and waits for a line matching ready,
// whose first group is returned (its URL); the program is stopped with
// SIGTERM when the test ends, and its output shown if the test failed.
func startNode(ctx context.Context, t *testing.T, dir, program string, args, env []string, ready *regexp.Regexp) string {
	t.Helper()
	cmd := exec.Command(program, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs bytes.Buffer
	found := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := ansi.ReplaceAllString(sc.Text(), "")
			mu.Lock()
			logs.WriteString(line + "\n")
			mu.Unlock()
			if m := ready.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("%s output:\n%s", filepath.Base(program), logs.String())
			mu.Unlock()
		}
	})
	select {
	case url := <-found:
		return url
	case <-done:
		t.Fatalf("%s exited before it was ready", filepath.Base(program))
	case <-ctx.Done():
		t.Fatalf("%s not ready: %v", filepath.Base(program), ctx.Err())
	}
	return ""
}

// freePort returns a loopback port nothing listens on now (the gateway
// takes its port as a flag).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// data POSTs query to url and returns the answer's data, decoded; it fails
// on an HTTP error or any GraphQL error.
func data(t *testing.T, url, query string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Client-Id", "federation-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data   map[string]any    `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusOK || len(out.Errors) > 0 || out.Data == nil {
		t.Fatalf("POST %s: %d %.1000s (%v)", url, resp.StatusCode, raw, err)
	}
	return out.Data
}

func encode(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// decode converts decoded JSON into v.
func decode(t *testing.T, m map[string]any, v any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
