package opportunity_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

// flags are a type's move flags, so table rows read as the vendor's names.
type flags struct{ skip, goBack, invalidGoBack bool }

// movePipeline builds, in shuffled upstream order, a type shaped like the demo's
// 标准销售商机: an open stage 1 with sub-stages 11 and 12 (12 has 121), open
// stages 2 and 3, a WON stage 4 (with sub-stage 41) and a LOST stage 5.
// Its AllStages order is 1 11 12 121 2 3 4 41 5; positions 0 0 0 0 1 2 3 3 4.
func movePipeline(f flags) *opportunity.Type {
	ps := func(s *opportunity.Stage, p int) *opportunity.Stage { s.Possibility = p; return s }
	t := &opportunity.Type{
		TypeID: 1, TypeName: "pipeline",
		AllowSkip: f.skip, AllowGoBack: f.goBack, AllowInvalidGoBack: f.invalidGoBack,
		Stages: []*opportunity.Stage{
			ps(st(5, 50, "lost"), 0),
			ps(st(2, 20, "two"), 30),
			ps(st(1, 10, "one", ps(st(12, 2, "one.b", ps(st(121, 1, "one.b.a"), 10)), 10), ps(st(11, 1, "one.a"), 5)), 10),
			ps(st(4, 40, "won", ps(st(41, 1, "won.a"), 90)), 100),
			ps(st(3, 30, "three"), 50),
		},
	}
	opportunity.NewSnapshot([]*opportunity.Type{t}, "v")
	return t
}

func TestPipelineOrderAndPositions(t *testing.T) {
	typ := movePipeline(flags{})
	wantIDs := []int{1, 11, 12, 121, 2, 3, 4, 41, 5}
	wantPos := []int{0, 0, 0, 0, 1, 2, 3, 3, 4}
	if got := stageIDs(typ.AllStages()); !slices.Equal(got, wantIDs) {
		t.Fatalf("AllStages = %v, want %v", got, wantIDs)
	}
	moves, err := typ.Moves(1)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs, gotPos []int
	for _, m := range moves {
		gotIDs = append(gotIDs, m.To.ID)
		gotPos = append(gotPos, m.To.Position())
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("Moves order = %v, want the AllStages order %v", gotIDs, wantIDs)
	}
	if !slices.Equal(gotPos, wantPos) {
		t.Errorf("positions = %v, want %v", gotPos, wantPos)
	}
}

func TestStageKind(t *testing.T) {
	ps := func(s *opportunity.Stage, p int) *opportunity.Stage { s.Possibility = p; return s }
	tests := []struct {
		name string
		give []*opportunity.Stage
		want map[int]opportunity.StageKind
	}{
		{
			name: "one stage at 0% is the first, so open",
			give: []*opportunity.Stage{ps(st(1, 1, "only"), 0)},
			want: map[int]opportunity.StageKind{1: opportunity.Open},
		},
		{
			name: "one stage at 100% is won",
			give: []*opportunity.Stage{ps(st(1, 1, "only"), 100)},
			want: map[int]opportunity.StageKind{1: opportunity.Won},
		},
		{
			name: "the demo's shape: open, won, lost",
			give: []*opportunity.Stage{ps(st(1, 1, "a"), 10), ps(st(2, 2, "b"), 70), ps(st(3, 3, "won"), 100), ps(st(4, 4, "lost"), 0)},
			want: map[int]opportunity.StageKind{1: opportunity.Open, 2: opportunity.Open, 3: opportunity.Won, 4: opportunity.Lost},
		},
		{
			name: "first by rank, not by upstream order",
			give: []*opportunity.Stage{ps(st(2, 2, "later"), 0), ps(st(1, 1, "first"), 0)},
			want: map[int]opportunity.StageKind{1: opportunity.Open, 2: opportunity.Lost},
		},
		{
			name: "sub-stages take their top-level stage's kind",
			give: []*opportunity.Stage{
				ps(st(1, 1, "open", ps(st(11, 1, "sub at 100"), 100), ps(st(12, 2, "sub at 0"), 0)), 10),
				ps(st(2, 2, "won", ps(st(21, 1, "sub at 50"), 50)), 100),
				ps(st(3, 3, "lost", ps(st(31, 1, "sub at 50"), 50)), 0),
			},
			want: map[int]opportunity.StageKind{
				1: opportunity.Open, 11: opportunity.Open, 12: opportunity.Open,
				2: opportunity.Won, 21: opportunity.Won, 3: opportunity.Lost, 31: opportunity.Lost,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := &opportunity.Type{TypeID: 1, Stages: tt.give}
			opportunity.NewSnapshot([]*opportunity.Type{typ}, "v")
			for id, want := range tt.want {
				if got := typ.Stage(id).Kind(); got != want {
					t.Errorf("stage %d: Kind() = %s, want %s", id, got, want)
				}
			}
		})
	}
}

