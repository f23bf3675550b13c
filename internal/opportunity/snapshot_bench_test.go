package opportunity_test

import (
	"encoding/json"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

// decodeTypes reads a wire dataset straight into domain types: their field
// names match the wire's keys but for case, which encoding/json ignores. The
// client's own decoding (internal/tanmarket) is not what is measured here.
func decodeTypes(b testing.TB, data []byte) []*opportunity.Type {
	b.Helper()
	var types []*opportunity.Type
	if err := json.Unmarshal(data, &types); err != nil {
		b.Fatal(err)
	}
	return types
}

// benchDataset is a configuration the benchmarks decode.
type benchDataset struct {
	name string
	data []byte
}

// benchDatasets are the demo configuration and the large tenant (40 types
// × 30 stages × 150 fields).
func benchDatasets() []benchDataset {
	return []benchDataset{
		{"demo", simulator.DemoDataset()},
		{"large", simulator.LargeDataset(40, 30, 150)},
	}
}

// BenchmarkNewSnapshot indexes a fetched configuration: lookup maps, parent
// pointers, depths, paths and the depth-first stage order, once per fetch.
// NewSnapshot re-indexes the same tree idempotently, so one decoded copy
// serves every iteration.
func BenchmarkNewSnapshot(b *testing.B) {
	for _, ds := range benchDatasets() {
		b.Run("dataset="+ds.name, func(b *testing.B) {
			types := decodeTypes(b, ds.data)
			stages := 0
			for _, t := range opportunity.NewSnapshot(types, "v").Types() {
				stages += len(t.AllStages())
			}
			if stages == 0 {
				b.Fatal("no stages indexed")
			}
			b.ReportAllocs()
			for b.Loop() {
				opportunity.NewSnapshot(types, "v")
			}
			b.ReportMetric(float64(stages), "stages/op")
		})
	}
}
