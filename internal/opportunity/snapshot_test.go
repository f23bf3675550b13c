package opportunity_test

import (
	"slices"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// st builds a stage; the name defaults to its id so duplicates can be told apart.
func st(id, rank int, name string, children ...*opportunity.Stage) *opportunity.Stage {
	return &opportunity.Stage{ID: id, Rank: rank, Name: name, Children: children}
}

func fd(id int, name string) *opportunity.Field {
	return &opportunity.Field{ID: id, Name: name}
}

func stageIDs(stages []*opportunity.Stage) []int {
	ids := make([]int, 0, len(stages))
	for _, s := range stages {
		ids = append(ids, s.ID)
	}
	return ids
}

func typeIDs(types []*opportunity.Type) []int {
	ids := make([]int, 0, len(types))
	for _, t := range types {
		ids = append(ids, t.TypeID)
	}
	return ids
}

func TestSnapshotTypes(t *testing.T) {
	tests := []struct {
		name        string
		give        []*opportunity.Type
		wantOrder   []int
		wantDefault string // TypeName of Default(), "" for nil
		wantFound   map[int]string
		wantMissing []int
	}{
		{
			name:        "nil",
			give:        nil,
			wantOrder:   []int{},
			wantMissing: []int{0, 1},
		},
		{
			name:        "empty",
			give:        []*opportunity.Type{},
			wantOrder:   []int{},
			wantMissing: []int{0},
		},
		{
			name: "upstream order kept, no default",
			give: []*opportunity.Type{
				{TypeID: 30, TypeName: "c"}, {TypeID: 10, TypeName: "a"}, {TypeID: 20, TypeName: "b"},
			},
			wantOrder:   []int{30, 10, 20},
			wantFound:   map[int]string{10: "a", 20: "b", 30: "c"},
			wantMissing: []int{0, 11, -1},
		},
		{
			name: "first default wins",
			give: []*opportunity.Type{
				{TypeID: 1, TypeName: "one"},
				{TypeID: 2, TypeName: "two", DefaultType: true},
				{TypeID: 3, TypeName: "three", DefaultType: true},
			},
			wantOrder:   []int{1, 2, 3},
			wantDefault: "two",
			wantFound:   map[int]string{1: "one", 2: "two", 3: "three"},
			wantMissing: []int{4},
		},
		{
			name: "default first",
			give: []*opportunity.Type{
				{TypeID: 5, TypeName: "five", DefaultType: true},
				{TypeID: 6, TypeName: "six"},
			},
			wantOrder:   []int{5, 6},
			wantDefault: "five",
			wantFound:   map[int]string{5: "five", 6: "six"},
		},
		{
			name: "duplicate type ids: first wins, both listed",
			give: []*opportunity.Type{
				{TypeID: 7, TypeName: "first"},
				{TypeID: 8, TypeName: "other"},
				{TypeID: 7, TypeName: "second"},
			},
			wantOrder: []int{7, 8, 7},
			wantFound: map[int]string{7: "first", 8: "other"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := opportunity.NewSnapshot(tt.give, "v1")
			if got := typeIDs(s.Types()); !slices.Equal(got, tt.wantOrder) {
				t.Errorf("Types() = %v, want %v", got, tt.wantOrder)
			}
			switch d := s.Default(); {
			case tt.wantDefault == "" && d != nil:
				t.Errorf("Default() = %q, want nil", d.TypeName)
			case tt.wantDefault != "" && (d == nil || d.TypeName != tt.wantDefault):
				t.Errorf("Default() = %+v, want %q", d, tt.wantDefault)
			}
			for id, name := range tt.wantFound {
				if got := s.Type(id); got == nil || got.TypeName != name {
					t.Errorf("Type(%d) = %+v, want %q", id, got, name)
				}
			}
			for _, id := range tt.wantMissing {
				if got := s.Type(id); got != nil {
					t.Errorf("Type(%d) = %+v, want nil", id, got)
				}
			}
			if got := s.Version(); got != "v1" {
				t.Errorf("Version() = %q, want v1", got)
			}
		})
	}
}

func TestSnapshotField(t *testing.T) {
	types := []*opportunity.Type{
		{TypeID: 1, Fields: []*opportunity.Field{fd(100, "amount"), fd(101, "source"), fd(100, "amount-dup")}},
		{TypeID: 2, Fields: []*opportunity.Field{fd(100, "other-type-amount")}},
		{TypeID: 3}, // nil fields
		{TypeID: 4, Fields: []*opportunity.Field{}},
	}
	s := opportunity.NewSnapshot(types, "")
	tests := []struct {
		name             string
		typeID, fieldID  int
		want             string // field name, "" for nil
		wantViaTypeField bool   // also check Type(typeID).Field(fieldID)
	}{
		{"found", 1, 101, "source", true},
		{"duplicate field id: first wins", 1, 100, "amount", true},
		{"same field id in other type", 2, 100, "other-type-amount", true},
		{"unknown field", 1, 999, "", true},
		{"unknown type", 99, 100, "", false},
		{"nil fields", 3, 100, "", true},
		{"empty fields", 4, 100, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Field(tt.typeID, tt.fieldID)
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("Field(%d, %d) = %+v, want nil", tt.typeID, tt.fieldID, got)
			case tt.want != "" && (got == nil || got.Name != tt.want):
				t.Errorf("Field(%d, %d) = %+v, want %q", tt.typeID, tt.fieldID, got, tt.want)
			}
			if tt.wantViaTypeField {
				if via := s.Type(tt.typeID).Field(tt.fieldID); via != got {
					t.Errorf("Type(%d).Field(%d) = %p, Snapshot.Field = %p", tt.typeID, tt.fieldID, via, got)
				}
			}
		})
	}
}