// ok marks an allowed move in want tables.
const ok = opportunity.MoveRefusal("")

func TestMoves(t *testing.T) {
	const (
		same   = opportunity.SameStage
		skip   = opportunity.SkipNotAllowed
		back   = opportunity.GoBackNotAllowed
		closed = opportunity.ClosedGoBackNotAllowed
	)
	type give struct {
		flags flags
		from  int
	}
	tests := []struct {
		name string
		give give
		want map[int]opportunity.MoveRefusal // every stage id
	}{
		{
			name: "no flags: one step forward, within the stage, nothing back",
			give: give{flags{}, 2},
			want: map[int]opportunity.MoveRefusal{1: back, 11: back, 12: back, 121: back, 2: same, 3: ok, 4: skip, 41: skip, 5: skip},
		},
		{
			name: "a sub-stage moving to its parent and siblings: same position, so allowed without flags",
			give: give{flags{}, 121},
			want: map[int]opportunity.MoveRefusal{1: ok, 11: ok, 12: ok, 121: same, 2: ok, 3: skip, 4: skip, 41: skip, 5: skip},
		},
		{
			name: "a parent moving into its sub-stage",
			give: give{flags{}, 1},
			want: map[int]opportunity.MoveRefusal{1: same, 11: ok, 12: ok, 121: ok, 2: ok, 3: skip, 4: skip, 41: skip, 5: skip},
		},
		{
			name: "allowSkip: every later position",
			give: give{flags{skip: true}, 1},
			want: map[int]opportunity.MoveRefusal{1: same, 11: ok, 12: ok, 121: ok, 2: ok, 3: ok, 4: ok, 41: ok, 5: ok},
		},
		{
			name: "a WON stage with allowGoBack false may only go on to LOST",
			give: give{flags{skip: true, invalidGoBack: true}, 4},
			want: map[int]opportunity.MoveRefusal{1: back, 11: back, 12: back, 121: back, 2: back, 3: back, 4: same, 41: ok, 5: ok},
		},
		{
			name: "a WON stage with allowGoBack true",
			give: give{flags{goBack: true}, 41},
			want: map[int]opportunity.MoveRefusal{1: ok, 11: ok, 12: ok, 121: ok, 2: ok, 3: ok, 4: ok, 41: same, 5: ok},
		},
		{
			name: "leaving LOST backward needs allowInvalidGoBack, whatever allowGoBack says",
			give: give{flags{skip: true, goBack: true}, 5},
			want: map[int]opportunity.MoveRefusal{1: closed, 11: closed, 12: closed, 121: closed, 2: closed, 3: closed, 4: closed, 41: closed, 5: same},
		},
		{
			name: "allowInvalidGoBack alone revives a LOST opportunity (the demo's 续费商机)",
			give: give{flags{invalidGoBack: true}, 5},
			want: map[int]opportunity.MoveRefusal{1: ok, 11: ok, 12: ok, 121: ok, 2: ok, 3: ok, 4: ok, 41: ok, 5: same},
		},
		{
			name: "going back from an open stage with allowGoBack",
			give: give{flags{goBack: true}, 3},
			want: map[int]opportunity.MoveRefusal{1: ok, 11: ok, 12: ok, 121: ok, 2: ok, 3: same, 4: ok, 41: ok, 5: skip},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := movePipeline(tt.give.flags)
			moves, err := typ.Moves(tt.give.from)
			if err != nil {
				t.Fatal(err)
			}
			if len(moves) != len(tt.want) {
				t.Fatalf("%d moves, want %d (every stage once)", len(moves), len(tt.want))
			}
			for _, m := range moves {
				want, listed := tt.want[m.To.ID]
				if !listed {
					t.Fatalf("move to unexpected stage %d", m.To.ID)
				}
				got := ok
				if m.Refusal != nil {
					got = *m.Refusal
				}
				if got != want || m.Allowed != (want == ok) {
					t.Errorf("move %d → %d: allowed %v, refusal %q; want refusal %q", tt.give.from, m.To.ID, m.Allowed, got, want)
				}
			}
		})
	}
}

