package tanmarket

import (
	"errors"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

func TestDecodeBoundsStageDepth(t *testing.T) {
	c := &Client{}
	tests := []struct {
		name    string
		depth   int
		wantErr bool
	}{
		{"at the bound", opportunity.MaxStageDepth, false},
		{"one over", opportunity.MaxStageDepth + 1, true},
		{"1 200 levels", 1200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := c.decode(200, nestedChildren(tt.depth), "") // tt.depth stages, one per level
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrBadResponse) {
					t.Fatalf("want ErrBadResponse, got %v", err)
				}
				if v, ok := errors.AsType[*opportunity.Violation](err); !ok || v.Rule != opportunity.RuleStageDepth {
					t.Fatalf("want the %s rule, got %v", opportunity.RuleStageDepth, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(snap.Types()[0].AllStages()); got != tt.depth {
				t.Errorf("stages = %d, want %d", got, tt.depth)
			}
		})
	}
}

func TestDecodeDropsNonObjectChildren(t *testing.T) {
	c := &Client{}
	snap, err := c.decode(200, []byte(`{"code":0,"data":[{"typeId":7,"stages":[{"id":1,"possibility":2147483647,"children":["string",{"id":2},3,null]}]}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	st := snap.Type(7).Stage(1)
	if st == nil || len(st.Children) != 1 || st.Children[0].ID != 2 || st.Possibility != 2147483647 {
		t.Fatalf("got %+v", st)
	}
}

// TestDecodeChecksRules: a configuration that breaks a rule of
// opportunity.Check is KindBadResponse wrapping the Violation, whose rule the
// caller meters; the rules themselves are table-tested in opportunity.
func TestDecodeChecksRules(t *testing.T) {
	c := &Client{}
	tests := []struct {
		name string
		data string
		want opportunity.Rule
	}{
		{"duplicate type id", `[{"typeId":1},{"typeId":1}]`, opportunity.RuleDuplicateTypeID},
		{"duplicate stage id", `[{"typeId":1,"stages":[{"id":5},{"id":5}]}]`, opportunity.RuleDuplicateStageID},
		{"stage below its own id", `[{"typeId":1,"stages":[{"id":5,"children":[{"id":5}]}]}]`, opportunity.RuleStageCycle},
		{"duplicate field id", `[{"typeId":1,"fields":[{"id":9},{"id":9}]}]`, opportunity.RuleDuplicateFieldID},
		{"3 000 000 000", `[{"typeId":3000000000}]`, opportunity.RuleIntRange},
		{"2^53+1", `[{"typeId":1,"stages":[{"id":9007199254740993}]}]`, opportunity.RuleIntRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := c.decode(200, []byte(`{"code":0,"message":"success","data":`+tt.data+`}`), "")
			if snap != nil || err == nil || err.Kind != KindBadResponse || err.Status != 200 {
				t.Fatalf("got snapshot %v, error %v; want a KindBadResponse with HTTP 200", snap != nil, err)
			}
			if v, ok := errors.AsType[*opportunity.Violation](err); !ok || v.Rule != tt.want {
				t.Fatalf("got %v, want the %s rule", err, tt.want)
			}
		})
	}
}
