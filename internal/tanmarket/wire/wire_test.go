package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// everyField is a type with every field set to a value unlike its zero, and
// stages nested three levels deep.
func everyField() wire.Type {
	options := func() []wire.Option {
		return []wire.Option{{ID: 9001, Name: "10万以下"}, {ID: 9002, Name: "10万以上"}}
	}
	leaf := wire.Stage{
		ID: 1111, Name: "回访", Rank: 1, Possibility: 20, Requirement: "记录回访", Remind: true,
		RemindAfterDays: []string{"1"}, Children: []wire.Stage{},
		CustomerFields: []wire.CustomerField{}, RequiredOppTypeFields: []wire.RequiredField{},
	}
	return wire.Type{
		TypeName: "新客户商机", TypeID: 101, DefaultType: true, AllowSkip: true, AllowGoBack: true,
		Stages: []wire.Stage{{
			ID: 11, Name: "初步接洽", Rank: 2, Possibility: 10, Requirement: "确认需求", Remind: true,
			RemindAfterDays: []string{"3", "7"},
			Children: []wire.Stage{{
				ID: 111, Name: "电话沟通", Rank: 1, Possibility: 15, Children: []wire.Stage{leaf},
			}},
			CustomerFields: []wire.CustomerField{{FieldID: 501, Name: "公司名称", Type: 1}},
			RequiredOppTypeFields: []wire.RequiredField{{
				Name: "预算", Required: true, Rank: 2, Type: 5, MaxUnicode: 20, ID: 1002, Options: options(), Scale: 2,
			}},
		}},
		Fields: []wire.Field{{
			ID: 1002, Name: "预算", Required: true, Type: 5, Options: options(), Scale: 2,
			MaxUnicode: 20, MinUnicode: new(2), Pattern: new(`^\d+$`), Rank: 2,
		}},
		AllowInvalidGoBack: true, AllowDeleteOpportunity: true, DeleteOpportunityDate: 30,
	}
}

// decodeTypes decodes a dataset (a JSON array of types) as the client would.
func decodeTypes(t *testing.T, dataset []byte) []wire.Type {
	t.Helper()
	resp, err := wire.Decode(wire.AppendEnvelope(nil, 0, "success", dataset))
	if err != nil {
		t.Fatalf("decode dataset: %v", err)
	}
	return resp.Types
}

// TestRoundTrip: what EncodeTypes and AppendEnvelope write, Decode reads back
// equal, null told from [] and a nil pointer from a pointer to zero.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		give []wire.Type
	}{
		{"no types", []wire.Type{}},
		{"a zero type: every list null", []wire.Type{{}}},
		{"every list empty", []wire.Type{{
			Stages: []wire.Stage{{RemindAfterDays: []string{}, Children: []wire.Stage{},
				CustomerFields: []wire.CustomerField{}, RequiredOppTypeFields: []wire.RequiredField{{Options: []wire.Option{}}}}},
			Fields: []wire.Field{{Options: []wire.Option{}}},
		}}},
		{"every field set", []wire.Type{everyField()}},
		{"pointers to zero values", []wire.Type{{Fields: []wire.Field{{MinUnicode: new(0), Pattern: new("")}}}}},
		{"text to escape", []wire.Type{{
			TypeName: `"quoted" \back\slash/ 	tab` + "\nline\u2028sep 😀",
			Fields:   []wire.Field{{Name: "<b>&amp;</b>", Pattern: new(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)}},
		}}},
		{"large and negative numbers", []wire.Type{{
			TypeID: -1, DeleteOpportunityDate: 1 << 40,
			Stages: []wire.Stage{{ID: -7, Possibility: 12345678901, Rank: -2}},
		}}},
		{"several types, ids repeated", []wire.Type{everyField(), {TypeID: 101, TypeName: "again"}, everyField()}},
		{"the large dataset", decodeTypes(t, simulator.LargeDataset(3, 10, 25))},
		{"the demo dataset", decodeTypes(t, simulator.DemoDataset())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := wire.EncodeTypes(tt.give)
			resp, err := wire.Decode(wire.AppendEnvelope(nil, 0, "success", data))
			if err != nil {
				t.Fatalf("Decode: %v\n%s", err, data)
			}
			if !reflect.DeepEqual(resp.Types, tt.give) {
				t.Errorf("decoded types differ\ngot:  %+v\nwant: %+v", resp.Types, tt.give)
			}
			if !bytes.Equal(resp.Data, data) {
				t.Errorf("Data is not data's bytes\ngot:  %.80s\nwant: %.80s", resp.Data, data)
			}
			if again := wire.EncodeTypes(resp.Types); !bytes.Equal(again, data) {
				t.Errorf("encoding the decoded types spells them differently\ngot:  %.80s\nwant: %.80s", again, data)
			}
		})
	}
}