func TestMovesOneStage(t *testing.T) {
	typ := &opportunity.Type{TypeID: 1, AllowSkip: true, AllowGoBack: true, AllowInvalidGoBack: true, Stages: []*opportunity.Stage{st(7, 1, "only")}}
	opportunity.NewSnapshot([]*opportunity.Type{typ}, "v")
	moves, err := typ.Moves(7)
	if err != nil {
		t.Fatal(err)
	}
	if len(moves) != 1 || moves[0].To.ID != 7 || moves[0].Allowed || moves[0].Refusal == nil || *moves[0].Refusal != opportunity.SameStage {
		t.Errorf("moves of a one-stage type = %+v, want only SAME_STAGE", moves)
	}
}

func TestMovesUnknownStage(t *testing.T) {
	tests := []struct {
		name string
		give int
	}{
		{"absent id", 999},
		{"zero", 0},
		{"another type's stage", 2001},
	}
	typ := movePipeline(flags{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			moves, err := typ.Moves(tt.give)
			if !errors.Is(err, opportunity.ErrStageNotFound) || moves != nil {
				t.Errorf("Moves(%d) = %v, %v; want nil, ErrStageNotFound", tt.give, moves, err)
			}
		})
	}
}

func TestMoveFields(t *testing.T) {
	f101, f102, f103 := fd(101, "name"), fd(102, "amount"), fd(103, "date")
	f101.Required = true
	cust := []*opportunity.CustomerField{{FieldID: 1, Name: "phone", Type: 1}}
	target := st(2, 2, "two")
	target.CustomerFields = cust
	target.RequiredOppTypeFields = []*opportunity.RequiredOppTypeField{
		{ID: 102, Required: true},
		{ID: 999, Required: true},  // no such field: left out
		{ID: 103, Required: false}, // listed, not required
		{ID: 102, Required: true},  // repeated: once
		{ID: 101, Required: true},
	}
	typ := &opportunity.Type{TypeID: 1, Fields: []*opportunity.Field{f101, f102, f103},
		Stages: []*opportunity.Stage{st(1, 1, "one"), target}}
	opportunity.NewSnapshot([]*opportunity.Type{typ}, "v")
	moves, err := typ.Moves(1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		give     opportunity.Move
		wantReq  []int
		wantCust []int
	}{
		{"target with fields", moves[1], []int{102, 101}, []int{1}},
		{"target without fields", moves[0], nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req, cf []int
			for _, f := range tt.give.RequiredFields {
				req = append(req, f.ID)
			}
			for _, c := range tt.give.CustomerFields {
				cf = append(cf, c.FieldID)
			}
			if !slices.Equal(req, tt.wantReq) || !slices.Equal(cf, tt.wantCust) {
				t.Errorf("required %v, customer %v; want %v, %v", req, cf, tt.wantReq, tt.wantCust)
			}
		})
	}
}

