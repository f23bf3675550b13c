package opportunity_test

import (
	"strconv"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

// BenchmarkNewValidator builds the rules once per fetched configuration:
// patterns compiled (once per distinct text), a form schema per type and per
// stage. The large tenant is 40 types × 30 stages × 150 fields.
func BenchmarkNewValidator(b *testing.B) {
	for _, ds := range benchDatasets() {
		b.Run("dataset="+ds.name, func(b *testing.B) {
			snap := opportunity.NewSnapshot(decodeTypes(b, ds.data), "v")
			b.ReportAllocs()
			for b.Loop() {
				opportunity.NewValidator(snap)
			}
		})
	}
}

// BenchmarkValidate checks one value per field of the demo's first type
// against its last stage: the per-request cost.
func BenchmarkValidate(b *testing.B) {
	snap := opportunity.NewSnapshot(decodeTypes(b, simulator.DemoDataset()), "v")
	v, _ := opportunity.NewValidator(snap)
	typ := snap.Types()[0]
	var values []opportunity.FieldValue
	for _, f := range typ.Fields {
		s := "12"
		if len(f.Options) > 0 {
			s = strconv.Itoa(f.Options[0].ID)
		}
		values = append(values, opportunity.FieldValue{FieldID: f.ID, Value: &s})
	}
	last := typ.AllStages()[len(typ.AllStages())-1].ID
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(typ.TypeID, &last, values); err != nil {
			b.Fatal(err)
		}
	}
}
