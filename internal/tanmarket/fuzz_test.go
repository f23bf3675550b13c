package tanmarket

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

// Decoding allocates in proportion to the body. The densest shape measured,
// a stage list of empty objects ("{},{},…"), allocates about 420 bytes per
// input byte: a 3-byte "{}," becomes a 160-byte wire.Stage (times ~3 for the
// decoder's 1.5× slice growth) plus a ~220-byte opportunity.Stage and its
// index entries. Realistic configurations (full.json, the demo dataset) stay
// under 15 bytes per byte. 1 KiB per byte leaves more than 2× headroom over
// the densest shape, so only a superlinear blow-up trips it. The fixed 64 MiB
// is the server's per-request budget (maxAllocPerRequest in internal/server):
// a small body itself allocates a few KiB, so it is slack for the runtime.
const (
	maxDecodeAllocFixed   = 64 << 20 // bytes
	maxDecodeAllocPerByte = 1 << 10  // bytes per input byte
)

// Distinctive credentials and signature, so that a leak into an error's text
// is found by a plain substring search.
var fuzzSecrets = []string{"key-FUZZSECRET-123", "secret-FUZZSECRET-456", "sign-FUZZSECRET-789"}

// FuzzDecode feeds arbitrary bodies to the response decoder: it must never
// panic; it returns either a snapshot whose every list is non-nil and whose
// indexes agree with its tree, or an *Error of KindBadResponse or KindRejected
// that holds no credential; the version is stable; allocation stays linear.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{filepath.Join("wire", "testdata", "vendor_sample.json"), filepath.Join("testdata", "full.json")} {
		b, err := os.ReadFile(name) // both already in the envelope
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2]) // truncated JSON
	}
	f.Add([]byte(`{"code":0,"message":"success","data":` + string(simulator.DemoDataset()) + `}`))
	f.Add([]byte(`{"code":40001,"message":"bad sign sign-FUZZSECRET-789 for key-FUZZSECRET-123"}`))
	f.Add([]byte(`{"code":-1,"message":null,"data":[]}`))
	f.Add([]byte(`{"code":0,"message":"success","data":null}`))
	f.Add([]byte(`{"code":0,"message":"success","data":{}}`))
	f.Add([]byte(`{"code":0,"message":"success"}`))
	f.Add([]byte(`{"message":"no code","data":[]}`))
	f.Add([]byte(`{"code":0,"data":[{"typeId":1,"stages":[{"id":1,"children":["string"]}]}]}`))
	f.Add([]byte(`{"code":0,"data":[{"typeId":1,"stages":[{"id":1,"rank":2},{"id":1,"rank":1,"children":[{"id":2},7,null,{"id":2}]}]},{"typeId":1,"defaultType":true}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	// Deep nesting: 300 and 1 200 levels are refused by opportunity.MaxStageDepth after a
	// linear decode; 4 990 levels once cost 1.8 GiB (each level re-parsed its
	// subtree); 5 000 exceed encoding/json's own nesting limit. None may blow
	// the stack or the allocation bound.
	f.Add(nestedChildren(300))
	f.Add(nestedChildren(1200))
	f.Add(nestedChildren(4990))
	f.Add(nestedChildren(5000))

	c, err := NewClient("http://upstream.invalid", signature.Credentials{
		AppID:     "app-fuzz",
		AppKey:    signature.NewSecret(fuzzSecrets[0]),
		AppSecret: signature.NewSecret(fuzzSecrets[1]),
	}, nil, nil, Options{
		// Only decode is called: no request is sent, so the values only need
		// to pass NewClient's checks.
		AttemptTimeout: time.Second, Budget: time.Second, MaxRetries: new(0),
		BreakerFailures: 1, BreakerCooldown: time.Second, MaxBodyBytes: 1,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		snap, derr := c.decode(200, body, fuzzSecrets[2])
		runtime.ReadMemStats(&after)
		if grew, limit := after.TotalAlloc-before.TotalAlloc, uint64(maxDecodeAllocFixed+maxDecodeAllocPerByte*len(body)); grew > limit {
			t.Fatalf("decoding %d bytes allocated %d MiB, limit %d MiB", len(body), grew>>20, limit>>20)
		}

		if (snap == nil) == (derr == nil) {
			t.Fatalf("decode returned snapshot %v and error %v: want exactly one", snap != nil, derr)
		}
		if derr != nil {
			checkDecodeError(t, derr)
			return
		}
		checkSnapshot(t, snap)
		again, derr := c.decode(200, body, fuzzSecrets[2])
		if derr != nil {
			t.Fatalf("second decode of the same body failed: %v", derr)
		}
		if again.Version() != snap.Version() {
			t.Fatalf("second decode: version %q, first %q", again.Version(), snap.Version())
		}
	})
}

// fuzzing reports whether this run is go test -fuzz rather than a replay of
// the seeds and testdata/fuzz.

// nestedChildren is a one-type envelope whose first stage nests depth levels
// of children, numbered 1 to depth from the top so that only the depth bound
// can refuse it.
func nestedChildren(depth int) []byte {
	var b strings.Builder
	b.WriteString(`{"code":0,"data":[{"typeId":1,"stages":[`)
	for id := 1; id <= depth; id++ {
		fmt.Fprintf(&b, `{"id":%d,"children":[`, id)
	}
	b.WriteString(strings.Repeat(`]}`, depth) + `]}]}`)
	return []byte(b.String())
}

func checkDecodeError(t *testing.T, e *Error) {
	t.Helper()
	switch e.Kind {
	case KindBadResponse:
		if !errors.Is(e, ErrBadResponse) {
			t.Errorf("KindBadResponse error %v does not match ErrBadResponse", e)
		}
	case KindRejected:
		if e.Code == 0 || !errors.Is(e, ErrRejected) {
			t.Errorf("KindRejected error %v: want a non-zero code and ErrRejected", e)
		}
	default:
		t.Errorf("error kind %d, want KindBadResponse or KindRejected: %v", e.Kind, e)
	}
	for _, s := range fuzzSecrets {
		if strings.Contains(e.Error(), s) {
			t.Errorf("error text holds the secret %q: %s", s, e)
		}
	}
}

func checkSnapshot(t *testing.T, snap *opportunity.Snapshot) {
	t.Helper()
	if v := snap.Version(); len(v) != 16 {
		t.Errorf("Version() = %q, want 16 hex digits", v)
	}
	if snap.Types() == nil {
		t.Fatal("Types() is nil")
	}
	var wantDefault *opportunity.Type
	firstType := map[int]*opportunity.Type{}
	for _, typ := range snap.Types() {
		if typ == nil {
			t.Fatal("nil type")
		}
		if _, ok := firstType[typ.TypeID]; !ok {
			firstType[typ.TypeID] = typ
		}
		if typ.DefaultType && wantDefault == nil {
			wantDefault = typ
		}
		checkType(t, snap, typ)
	}
	for id, typ := range firstType {
		if snap.Type(id) != typ {
			t.Errorf("Type(%d) is not the first type with that id", id)
		}
	}
	if snap.Default() != wantDefault {
		t.Error("Default() is not the first type marked default")
	}
}

func checkType(t *testing.T, snap *opportunity.Snapshot, typ *opportunity.Type) {
	t.Helper()
	if typ.Stages == nil || typ.Fields == nil {
		t.Fatalf("type %d: Stages nil %v, Fields nil %v", typ.TypeID, typ.Stages == nil, typ.Fields == nil)
	}
	firstField := map[int]*opportunity.Field{}
	for _, fd := range typ.Fields {
		if fd == nil || fd.Options == nil {
			t.Fatalf("type %d: nil field or nil Options", typ.TypeID)
		}
		checkOptions(t, fd.Options)
		if _, ok := firstField[fd.ID]; !ok {
			firstField[fd.ID] = fd
		}
	}
	for id, fd := range firstField {
		if typ.Field(id) != fd {
			t.Errorf("type %d: Field(%d) is not the first field with that id", typ.TypeID, id)
		}
		if snap.Type(typ.TypeID) == typ && snap.Field(typ.TypeID, id) != fd {
			t.Errorf("Field(%d, %d) is not the type's Field(%d)", typ.TypeID, id, id)
		}
	}

	inTree := checkStages(t, typ, typ.Stages)
	all := typ.AllStages()
	if len(all) != inTree {
		t.Fatalf("type %d: AllStages() has %d stages, the tree %d", typ.TypeID, len(all), inTree)
	}
	firstStage := map[int]*opportunity.Stage{}
	for _, st := range all {
		if _, ok := firstStage[st.ID]; !ok {
			firstStage[st.ID] = st // NewSnapshot: the first occurrence, in AllStages order, wins
		}
		if got := typ.Stage(st.ID); got != firstStage[st.ID] {
			t.Fatalf("type %d: Stage(%d) is not the first stage with that id", typ.TypeID, st.ID)
		}
		if st.OpportunityType() != typ {
			t.Fatalf("stage %d: OpportunityType() is not its type", st.ID)
		}
		path := st.Path()
		if len(path) == 0 || path[len(path)-1] != st || st.Depth() != len(path)-1 {
			t.Fatalf("stage %d: depth %d, path of %d stages not ending in the stage", st.ID, st.Depth(), len(path))
		}
		if (st.Parent() == nil) != (st.Depth() == 0) {
			t.Fatalf("stage %d: depth %d, parent nil %v", st.ID, st.Depth(), st.Parent() == nil)
		}
		if p := st.Parent(); p != nil && (path[len(path)-2] != p || p.Depth() != st.Depth()-1) {
			t.Fatalf("stage %d: path does not go through its parent", st.ID)
		}
	}
}

// checkStages checks every list below stages and that each child's parent is
// the stage that lists it, and counts the stages in the tree.
func checkStages(t *testing.T, typ *opportunity.Type, stages []*opportunity.Stage) int {
	t.Helper()
	n := 0
	for _, st := range stages {
		if st == nil {
			t.Fatalf("type %d: nil stage", typ.TypeID)
		}
		if st.Children == nil || st.CustomerFields == nil || st.RequiredOppTypeFields == nil || st.RemindAfterDays == nil {
			t.Fatalf("stage %d: a nil list: Children %v, CustomerFields %v, RequiredOppTypeFields %v, RemindAfterDays %v",
				st.ID, st.Children == nil, st.CustomerFields == nil, st.RequiredOppTypeFields == nil, st.RemindAfterDays == nil)
		}
		for _, cf := range st.CustomerFields {
			if cf == nil {
				t.Fatalf("stage %d: nil customer field", st.ID)
			}
		}
		for _, r := range st.RequiredOppTypeFields {
			if r == nil || r.Options == nil {
				t.Fatalf("stage %d: nil required field or nil Options", st.ID)
			}
			checkOptions(t, r.Options)
			if r.TypeID() != typ.TypeID {
				t.Fatalf("stage %d: required field %d has TypeID %d, want %d", st.ID, r.ID, r.TypeID(), typ.TypeID)
			}
		}
		for _, ch := range st.Children {
			if ch == nil || ch.Parent() != st {
				t.Fatalf("stage %d: a child is nil or has another parent", st.ID)
			}
		}
		n += 1 + checkStages(t, typ, st.Children)
	}
	return n
}

func checkOptions(t *testing.T, opts []*opportunity.FieldOption) {
	t.Helper()
	for _, o := range opts {
		if o == nil {
			t.Fatal("nil field option")
		}
	}
}
