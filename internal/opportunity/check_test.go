package opportunity_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

func TestCheck(t *testing.T) {
	// chain nests n stages, one per level, with ids 1..n.
	chain := func(n int) []*opportunity.Stage {
		var top *opportunity.Stage
		for id := n; id >= 1; id-- {
			s := st(id, 1, "")
			if top != nil {
				s.Children = []*opportunity.Stage{top}
			}
			top = s
		}
		return []*opportunity.Stage{top}
	}
	// cyclic is a stage that is its own grandchild: a pointer cycle, which
	// JSON cannot make but Go can.
	cyclic := func() []*opportunity.Stage {
		a := st(1, 1, "a")
		a.Children = []*opportunity.Stage{st(2, 1, "b", a)}
		return []*opportunity.Stage{a}
	}
	const big = math.MaxInt32 + 1
	tests := []struct {
		name      string
		give      []*opportunity.Type
		wantRule  opportunity.Rule // "" for no violation
		wantWhere string
	}{
		{name: "nil", give: nil},
		{name: "empty is not Check's to refuse", give: []*opportunity.Type{}},
		{
			name: "distinct ids, stage and field ids repeated across types",
			give: []*opportunity.Type{
				{TypeID: 1, Stages: []*opportunity.Stage{st(10, 1, "", st(11, 1, "")), st(20, 2, "")}, Fields: []*opportunity.Field{fd(100, ""), fd(101, "")}},
				{TypeID: 2, Stages: []*opportunity.Stage{st(10, 1, "")}, Fields: []*opportunity.Field{fd(100, "")}},
			},
		},
		{
			name: "the bounds of Int",
			give: []*opportunity.Type{{TypeID: math.MaxInt32, DeleteOpportunityDate: math.MinInt32,
				Stages: []*opportunity.Stage{{ID: math.MinInt32, Rank: math.MaxInt32, Possibility: math.MinInt32}}}},
		},
		{name: "stages at the depth bound", give: []*opportunity.Type{{TypeID: 1, Stages: chain(opportunity.MaxStageDepth)}}},
		{
			name: "duplicate type id", wantRule: opportunity.RuleDuplicateTypeID, wantWhere: "type 7",
			give: []*opportunity.Type{{TypeID: 7}, {TypeID: 8}, {TypeID: 7}},
		},
		{
			name: "duplicate field id within a type", wantRule: opportunity.RuleDuplicateFieldID, wantWhere: "type 1, field 100",
			give: []*opportunity.Type{{TypeID: 1, Fields: []*opportunity.Field{fd(100, "a"), fd(101, "b"), fd(100, "c")}}},
		},
		{
			name: "duplicate sibling stage id", wantRule: opportunity.RuleDuplicateStageID, wantWhere: "type 1, stage 10",
			give: []*opportunity.Type{{TypeID: 1, Stages: []*opportunity.Stage{st(10, 1, "a"), st(10, 2, "b")}}},
		},
		{
			name: "stage id repeated in another branch", wantRule: opportunity.RuleDuplicateStageID, wantWhere: "type 1, stage 20 > 11",
			give: []*opportunity.Type{{TypeID: 1, Stages: []*opportunity.Stage{
				st(10, 1, "", st(11, 1, "")),
				st(20, 2, "", st(11, 1, "")),
			}}},
		},
		{
			name: "stage repeating its ancestor's id", wantRule: opportunity.RuleStageCycle, wantWhere: "type 1, stage 10 > 11 > 10",
			give: []*opportunity.Type{{TypeID: 1, Stages: []*opportunity.Stage{st(10, 1, "", st(11, 1, "", st(10, 1, "")))}}},
		},
		{
			name: "a pointer cycle ends", wantRule: opportunity.RuleStageCycle, wantWhere: "type 1, stage 1 > 2 > 1",
			give: []*opportunity.Type{{TypeID: 1, Stages: cyclic()}},
		},
		{
			name: "one level too deep", wantRule: opportunity.RuleStageDepth,
			give: []*opportunity.Type{{TypeID: 1, Stages: chain(opportunity.MaxStageDepth + 1)}},
		},
		{
			name: "type id over Int", wantRule: opportunity.RuleIntRange, wantWhere: "type 2147483648",
			give: []*opportunity.Type{{TypeID: big}},
		},
		{
			name: "type number under Int", wantRule: opportunity.RuleIntRange, wantWhere: "type 1",
			give: []*opportunity.Type{{TypeID: 1, DeleteOpportunityDate: math.MinInt32 - 1}},
		},
		{
			name: "stage possibility 3 000 000 000", wantRule: opportunity.RuleIntRange, wantWhere: "type 1, stage 10 > 11",
			give: []*opportunity.Type{{TypeID: 1, Stages: []*opportunity.Stage{st(10, 1, "", &opportunity.Stage{ID: 11, Possibility: 3_000_000_000})}}},
		},
		{
			name: "stage rank 2^53+1", wantRule: opportunity.RuleIntRange, wantWhere: "type 1, stage 10",
			give: []*opportunity.Type{{TypeID: 1, Stages: []*opportunity.Stage{st(10, 1<<53+1, "")}}},
		},
		{
			name: "customer field type", wantRule: opportunity.RuleIntRange, wantWhere: "type 1, stage 10, customer field 5",
			give: []*opportunity.Type{{TypeID: 1, Stages: []*opportunity.Stage{{ID: 10, CustomerFields: []*opportunity.CustomerField{{FieldID: 5, Type: big}}}}}},
		},
		{
			name: "required field option id", wantRule: opportunity.RuleIntRange, wantWhere: "type 1, stage 10, required field 100, option 2147483648",
			give: []*opportunity.Type{{TypeID: 1, Stages: []*opportunity.Stage{{ID: 10, RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{
				{ID: 100, Options: []*opportunity.FieldOption{{ID: 1}, {ID: big}}},
			}}}}},
		},
		{
			name: "required field maxUnicode", wantRule: opportunity.RuleIntRange, wantWhere: "type 1, stage 10, required field 100",
			give: []*opportunity.Type{{TypeID: 1, Stages: []*opportunity.Stage{{ID: 10, RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{{ID: 100, MaxUnicode: big}}}}}},
		},
		{
			name: "field minUnicode", wantRule: opportunity.RuleIntRange, wantWhere: "type 1, field 100",
			give: []*opportunity.Type{{TypeID: 1, Fields: []*opportunity.Field{{ID: 100, MinUnicode: new(big)}}}},
		},
		{
			name: "field option id", wantRule: opportunity.RuleIntRange, wantWhere: "type 1, field 100, option -2147483649",
			give: []*opportunity.Type{{TypeID: 1, Fields: []*opportunity.Field{{ID: 100, Options: []*opportunity.FieldOption{{ID: math.MinInt32 - 1}}}}}},
		},
		{
			name: "field id", wantRule: opportunity.RuleIntRange, wantWhere: "type 1, field 2147483648",
			give: []*opportunity.Type{{TypeID: 1, Fields: []*opportunity.Field{{ID: big}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := opportunity.Check(tt.give)
			if tt.wantRule == "" {
				if err != nil {
					t.Fatalf("Check: %v, want nil", err)
				}
				return
			}
			var v *opportunity.Violation
			if !errors.As(err, &v) {
				t.Fatalf("Check: %v, want a *Violation", err)
			}
			if v.Rule != tt.wantRule {
				t.Errorf("rule %q, want %q (%v)", v.Rule, tt.wantRule, err)
			}
			if tt.wantWhere != "" && v.Where != tt.wantWhere {
				t.Errorf("where %q, want %q (%v)", v.Where, tt.wantWhere, err)
			}
			if !slices.Contains(opportunity.Rules(), v.Rule) {
				t.Errorf("rule %q is not listed by Rules", v.Rule)
			}
		})
	}
}

// BenchmarkCheck judges a fetched configuration, once per fetch that brings
// new bytes, beside BenchmarkNewSnapshot's indexing of it.
func BenchmarkCheck(b *testing.B) {
	for _, ds := range []struct {
		name string
		data []byte
	}{
		{"demo", simulator.DemoDataset()},
		{"large", simulator.LargeDataset(40, 30, 150)},
	} {
		b.Run("dataset="+ds.name, func(b *testing.B) {
			types := decodeTypes(b, ds.data)
			b.ReportAllocs()
			for b.Loop() {
				if err := opportunity.Check(types); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