// TestEncodeSpellsAsTheVendor: the generator's and the demo's bytes are what
// EncodeTypes writes for their types, so the simulator serves the compact,
// unescaped JSON the vendor does, keys in the vendor's order.
func TestEncodeSpellsAsTheVendor(t *testing.T) {
	var demo bytes.Buffer
	if err := json.Compact(&demo, simulator.DemoDataset()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give []byte
	}{
		{"demo dataset, compacted", demo.Bytes()},
		{"large dataset", simulator.LargeDataset(4, 12, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wire.EncodeTypes(decodeTypes(t, tt.give)); !bytes.Equal(got, tt.give) {
				t.Errorf("re-encoded bytes differ\ngot:  %.120s\nwant: %.120s", got, tt.give)
			}
		})
	}
}

// vendorKeys reads the vendor's page's example (testdata/vendor_sample.json,
// copied verbatim) and returns the keys of each kind of object in it, kinds
// named by the list that holds them. It is the page, not this package's
// struct tags, that the served JSON is checked against.
func vendorKeys(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vendor_sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sample map[string]any
	if err := json.Unmarshal(b, &sample); err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{"envelope": slices.Sorted(maps.Keys(sample))}
	walkObjects("data", sample["data"], func(kind string, obj map[string]any) {
		got := slices.Sorted(maps.Keys(obj))
		if prev, ok := keys[kind]; ok && !slices.Equal(prev, got) {
			// The page's nested child omits nothing, so this means a mistyped sample.
			t.Fatalf("the sample's %s objects disagree: %v and %v", kind, prev, got)
		}
		keys[kind] = got
	})
	return keys
}

// walkObjects calls f for every object in the lists under v, the list itself
// being under key. A stage's children are stages, so they are one kind; the
// page's example puts a string among them, which is skipped, not an object.
func walkObjects(key string, v any, f func(kind string, obj map[string]any)) {
	list, ok := v.([]any)
	if !ok {
		return
	}
	kind := key
	if kind == "children" {
		kind = "stages"
	}
	for _, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			continue
		}
		f(kind, obj)
		for k, sub := range obj {
			walkObjects(k, sub, f)
		}
	}
}

// serve asks a simulator serving dataset for the configuration, signed, over
// HTTP, and returns the body it answered with.
func serve(t *testing.T, dataset []byte) []byte {
	t.Helper()
	creds := testkit.Creds()
	recipe := signature.Default()
	srv := httptest.NewServer(simulator.New(simulator.Options{Credentials: creds, Recipe: recipe, Dataset: dataset}))
	defer srv.Close()
	header := http.Header{}
	ts, sign := recipe.Sign(creds, time.Now())
	signature.SetHeaders(header, creds, ts, sign)
	_, body := testkit.DoHeader(t, http.MethodPost, srv.URL+simulator.Path, "", strings.NewReader("{}"), header)
	return []byte(body)
}

