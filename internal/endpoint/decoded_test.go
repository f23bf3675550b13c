package endpoint

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// TestDecodedBodies: a body decodes once and is then looked up; each lookup
// is the request's own copy; what a request could change (variables,
// extensions) is never shared; the bounds start the map over.
func TestDecodedBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
		kept bool
	}{
		{"query alone", `{"query":"{ a }"}`, true},
		{"with an operation name", `{"query":"query Q { a }","operationName":"Q"}`, true},
		{"empty variables", `{"query":"{ a }","variables":{}}`, true},
		{"empty extensions", `{"query":"{ a }","extensions":{}}`, true},
		{"null variables", `{"query":"{ a }","variables":null}`, true},
		{"variables", `{"query":"query($x: Int) { a(x: $x) }","variables":{"x":1}}`, false},
		{"extensions", `{"query":"{ a }","extensions":{"k":"v"}}`, false},
		{"document id", `{"documentId":"sha256:abc"}`, false},
		{"over 16 KiB", `{"query":"{ a }` + strings.Repeat(" ", maxRawKey) + `"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Endpoint{strict: strictV2(0)}
			first, _, err := e.decodePOST([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			_, kept := e.decoded.get([]byte(tt.body))
			if kept != tt.kept {
				t.Fatalf("kept = %v, want %v", kept, tt.kept)
			}
			again, _, err := e.decodePOST([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			a, b := first[0], again[0]
			if !reflect.DeepEqual(a, b) {
				t.Errorf("decoded again: %#v, first %#v", b, a)
			}
			if a == b {
				t.Error("two requests share one RawParams")
			}
			// A request rewrites its own params (APQ sets Query): the next
			// request of the same body still reads the body's.
			b.Query, b.Headers = "{ changed }", map[string][]string{"X": {"y"}}
			third, _, _ := e.decodePOST([]byte(tt.body))
			if third[0].Query != a.Query || third[0].Headers != nil {
				t.Errorf("a request's change reached the next: %+v", third[0])
			}
		})
	}
}

// TestDecodedBodiesBounds: the map never holds more than its bounds.
func TestDecodedBodiesBounds(t *testing.T) {
	var d decodedBodies
	body := func(i int) []byte { return fmt.Appendf(nil, `{"query":"{ a%d }"}`, i) }
	for i := range maxDecodedBodies + 1 {
		b := body(i)
		d.put(b, &graphql.RawParams{Query: fmt.Sprintf("{ a%d }", i)})
	}
	if len(d.m) != 1 {
		t.Fatalf("%d bodies after %d puts, want 1 (started over)", len(d.m), maxDecodedBodies+1)
	}
	if p, ok := d.get(body(maxDecodedBodies)); !ok || p.Query != fmt.Sprintf("{ a%d }", maxDecodedBodies) {
		t.Errorf("the last body: %+v, %v", p, ok)
	}

	var big decodedBodies
	query := strings.Repeat("x", maxRawKey/2-20)
	n := 0
	for i := 0; big.bytes+maxRawKey <= maxDecodedBytes; i++ {
		b := fmt.Appendf(nil, `{"query":"%s%d"}`, query, i)
		big.put(b, &graphql.RawParams{Query: fmt.Sprintf("%s%d", query, i)})
		n++
	}
	before := len(big.m)
	big.put([]byte(`{"query":"`+query+`-"}`), &graphql.RawParams{Query: query + "-"})
	big.put([]byte(`{"query":"`+query+`+"}`), &graphql.RawParams{Query: query + "+"})
	if big.bytes > maxDecodedBytes || len(big.m) >= before {
		t.Errorf("%d bytes in %d bodies (%d before the last two of %d), want at most %d and a fresh start", big.bytes, len(big.m), before, n+2, maxDecodedBytes)
	}
}
