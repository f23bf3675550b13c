package fastpath_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// dataset is a snapshot the byte-identity tests run every query on.
type dataset struct {
	name string
	snap *opportunity.Snapshot
}

// datasets returns the snapshots every case runs on: the simulator's demo
// data and its large tenant, both read by the real signed client as the
// service reads them, and the hand-made edge cases.
func datasets(t testing.TB) []dataset {
	t.Helper()
	return []dataset{
		{"demo", fetch(t, nil)},
		{"edge", edgeSnapshot()},
		{"large", fetch(t, simulator.LargeDataset(40, 30, 150))},
	}
}

// fetch serves data (nil: the demo dataset) from the simulator over HTTP and
// reads it with tanmarket's client, configured with the service's defaults:
// the snapshot is the one the service would hold.
func fetch(t testing.TB, data []byte) *opportunity.Snapshot {
	t.Helper()
	cfg, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	creds, recipe := testkit.Creds(), signature.Default()
	upstream := httptest.NewServer(simulator.New(simulator.Options{Credentials: creds, Recipe: recipe, Dataset: data}))
	defer upstream.Close()
	client, err := tanmarket.NewClient(upstream.URL, creds, recipe, nil, tanmarket.Options{
		AttemptTimeout:  cfg.UpstreamTimeout,
		Budget:          cfg.UpstreamBudget,
		MaxRetries:      &cfg.UpstreamRetries,
		BreakerFailures: cfg.BreakerFailures,
		BreakerCooldown: cfg.BreakerCooldown,
		MaxBodyBytes:    cfg.MaxBodyBytes,
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := client.OpportunityConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func ptr[T any](v T) *T { return &v }

// hostileText holds every byte gqlgen's quoting treats specially and those
// encoding/json would treat otherwise: quotes, backslashes, each C0 control
// (\b and \f included), DEL, <, >, &, U+2028, U+2029, a non-BMP emoji,
// Chinese, and bytes that are not UTF-8.
const hostileText = "q\"uo\\te\x00\x01\b\t\n\v\f\r\x1b\x1f\x7f <b>&amp; \u2028\u2029 😀🇨🇳 商机 \xff\xfe end\\"

// edgeSnapshot is built by hand, as NewSnapshot's callers do: empty and nil
// lists, null minUnicode and pattern, stages out of rank order and three
// levels deep, repeated ids (the first wins), a required field whose
// definition is missing, no default type among the first types, negative and
// extreme numbers, and hostileText everywhere a string goes.
func edgeSnapshot() *opportunity.Snapshot {
	options := []*opportunity.FieldOption{{ID: 1, Name: hostileText}, {ID: -2, Name: ""}, {ID: 3, Name: "选项"}}
	fields := []*opportunity.Field{
		{ID: 7, Name: hostileText, Required: true, Type: 3, Options: options, Scale: 2, MaxUnicode: 1 << 31, MinUnicode: ptr(0), Pattern: ptr(`^\d+"$`), Rank: -1},
		{ID: 8, Name: "", Type: 1, Options: nil, MinUnicode: nil, Pattern: nil},
		{ID: 7, Name: "dup of 7", Options: []*opportunity.FieldOption{}},
		{ID: 9, Name: "空", Options: []*opportunity.FieldOption{}, MinUnicode: ptr(-5), Pattern: ptr("")},
	}
	required := func() []*opportunity.RequiredOppTypeField {
		return []*opportunity.RequiredOppTypeField{
			{Name: hostileText, Required: true, Rank: 2, Type: 3, MaxUnicode: 9, ID: 7, Options: options, Scale: 1},
			{Name: "missing", ID: 404, Options: nil},
		}
	}
	leaf := &opportunity.Stage{ID: 111, Name: "A1a", Rank: 1, RemindAfterDays: []string{hostileText, ""}}
	a1 := &opportunity.Stage{ID: 11, Name: "A1", Rank: 1, Children: []*opportunity.Stage{leaf}, RequiredOppTypeFields: required(),
		CustomerFields: []*opportunity.CustomerField{{FieldID: 1, Name: hostileText, Type: 9}, {FieldID: 2, Name: "电话", Type: 1}}}
	a2 := &opportunity.Stage{ID: 12, Name: "A2", Rank: 1, Children: nil}
	a := &opportunity.Stage{ID: 10, Name: hostileText, Rank: 2, Possibility: 100, Requirement: hostileText, Remind: true,
		RemindAfterDays: []string{"3", "7"}, Children: []*opportunity.Stage{a2, a1}}
	b := &opportunity.Stage{ID: 20, Name: "B", Rank: 1, Possibility: -1, Children: []*opportunity.Stage{}, RemindAfterDays: nil}
	dupStage := &opportunity.Stage{ID: 10, Name: "dup of 10", Rank: 3}
	return opportunity.NewSnapshot([]*opportunity.Type{
		{TypeName: hostileText, TypeID: 1, AllowSkip: true, AllowGoBack: false, Stages: []*opportunity.Stage{a, b, dupStage},
			Fields: fields, AllowInvalidGoBack: true, AllowDeleteOpportunity: true, DeleteOpportunityDate: 30},
		{TypeName: "空类型", TypeID: 2, Stages: nil, Fields: nil},
		{TypeName: "默认", TypeID: 3, DefaultType: true, Stages: []*opportunity.Stage{}, Fields: []*opportunity.Field{}, DeleteOpportunityDate: -2147483648},
		{TypeName: "dup of 1", TypeID: 1, DefaultType: true},
	}, "edge")
}

// brokenSnapshot has what no snapshot the client builds has: nil elements in
// lists of non-null objects. gqlgen answers with errors and nulls propagated
// to the nearest nullable field; the data must still match.
func brokenSnapshot() *opportunity.Snapshot {
	withNilOption := &opportunity.Field{ID: 1, Name: "nil option", Options: []*opportunity.FieldOption{{ID: 1, Name: "ok"}, nil}}
	fine := &opportunity.Field{ID: 2, Name: "fine", Options: []*opportunity.FieldOption{{ID: 2, Name: "ok"}}}
	stage := &opportunity.Stage{ID: 10, Name: "S",
		CustomerFields:        []*opportunity.CustomerField{nil},
		RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{{ID: 1, Name: "r1"}, {ID: 2, Name: "r2"}}}
	return opportunity.NewSnapshot([]*opportunity.Type{
		{TypeName: "broken", TypeID: 1, DefaultType: true, Stages: []*opportunity.Stage{stage}, Fields: []*opportunity.Field{fine, withNilOption}},
		{TypeName: "fine", TypeID: 2, Fields: []*opportunity.Field{fine}},
	}, "broken")
}