// TestServedJSONHasEveryVendorField: every object the simulator serves, of
// every kind on the vendor's page, has exactly the page's keys, none missing
// (a typed decode would not notice) and none added; and so does what
// EncodeTypes writes for a zero value, which checks this package's tags.
func TestServedJSONHasEveryVendorField(t *testing.T) {
	want := vendorKeys(t)
	everyKind := wire.EncodeTypes([]wire.Type{{
		Stages: []wire.Stage{{
			Children:              []wire.Stage{{}},
			CustomerFields:        []wire.CustomerField{{}},
			RequiredOppTypeFields: []wire.RequiredField{{Options: []wire.Option{{}}}},
		}},
		Fields: []wire.Field{{Options: []wire.Option{{}}}},
	}})
	tests := []struct {
		name string
		body []byte
	}{
		{"demo dataset served", serve(t, nil)},
		{"large dataset served", serve(t, simulator.LargeDataset(3, 10, 25))},
		{"EncodeTypes of zero values", wire.AppendEnvelope(nil, 0, "success", everyKind)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body map[string]any
			if err := json.Unmarshal(tt.body, &body); err != nil {
				t.Fatalf("not JSON: %v: %.80s", err, tt.body)
			}
			if got := slices.Sorted(maps.Keys(body)); !slices.Equal(got, want["envelope"]) {
				t.Errorf("envelope keys %v, want %v", got, want["envelope"])
			}
			seen, wrong := map[string]int{"envelope": 1}, map[string]int{}
			walkObjects("data", body["data"], func(kind string, obj map[string]any) {
				seen[kind]++
				if got := slices.Sorted(maps.Keys(obj)); !slices.Equal(got, want[kind]) {
					if wrong[kind]++; wrong[kind] == 1 { // the first of each kind says enough
						t.Errorf("%s keys %v, want the page's %v", kind, got, want[kind])
					}
				}
			})
			// Otherwise a kind the dataset never shows would pass unchecked.
			for kind := range want {
				if seen[kind] == 0 {
					t.Errorf("no %s object was served", kind)
				}
			}
		})
	}
}

