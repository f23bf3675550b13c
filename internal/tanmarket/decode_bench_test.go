package tanmarket

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

// wireBody is dataset in the vendor's envelope, compact, as an API sends it.
func wireBody(tb testing.TB, dataset []byte) []byte {
	tb.Helper()
	var data bytes.Buffer
	if err := json.Compact(&data, dataset); err != nil {
		tb.Fatal(err)
	}
	return []byte(`{"code":0,"message":"success","data":` + data.String() + `}`)
}

// BenchmarkDecode is what a refresh costs once the answer has arrived:
// decoding the envelope and the types, the version hash and the indexes.
func BenchmarkDecode(b *testing.B) {
	datasets := []struct {
		name string
		data []byte
	}{
		{"demo", simulator.DemoDataset()},
		{"large", simulator.LargeDataset(40, 30, 150)},
	}
	c := &Client{}
	for _, ds := range datasets {
		b.Run("dataset="+ds.name, func(b *testing.B) {
			body := wireBody(b, ds.data)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(200, body, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeOnePassAgrees checks the one-pass decoding against the careful
// two-pass one it stands in for: same types, same version, and the same
// failures, whatever the spelling of the envelope.
func TestDecodeOnePassAgrees(t *testing.T) {
	demo := wireBody(t, simulator.DemoDataset())
	tests := []struct {
		name string
		body string
	}{
		{"demo", string(demo)},
		{"demo indented", string(simulator.DemoDataset())},
		{"large", string(wireBody(t, simulator.LargeDataset(3, 4, 5)))},
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
	c := &Client{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotErr := c.decode(200, []byte(tt.body), "")
			want, wantErr := c.decodeCarefully(200, []byte(tt.body), "")
			if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
				t.Fatalf("error %v, want %v", gotErr, wantErr)
			}
			if gotErr != nil {
				return
			}
			if got.Version() != want.Version() {
				t.Errorf("version %s, want %s", got.Version(), want.Version())
			}
			if !reflect.DeepEqual(got.Types(), want.Types()) {
				t.Errorf("types differ from the careful decoding's")
			}
		})
	}
}