// pipeline builds a three-level tree whose upstream order differs from rank order:
//
//	1 (rank 2)
//	  11 (rank 1)
//	  12 (rank 0)
//	    121 (rank 5)
//	    122 (rank 5)   equal rank: upstream order 121, 122 kept
//	    120 (rank 1)
//	2 (rank 1)
//	  21 (rank 0)
//	3 (rank 2)          equal to 1: comes after 1
func pipeline() *opportunity.Type {
	return &opportunity.Type{
		TypeID:   10,
		TypeName: "sales",
		Stages: []*opportunity.Stage{
			st(1, 2, "s1",
				st(11, 1, "s11"),
				st(12, 0, "s12",
					st(121, 5, "s121"),
					st(122, 5, "s122"),
					st(120, 1, "s120"),
				),
			),
			st(2, 1, "s2", st(21, 0, "s21")),
			st(3, 2, "s3"),
		},
	}
}

func TestAllStagesOrder(t *testing.T) {
	tests := []struct {
		name string
		give *opportunity.Type
		want []int
	}{
		{"three levels", pipeline(), []int{2, 21, 1, 12, 120, 121, 122, 11, 3}},
		{"nil stages", &opportunity.Type{TypeID: 1}, []int{}},
		{"empty stages", &opportunity.Type{TypeID: 1, Stages: []*opportunity.Stage{}}, []int{}},
		{"all equal ranks keep upstream order", &opportunity.Type{TypeID: 1, Stages: []*opportunity.Stage{
			st(5, 0, ""), st(3, 0, ""), st(4, 0, ""), st(1, 0, ""), st(2, 0, ""),
		}}, []int{5, 3, 4, 1, 2}},
		{"negative ranks first", &opportunity.Type{TypeID: 1, Stages: []*opportunity.Stage{
			st(1, 0, ""), st(2, -1, ""), st(3, 10, ""), st(4, -5, ""),
		}}, []int{4, 2, 1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream := stageIDs(tt.give.Stages)
			opportunity.NewSnapshot([]*opportunity.Type{tt.give}, "")
			if got := stageIDs(tt.give.AllStages()); !slices.Equal(got, tt.want) {
				t.Errorf("AllStages() = %v, want %v", got, tt.want)
			}
			if got := stageIDs(tt.give.Stages); !slices.Equal(got, upstream) {
				t.Errorf("Stages reordered to %v, upstream was %v", got, upstream)
			}
		})
	}
}

