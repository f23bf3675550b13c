package endpoint

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
)

// newDecoder is an endpoint as far as decoding goes, with MAX_JSON_DEPTH
// maxDepth.
func newDecoder(maxDepth int) *Endpoint {
	return &Endpoint{opts: Options{Limits: limits.Limits{MaxJSONDepth: maxDepth}}, strict: strictV2(maxDepth)}
}

// decodeEncodingJSON is how every POST body was decoded before
// decodeCommon: encoding/json alone.
func decodeEncodingJSON(e *Endpoint, body []byte) (*graphql.RawParams, error) {
	var one wireParams
	if err := e.decodeJSON(body, &one, "request body"); err != nil {
		return nil, err
	}
	return one.raw(), nil
}

// commonBodies are request bodies decodeCommon takes, and bodies it must
// hand to encoding/json because v2 would read them otherwise or not at all.
var commonBodies = []struct {
	name   string
	body   string
	common bool // decodeCommon takes it
}{
	{"query", `{"query":"{ opportunityTypes { typeId } }"}`, true},
	{"escapes", `{"query":"query Q {\n\ta(s: \"\\u00e9\\ud83d\\ude00\")\n}","operationName":"Q"}`, true},
	{"every member", `{"query":"q","operationName":"Op","variables":{"id":1001,"big":12345678901234567890,"f":1.50,"s":"x","l":[1,{"a":null}]},"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}},"documentId":"d1"}`, true},
	{"nulls", `{"query":"q","operationName":null,"variables":null,"extensions":null,"documentId":null}`, true},
	{"white space", " \r\n\t{ \"query\" : \"q\" ,\n \"variables\" : { } }\n ", true},
	{"document id only", `{"documentId":"abc"}`, true},
	{"empty object", `{}`, true},
	{"duplicate variables inside", `{"query":"q","variables":{"a":1,"a":2}}`, false},
	{"name in another case", `{"Query":"q"}`, false},
	{"duplicate member", `{"query":"a","query":"b"}`, false},
	{"duplicate variables", `{"query":"q","variables":{"a":1},"variables":{"b":2}}`, false},
	{"unknown member", `{"query":"q","id":"x"}`, false},
	{"invalid UTF-8", "{\"query\":\"a\xffb\"}", false},
	{"lone surrogate", `{"query":"a\ud800b"}`, false},
	{"query not a string", `{"query":1}`, false},
	{"variables not an object", `{"query":"q","variables":[1]}`, false},
	{"variables a string", `{"query":"q","variables":"{}"}`, false},
	{"extensions a number", `{"query":"q","extensions":2}`, false},
	{"trailing data", `{"query":"q"} {"query":"r"}`, false},
	{"truncated", `{"query":"q"`, false},
	{"not an object", `"q"`, false},
	{"null", `null`, true}, // no operation either way: "the request has no query"
	{"as deep as allowed", `{"query":"q","variables":{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`, true},
	{"one level too deep", `{"query":"q","variables":{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`, false},
	{"too deep", `{"query":"q","variables":{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`, false},
}

// TestDecodeCommonAgreesWithEncodingJSON: a body decodeCommon takes is read
// exactly as encoding/json reads it, and one it does not take is left to
// encoding/json, which then answers it as it always has.
func TestDecodeCommonAgreesWithEncodingJSON(t *testing.T) {
	e := newDecoder(32)
	for _, tt := range commonBodies {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := e.decodeCommon([]byte(tt.body))
			if ok != tt.common {
				t.Fatalf("decodeCommon took it: %v, want %v", ok, tt.common)
			}
			want, wantErr := decodeEncodingJSON(e, []byte(tt.body))
			if ok && (wantErr != nil || !reflect.DeepEqual(got, want)) {
				t.Fatalf("decodeCommon = %#v, encoding/json = %#v, %v", got, want, wantErr)
			}
			// Through decodePOST: the same operations, or the same refusal.
			batch, _, err := e.decodePOST([]byte(tt.body))
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("decodePOST error %v, encoding/json's %v", err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(batch[0], want) {
				t.Fatalf("decodePOST = %#v, encoding/json = %#v", batch[0], want)
			}
		})
	}
}

// FuzzDecodeCommon: for any body, decodePOST gives what encoding/json gives,
// the same operation or the same refusal.
func FuzzDecodeCommon(f *testing.F) {
	for _, tt := range commonBodies {
		f.Add([]byte(tt.body))
	}
	// The default bound, and bounds the bodies reach.
	endpoints := []*Endpoint{newDecoder(32), newDecoder(3), newDecoder(2), newDecoder(1), newDecoder(0)}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(bytes.TrimLeft(body, " \t\r\n")) == 0 || bytes.TrimLeft(body, " \t\r\n")[0] == '[' {
			return // empty bodies and batches are not decodeCommon's
		}
		for _, e := range endpoints {
			want, wantErr := decodeEncodingJSON(e, body)
			batch, _, err := e.decodePOST(body)
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("%q, depth %d: decodePOST error %v, encoding/json's %v", body, e.opts.Limits.MaxJSONDepth, err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(batch[0], want) {
				t.Fatalf("%q, depth %d: decodePOST = %#v, encoding/json = %#v", body, e.opts.Limits.MaxJSONDepth, batch[0], want)
			}
		}
	})
}

// BenchmarkDecodePOST is decoding one request body, the load benchmark's
// dropdown query's and one with variables and extensions, by decodePOST
// (decodeCommon) and by encoding/json alone, as before it.
func BenchmarkDecodePOST(b *testing.B) {
	e := newDecoder(32)
	bodies := []struct{ name, body string }{
		{"body=query", `{"query":"{\n  opportunityTypes {\n    typeId\n    typeName\n    isDefault\n  }\n}\n"}`},
		{"body=variables", `{"query":"query Lookup($id: Int!) { opportunityType(typeId: $id) { typeName } }","operationName":"Lookup","variables":{"id":1001},"extensions":{"persistedQuery":{"version":1,"sha256Hash":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}}`},
	}
	for _, tt := range bodies {
		body := []byte(tt.body)
		if _, ok := e.decodeCommon(body); !ok {
			b.Fatalf("%s: not common", tt.name)
		}
		b.Run(tt.name+"/decoder=decodePOST", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := e.decodePOST(body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tt.name+"/decoder=encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeEncodingJSON(e, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
