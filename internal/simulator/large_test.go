package simulator_test

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

func TestLargeDatasetShape(t *testing.T) {
	tests := []struct {
		name                   string
		types, stages, fields  int
		wantChildren, wantDeep bool // some stage has children / grandchildren
	}{
		{"benchmark size", 40, 30, 150, true, true},
		{"small", 3, 5, 7, true, false},
		{"no stages or fields", 2, 0, 0, false, false},
		{"no types", 0, 30, 150, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := simulator.LargeDataset(tt.types, tt.stages, tt.fields)
			if !bytes.Equal(b, simulator.LargeDataset(tt.types, tt.stages, tt.fields)) {
				t.Fatal("two calls with the same arguments gave different bytes")
			}
			var types []wire.Type
			if err := json.Unmarshal(b, &types); err != nil {
				t.Fatalf("not a JSON list of types: %v", err)
			}
			if len(types) != tt.types {
				t.Fatalf("%d types, want %d", len(types), tt.types)
			}
			defaults, children, deep := 0, false, false
			for _, typ := range types {
				if typ.DefaultType {
					defaults++
				}
				fieldName := map[int]string{}
				for _, f := range typ.Fields {
					if _, dup := fieldName[f.ID]; dup {
						t.Errorf("type %d: field id %d repeats", typ.TypeID, f.ID)
					}
					fieldName[f.ID] = f.Name
					for _, o := range f.Options {
						if o.ID > math.MaxInt32 {
							t.Errorf("type %d: option id %d does not fit a GraphQL Int", typ.TypeID, o.ID)
						}
					}
				}
				if len(typ.Fields) != tt.fields {
					t.Errorf("type %d: %d fields, want %d", typ.TypeID, len(typ.Fields), tt.fields)
				}
				stageIDs := map[int]bool{}
				var walk func(stages []wire.Stage, depth int)
				walk = func(stages []wire.Stage, depth int) {
					for i, s := range stages {
						if depth > 2 {
							t.Errorf("type %d: stage %d at depth %d; the full query reads three levels", typ.TypeID, s.ID, depth)
						}
						if s.Rank != i+1 {
							t.Errorf("type %d: stage %d has rank %d among its siblings, want %d", typ.TypeID, s.ID, s.Rank, i+1)
						}
						if stageIDs[s.ID] {
							t.Errorf("type %d: stage id %d repeats", typ.TypeID, s.ID)
						}
						stageIDs[s.ID] = true
						for _, r := range s.RequiredOppTypeFields {
							if name, ok := fieldName[r.ID]; !ok || name != r.Name {
								t.Errorf("type %d: stage %d requires field %d %q, which the type does not have", typ.TypeID, s.ID, r.ID, r.Name)
							}
						}
						children = children || (depth == 0 && len(s.Children) > 0)
						deep = deep || depth == 2
						walk(s.Children, depth+1)
					}
				}
				walk(typ.Stages, 0)
				if len(stageIDs) != tt.stages {
					t.Errorf("type %d: %d stages in all, want %d", typ.TypeID, len(stageIDs), tt.stages)
				}
			}
			if wantDefaults := min(tt.types, 1); defaults != wantDefaults {
				t.Errorf("%d default types, want %d", defaults, wantDefaults)
			}
			if children != tt.wantChildren || deep != tt.wantDeep {
				t.Errorf("children %v, grandchildren %v; want %v, %v", children, deep, tt.wantChildren, tt.wantDeep)
			}
		})
	}
}

// TestLargeDatasetThroughClient serves the benchmark's large dataset and reads
// it with the real signed client: it must fit the body bound the service
// documents (UPSTREAM_MAX_BODY_BYTES's default) and decode into a snapshot
// with every stage indexed.
func TestLargeDatasetThroughClient(t *testing.T) {
	creds := testkit.Creds()
	recipe := signature.Default()
	data := simulator.LargeDataset(40, 30, 150)
	maxBody := documentedMaxBodyBytes(t)
	if int64(len(data)) > maxBody/4 {
		t.Errorf("dataset is %d bytes; keep it well under the documented %d-byte bound", len(data), maxBody)
	}
	srv := httptest.NewServer(simulator.New(simulator.Options{Credentials: creds, Recipe: recipe, Dataset: data}))
	defer srv.Close()
	// Generous timeouts and no retries: a slow run under -race must not pass
	// by a second attempt, nor fail for want of time.
	client, err := tanmarket.NewClient(srv.URL, creds, recipe, srv.Client(), tanmarket.Options{
		AttemptTimeout:  30 * time.Second,
		Budget:          30 * time.Second,
		MaxRetries:      new(0),
		BreakerFailures: 1,
		BreakerCooldown: time.Minute,
		MaxBodyBytes:    maxBody,
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := client.OpportunityConfig(t.Context())
	if err != nil {
		t.Fatalf("OpportunityConfig: %v", err)
	}
	if got := len(snap.Types()); got != 40 {
		t.Fatalf("%d types, want 40", got)
	}
	for _, typ := range snap.Types() {
		if got := len(typ.AllStages()); got != 30 {
			t.Errorf("type %d: %d stages indexed, want 30", typ.TypeID, got)
		}
		if got := len(typ.Fields); got != 150 {
			t.Errorf("type %d: %d fields, want 150", typ.TypeID, got)
		}
	}
	if d := snap.Default(); d == nil || d.TypeID != 1001 {
		t.Errorf("default type %v, want 1001", d)
	}
}

// documentedMaxBodyBytes is UPSTREAM_MAX_BODY_BYTES's default from the one
// table that documents it.
func documentedMaxBodyBytes(t *testing.T) int64 {
	t.Helper()
	for _, v := range config.Variables {
		if v.Name == "UPSTREAM_MAX_BODY_BYTES" {
			n, err := strconv.ParseInt(v.Default, 10, 64)
			if err != nil {
				t.Fatalf("UPSTREAM_MAX_BODY_BYTES default %q: %v", v.Default, err)
			}
			return n
		}
	}
	t.Fatal("config documents no UPSTREAM_MAX_BODY_BYTES")
	return 0
}