// TestDecodeOnePassAgrees checks Decode's one-pass path against the careful
// two-pass decoding it stands in for: the same Response, and the same
// failures, whatever the spelling of the envelope.
func TestDecodeOnePassAgrees(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"demo", string(wire.AppendEnvelope(nil, 0, "success", simulator.DemoDataset()))},
		{"large", string(wire.AppendEnvelope(nil, 0, "success", simulator.LargeDataset(3, 4, 5)))},
		{"spaces around the colon", `{"code":0, "data" :  [{"typeId":1,"typeName":"a"}] }`},
		{"data before code", `{"data":[{"typeId":1}],"code":0,"message":"ok"}`},
		{"names in another case", `{"CODE":0,"Data":[{"TypeId":2}]}`},
		{"data twice: the last counts", `{"code":0,"data":[{"typeId":1}],"data":[{"typeId":2}]}`},
		{"empty list", `{"code":0,"data":[]}`},
		{"null data", `{"code":0,"data":null}`},
		{"no data", `{"code":0}`},
		{"no code", `{"data":[]}`},
		{"refused", `{"code":40001,"message":"sign error","data":null}`},
		{"odd children", `{"code":0,"data":[{"typeId":7,"stages":[{"id":1,"children":["string",{"id":2}]}]}]}`},
		{"not a list", `{"code":0,"data":{"list":[]}}`},
		{"not JSON", `<html>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotErr := wire.Decode([]byte(tt.body))
			want, wantErr := wire.DecodeCarefully([]byte(tt.body))
			if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
				t.Fatalf("error %v, want %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Response differs from the careful decoding's\ngot:  %+v\nwant: %+v", got, want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		want        *wire.Response
		wantProblem string // "" when Decode succeeds
	}{
		{"success", `{"code":0,"message":"success","data":[{"typeId":1}]}`,
			&wire.Response{Types: []wire.Type{{TypeID: 1}}, Data: []byte(`[{"typeId":1}]`)}, ""},
		{"data keeps its bytes, not the space before them", `{"code":0,"data": [ {"typeId":1} ] }`,
			&wire.Response{Types: []wire.Type{{TypeID: 1}}, Data: []byte(`[ {"typeId":1} ]`)}, ""},
		{"a refusal is an answer", `{"code":40004,"message":"签名错误","data":null}`,
			&wire.Response{Code: 40004, Message: "签名错误"}, ""},
		{"a refusal needs no data", `{"code":-1,"message":"down"}`, &wire.Response{Code: -1, Message: "down"}, ""},
		// The page's example ends its recursion with a string; the odd child is
		// dropped and its siblings keep exactly their own fields.
		{"non-object children are dropped", `{"code":0,"data":[{"typeId":7,"stages":[{"id":1,"children":["string",{"id":2,"name":"x"},{"id":3},null,4]}]}]}`,
			&wire.Response{
				Types: []wire.Type{{TypeID: 7, Stages: []wire.Stage{{ID: 1, Children: []wire.Stage{{ID: 2, Name: "x"}, {ID: 3}}}}}},
				Data:  []byte(`[{"typeId":7,"stages":[{"id":1,"children":["string",{"id":2,"name":"x"},{"id":3},null,4]}]}]`),
			}, ""},
		{"not JSON", `<html>`, nil, "response is not the documented JSON"},
		{"cut short", `{"code":0,"data":[`, nil, "response is not the documented JSON"},
		{"no code", `{"message":"ok","data":[]}`, nil, "response has no code"},
		{"null code", `{"code":null,"data":[]}`, nil, "response has no code"},
		{"no data", `{"code":0,"message":"success"}`, nil, "response has no data"},
		{"null data", `{"code":0,"data":null}`, nil, "response has no data"},
		{"data an object", `{"code":0,"data":{"list":[],"total":0}}`, nil, "data is not a list of opportunity types"},
		{"a type is a string", `{"code":0,"data":["string"]}`, nil, "data is not a list of opportunity types"},
		{"a stage is a string", `{"code":0,"data":[{"stages":["string"]}]}`, nil, "data is not a list of opportunity types"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.Decode([]byte(tt.body))
			if tt.wantProblem != "" {
				shape, ok := errors.AsType[*wire.ShapeError](err)
				if !ok || shape.Problem != tt.wantProblem || got != nil {
					t.Fatalf("Decode = %+v, %v; want a *ShapeError %q", got, err, tt.wantProblem)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestShapeError(t *testing.T) {
	cause := errors.New("invalid character '<'")
	tests := []struct {
		name string
		give *wire.ShapeError
		want string
	}{
		{"with a cause", &wire.ShapeError{Problem: "response is not the documented JSON", Err: cause}, "response is not the documented JSON: invalid character '<'"},
		{"without", &wire.ShapeError{Problem: "response has no code"}, "response has no code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.give.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if got := errors.Is(tt.give, cause); got != (tt.give.Err != nil) {
				t.Errorf("errors.Is(err, cause) = %v", got)
			}
		})
	}
}

func TestAppendEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		dst     string
		code    int
		message string
		data    []byte
		want    string
	}{
		{"success", "", 0, "success", []byte(`[]`), `{"code":0,"message":"success","data":[]}`},
		{"nil data is null", "", 40001, "缺少请求头 appId", nil, `{"code":40001,"message":"缺少请求头 appId","data":null}`},
		{"data verbatim, even when not JSON", "", 0, "ok", []byte(` [{"typeId":1}`), `{"code":0,"message":"ok","data": [{"typeId":1}}`},
		{"message quoted, & < > kept", "", 1, `"a" <b> & \`, nil, `{"code":1,"message":"\"a\" <b> & \\","data":null}`},
		{"appends to dst", "prefix:", 0, "", []byte(`[]`), `prefix:{"code":0,"message":"","data":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(wire.AppendEnvelope([]byte(tt.dst), tt.code, tt.message, tt.data)); got != tt.want {
				t.Errorf("AppendEnvelope = %s, want %s", got, tt.want)
			}
		})
	}
}

// The envelope AppendEnvelope writes is the one Envelope reads, with
// encoding/json as much as with Decode.
func TestAppendEnvelopeDecodes(t *testing.T) {
	for _, code := range []int{0, 50001, -3} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var env wire.Envelope
			if err := json.Unmarshal(wire.AppendEnvelope(nil, code, "系统繁忙,请稍后再试", []byte(`[1]`)), &env); err != nil {
				t.Fatal(err)
			}
			if env.Code == nil || *env.Code != code || env.Message != "系统繁忙,请稍后再试" || string(env.Data) != `[1]` {
				t.Errorf("decoded %+v", env)
			}
		})
	}
}
