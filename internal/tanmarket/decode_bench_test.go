package tanmarket

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
)

// wireBody is dataset in the vendor's envelope, compact, as an API sends it.
func wireBody(tb testing.TB, dataset []byte) []byte {
	tb.Helper()
	var data bytes.Buffer
	if err := json.Compact(&data, dataset); err != nil {
		tb.Fatal(err)
	}
	return wire.AppendEnvelope(nil, 0, "success", data.Bytes())
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
