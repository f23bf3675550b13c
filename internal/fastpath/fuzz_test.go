package fastpath_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/oppconfig/oppconfig-graphql/internal/fastpath"
	"github.com/oppconfig/oppconfig-graphql/internal/fastpath/opgen"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

// fuzzListWeight and fuzzComplexity keep opgen's operations small enough to
// execute in milliseconds (opgen.Options): lists count 30 times their
// children (allStages' share of a large configuration), up to 300 000.
const (
	fuzzListWeight = 30
	fuzzComplexity = 300000
)

// FuzzFastPathMatchesGqlgen turns each input into a valid operation within
// the service's default limits (internal/fastpath/opgen): the fast path must
// plan it (ErrUnsupported fails: opgen generates only what the service
// answers by its fast path) and answer byte for byte the data gqlgen's
// executor answers, on the demo dataset always, and for some inputs also on
// a small generated tenant and on the hand-made edge snapshot.
//
// It compares what gqlgenData and fastData compare, through the same
// reference (one, built once: a fuzz run executes thousands of inputs), but
// fails where fastData would skip an unsupported operation.
func FuzzFastPathMatchesGqlgen(f *testing.F) {
	for _, in := range fuzzSeeds() {
		f.Add(in)
	}
	l := defaultLimits(f)
	ref := newReference(f, l)
	all := []dataset{
		{"demo", fetch(f, nil)},
		// Small, so that one run stays in milliseconds: 3 types of 12
		// stages (three levels deep) and 8 fields.
		{"large", fetch(f, simulator.LargeDataset(3, 12, 8))},
		{"edge", edgeSnapshot()},
	}
	ids, anyIDs := fuzzIDs(all)
	gen, err := opgen.New(ref.schema, opgen.Options{
		Limits:                l,
		MaxComplexity:         fuzzComplexity,
		ListWeight:            fuzzListWeight,
		Ints:                  ids,
		DefaultInts:           anyIDs,
		MaxConditionVariables: fastpath.MaxConditions,
		// Nulls where a default lets a nullable variable stand for a
		// non-null argument or condition: gqlgen answers errors (and
		// recovers a panic for a condition), with data the fast path must
		// match too.
		NullVariables: true,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		o := gen.Generate(opgen.NewSource(in))
		plan, vars, ok := ref.plan(t, o.Query, o.OperationName, o.Variables)
		if !ok {
			t.Fatalf("gqlgen refuses the generated operation (an opgen bug)\n%s", describe(o))
		}
		if plan == nil {
			t.Fatalf("%v\n%s", compileError(t, ref, o), describe(o))
		}
		for _, d := range fuzzDatasets(in, all) {
			resp := ref.response(t, d.snap, o.Query, o.OperationName, o.Variables)
			if resp.Data == nil {
				t.Fatalf("%s: gqlgen answered no data: %v\n%s", d.name, resp.Errors, describe(o))
			}
			if got, deferred := execute(t, plan, d.snap, vars); !sameAnswer(resp, got, deferred) {
				t.Fatalf("%s: the fast path's data is not gqlgen's\n%s\n%s\ngqlgen errors: %v\ngqlgen:   %s\nfastpath: %s",
					d.name, describe(o), difference(resp.Data, got), resp.Errors, resp.Data, got)
			}
		}
	})
}

// fuzzDatasets picks the snapshots an input runs on: the demo dataset
// always; by the input's length, which the minimiser keeps when a failure
// needs it, the other two for half and a third of the inputs.
func fuzzDatasets(in []byte, all []dataset) []dataset {
	out := all[:1]
	if len(in)%2 == 1 {
		out = append(out, all[1])
	}
	if len(in)%3 == 2 {
		out = append(out, all[2])
	}
	return out
}

// fuzzIDs lists, per argument coordinate, the ids the snapshots have and
// some no snapshot has; anyIDs are all of them, for Int arguments added
// later.
func fuzzIDs(all []dataset) (ids map[string][]int, anyIDs []int) {
	absent := []int{0, -1, 999999, 2147483647}
	types, stages, fields := slices.Clone(absent), slices.Clone(absent), slices.Clone(absent)
	for _, d := range all {
		for _, t := range d.snap.Types() {
			types = append(types, t.TypeID)
			for _, s := range t.AllStages() {
				stages = append(stages, s.ID)
			}
			for _, f := range t.Fields {
				fields = append(fields, f.ID)
			}
		}
	}
	sorted := func(ids []int) []int {
		slices.Sort(ids)
		return slices.Compact(ids)
	}
	return map[string][]int{
		"Query.opportunityType(typeId:)": sorted(types),
		"OpportunityType.stage(id:)":     sorted(stages),
		"OpportunityType.field(id:)":     sorted(fields),
		// The rules' arguments: mostly misses on a type that is not the
		// stage's, which gqlgen answers (ErrNeedsReference); hits where
		// the ids meet.
		"OpportunityType.moves(from:)":         sorted(stages),
		"OpportunityType.formSchema(stageId:)": sorted(stages),
		"Query.validateOpportunity(typeId:)":   sorted(types),
		"Query.validateOpportunity(stageId:)":  sorted(stages),
		"FieldValueInput.fieldId":              sorted(fields),
	}, sorted(slices.Concat(types, stages, fields))
}

// compileError returns why Compile did not plan o.
func compileError(t *testing.T, ref *reference, o opgen.Operation) error {
	t.Helper()
	rc, errs := ref.exec.CreateOperationContext(graphql.StartOperationTrace(context.Background()), &graphql.RawParams{
		Query: o.Query, OperationName: o.OperationName, Variables: o.Variables,
	})
	if errs != nil {
		return errs
	}
	_, err := fastpath.Compile(ref.schema, rc.Doc, rc.OperationName)
	return err
}

// describe shows an operation as a request would send it.
func describe(o opgen.Operation) string {
	vars, _ := json.Marshal(o.Variables)
	return fmt.Sprintf("operation %q\nquery:\n%s\nvariables: %s", o.OperationName, o.Query, vars)
}

// fuzzSeeds are varied inputs: empty and constant ones (the smallest
// operations), and pseudo-random ones of lengths up to 3 000 bytes (the
// largest operations take a few thousand choices).
func fuzzSeeds() [][]byte {
	seeds := [][]byte{
		nil,
		make([]byte, 64),
		bytes.Repeat([]byte{0xff}, 64),
		bytes.Repeat([]byte{0x80}, 300),
		bytes.Repeat([]byte{7, 3, 250, 13, 15, 9}, 100),
		append(make([]byte, 13), 7, 0, 2), // two root fields
	}
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 32 {
		b := make([]byte, 8+i*i*3)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		seeds = append(seeds, b)
	}
	return seeds
}