func TestUpstreamChildOrderUntouched(t *testing.T) {
	typ := pipeline()
	opportunity.NewSnapshot([]*opportunity.Type{typ}, "")
	tests := []struct {
		name string
		give int // stage id
		want []int
	}{
		{"top level", 0, []int{1, 2, 3}},
		{"children of 1", 1, []int{11, 12}},
		{"children of 12", 12, []int{121, 122, 120}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			if tt.give == 0 {
				got = stageIDs(typ.Stages)
			} else {
				got = stageIDs(typ.Stage(tt.give).Children)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("upstream order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStageNavigation(t *testing.T) {
	typ := pipeline()
	other := &opportunity.Type{TypeID: 20, Stages: []*opportunity.Stage{st(500, 0, "o")}}
	s := opportunity.NewSnapshot([]*opportunity.Type{typ, other}, "")
	tests := []struct {
		name       string
		typeID     int
		give       int // stage id
		wantName   string
		wantParent int // 0 for none
		wantDepth  int
		wantPath   []int
	}{
		{"top level", 10, 1, "s1", 0, 0, []int{1}},
		{"top level other", 10, 3, "s3", 0, 0, []int{3}},
		{"second level", 10, 12, "s12", 1, 1, []int{1, 12}},
		{"second level under 2", 10, 21, "s21", 2, 1, []int{2, 21}},
		{"third level", 10, 121, "s121", 12, 2, []int{1, 12, 121}},
		{"third level last sibling", 10, 122, "s122", 12, 2, []int{1, 12, 122}},
		{"third level first by rank", 10, 120, "s120", 12, 2, []int{1, 12, 120}},
		{"other type", 20, 500, "o", 0, 0, []int{500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := s.Type(tt.typeID)
			got := owner.Stage(tt.give)
			if got == nil || got.Name != tt.wantName {
				t.Fatalf("Type(%d).Stage(%d) = %+v, want %q", tt.typeID, tt.give, got, tt.wantName)
			}
			switch p := got.Parent(); {
			case tt.wantParent == 0 && p != nil:
				t.Errorf("Parent() = %d, want nil", p.ID)
			case tt.wantParent != 0 && (p == nil || p.ID != tt.wantParent):
				t.Errorf("Parent() = %+v, want %d", p, tt.wantParent)
			}
			if got.Depth() != tt.wantDepth {
				t.Errorf("Depth() = %d, want %d", got.Depth(), tt.wantDepth)
			}
			if ids := stageIDs(got.Path()); !slices.Equal(ids, tt.wantPath) {
				t.Errorf("Path() = %v, want %v", ids, tt.wantPath)
			}
			if got.OpportunityType() != owner {
				t.Errorf("OpportunityType() = %+v, want type %d", got.OpportunityType(), tt.typeID)
			}
		})
	}
}

func TestTypeStageLookup(t *testing.T) {
	typ := pipeline()
	opportunity.NewSnapshot([]*opportunity.Type{typ}, "")
	tests := []struct {
		name string
		give int
		want string // "" for nil
	}{
		{"depth 0", 2, "s2"},
		{"depth 1", 11, "s11"},
		{"depth 2", 120, "s120"},
		{"unknown", 4, ""},
		{"zero", 0, ""},
		{"id of the type", 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := typ.Stage(tt.give)
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("Stage(%d) = %+v, want nil", tt.give, got)
			case tt.want != "" && (got == nil || got.Name != tt.want):
				t.Errorf("Stage(%d) = %+v, want %q", tt.give, got, tt.want)
			}
		})
	}
}

// TestPathsDoNotAlias gives parents many children at several depths: if a child's
// path shared its parent's backing array, later siblings would overwrite the last
// element of earlier ones. Checked after all indexing is done.
func TestPathsDoNotAlias(t *testing.T) {
	wide := func(base int, children ...*opportunity.Stage) *opportunity.Stage {
		var kids []*opportunity.Stage
		for i := range 6 {
			kids = append(kids, st(base+i+1, i, ""))
		}
		kids = append(kids, children...)
		return st(base, 0, "", kids...)
	}
	tests := []struct {
		name string
		give *opportunity.Type
	}{
		{"wide at depth 1", &opportunity.Type{TypeID: 1, Stages: []*opportunity.Stage{wide(10), wide(20)}}},
		{"wide at depths 1-3", &opportunity.Type{TypeID: 1, Stages: []*opportunity.Stage{
			wide(100, wide(200, wide(300)), wide(400)),
		}}},
		{"pipeline", pipeline()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opportunity.NewSnapshot([]*opportunity.Type{tt.give}, "")
			all := tt.give.AllStages()
			if len(all) == 0 {
				t.Fatal("no stages indexed")
			}
			for _, s := range all {
				path := s.Path()
				if len(path) != s.Depth()+1 {
					t.Errorf("stage %d: len(Path()) = %d, want Depth()+1 = %d", s.ID, len(path), s.Depth()+1)
					continue
				}
				if path[len(path)-1] != s {
					t.Errorf("stage %d: Path() ends in %d", s.ID, path[len(path)-1].ID)
				}
				if p := s.Parent(); p != nil && !slices.Equal(path[:len(path)-1], p.Path()) {
					t.Errorf("stage %d: Path() = %v, parent's = %v", s.ID, stageIDs(path), stageIDs(p.Path()))
				}
				if s.Parent() == nil && len(path) != 1 {
					t.Errorf("top stage %d: Path() = %v", s.ID, stageIDs(path))
				}
			}
		})
	}
}

func TestRequiredFieldTypeID(t *testing.T) {
	req := func(id int) *opportunity.RequiredOppTypeField {
		return &opportunity.RequiredOppTypeField{ID: id, Required: true}
	}
	r0, r1, r2, r2b, rOther := req(1), req(2), req(3), req(4), req(1)
	a := &opportunity.Type{TypeID: 77, Stages: []*opportunity.Stage{
		{ID: 1, RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{r0}, Children: []*opportunity.Stage{
			{ID: 2, RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{r1}, Children: []*opportunity.Stage{
				{ID: 3, RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{r2, r2b}},
			}},
		}},
	}}
	b := &opportunity.Type{TypeID: 88, Stages: []*opportunity.Stage{
		{ID: 1, RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{rOther}},
	}}
	opportunity.NewSnapshot([]*opportunity.Type{a, b}, "")
	tests := []struct {
		name string
		give *opportunity.RequiredOppTypeField
		want int
	}{
		{"depth 0", r0, 77},
		{"depth 1", r1, 77},
		{"depth 2", r2, 77},
		{"depth 2 second field", r2b, 77},
		{"other type, same field id", rOther, 88},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.give.TypeID(); got != tt.want {
				t.Errorf("TypeID() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDuplicateStageIDs(t *testing.T) {
	tests := []struct {
		name string
		give []*opportunity.Stage
		id   int
		want string
	}{
		{"siblings, same rank", []*opportunity.Stage{st(1, 0, "first"), st(1, 0, "second")}, 1, "first"},
		{"parent and child", []*opportunity.Stage{st(5, 0, "parent", st(5, 0, "child"))}, 5, "parent"},
		{"top level and deeper in a later branch", []*opportunity.Stage{
			st(1, 0, "a", st(2, 0, "a-child")),
			st(3, 1, "b", st(2, 0, "b-child")),
		}, 2, "a-child"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := &opportunity.Type{TypeID: 1, Stages: tt.give}
			opportunity.NewSnapshot([]*opportunity.Type{typ}, "")
			if got := typ.Stage(tt.id); got == nil || got.Name != tt.want {
				t.Errorf("Stage(%d) = %+v, want %q", tt.id, got, tt.want)
			}
		})
	}
}

func TestEmptyInputs(t *testing.T) {
	tests := []struct {
		name string
		give []*opportunity.Type
	}{
		{"nil types", nil},
		{"type with nil stages and fields", []*opportunity.Type{{TypeID: 1, DefaultType: true}}},
		{"stage with nil children and required fields", []*opportunity.Type{{TypeID: 1, Stages: []*opportunity.Stage{{ID: 9}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := opportunity.NewSnapshot(tt.give, "")
			if got := len(s.Types()); got != len(tt.give) {
				t.Errorf("len(Types()) = %d, want %d", got, len(tt.give))
			}
			if s.Field(1, 1) != nil {
				t.Error("Field(1, 1) != nil")
			}
			for _, typ := range s.Types() {
				if typ.Field(1) != nil || typ.Stage(1) != nil {
					t.Errorf("type %d: Field(1) or Stage(1) found in an empty type", typ.TypeID)
				}
				if got, want := len(typ.AllStages()), len(typ.Stages); got != want {
					t.Errorf("type %d: len(AllStages()) = %d, want %d", typ.TypeID, got, want)
				}
			}
		})
	}
}

// Re-indexing a type (a second snapshot over the same values) must not
// duplicate its stages.
func TestReindexIsIdempotent(t *testing.T) {
	typ := pipeline()
	opportunity.NewSnapshot([]*opportunity.Type{typ}, "a")
	first := stageIDs(typ.AllStages())
	opportunity.NewSnapshot([]*opportunity.Type{typ}, "b")
	tests := []struct {
		name      string
		got, want []int
	}{
		{"AllStages", stageIDs(typ.AllStages()), first},
		{"path of 121", stageIDs(typ.Stage(121).Path()), []int{1, 12, 121}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Equal(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}