// demoTypes decodes the simulator's demo dataset straight into domain types,
// as decodeTypes does for the benchmarks.
func demoTypes(t testing.TB) []*opportunity.Type {
	t.Helper()
	var types []*opportunity.Type
	if err := json.Unmarshal(simulator.DemoDataset(), &types); err != nil {
		t.Fatal(err)
	}
	opportunity.NewSnapshot(types, "demo")
	return types
}

// TestDemoDatasetKinds: the kind rule reads the demo data as its names say.
func TestDemoDatasetKinds(t *testing.T) {
	won := []int{2005, 2105, 2205, 2307}  // 赢单, 签约, 已续费, 中标签约
	lost := []int{2006, 2106, 2206, 2308} // 输单, 报备失效, 流失, 未中标
	for _, typ := range demoTypes(t) {
		t.Run(typ.TypeName, func(t *testing.T) {
			for _, s := range typ.AllStages() {
				want := opportunity.Open
				switch {
				case slices.Contains(won, s.ID):
					want = opportunity.Won
				case slices.Contains(lost, s.ID):
					want = opportunity.Lost
				}
				if got := s.Kind(); got != want {
					t.Errorf("stage %d %s: %s, want %s", s.ID, s.Name, got, want)
				}
			}
		})
	}
}

// TestDemoDatasetMoves: the flags of the demo's types, read through Moves.
func TestDemoDatasetMoves(t *testing.T) {
	byID := map[int]*opportunity.Type{}
	for _, typ := range demoTypes(t) {
		byID[typ.TypeID] = typ
	}
	tests := []struct {
		name     string
		give     [3]int // type, from, to
		want     opportunity.MoveRefusal
		wantReq  []int
		wantCust []int
	}{
		{"标准销售商机: no skipping 需求确定 → 商务谈判", [3]int{1001, 2002, 2004}, opportunity.SkipNotAllowed, []int{109}, nil},
		{"标准销售商机: 商务谈判 → 赢单 needs amount and date", [3]int{1001, 2004, 2005}, ok, []int{102, 103}, nil},
		{"标准销售商机: 上门拜访 → its parent 初步接洽", [3]int{1001, 2014, 2001}, ok, []int{101, 104}, []int{1, 2, 3}},
		{"标准销售商机: 输单 revived to 需求确定", [3]int{1001, 2006, 2002}, ok, []int{106, 107, 110}, []int{4}},
		{"渠道合作商机: 报备失效 cannot go back", [3]int{1002, 2106, 2101}, opportunity.ClosedGoBackNotAllowed, []int{201, 203, 207}, []int{1, 3}},
		{"渠道合作商机: skipping to 签约", [3]int{1002, 2101, 2105}, ok, nil, nil},
		{"续费商机: 续费报价 cannot go back", [3]int{1003, 2203, 2202}, opportunity.GoBackNotAllowed, []int{306}, nil},
		{"续费商机: but 流失 can be revived", [3]int{1003, 2206, 2201}, ok, []int{301, 302}, []int{1, 6}},
		{"续费商机: 已续费 (WON) cannot go back", [3]int{1003, 2205, 2204}, opportunity.GoBackNotAllowed, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			moves, err := byID[tt.give[0]].Moves(tt.give[1])
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(moves, func(m opportunity.Move) bool { return m.To.ID == tt.give[2] })
			if i < 0 {
				t.Fatalf("no move to %d", tt.give[2])
			}
			m := moves[i]
			got := ok
			if m.Refusal != nil {
				got = *m.Refusal
			}
			var req, cf []int
			for _, f := range m.RequiredFields {
				req = append(req, f.ID)
			}
			for _, c := range m.CustomerFields {
				cf = append(cf, c.FieldID)
			}
			if got != tt.want || !slices.Equal(req, tt.wantReq) || !slices.Equal(cf, tt.wantCust) {
				t.Errorf("refusal %q, required %v, customer %v; want %q, %v, %v", got, req, cf, tt.want, tt.wantReq, tt.wantCust)
			}
		})
	}
}
