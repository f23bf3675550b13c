package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/gqlgen.go.golden")

// excerpt is testdata/gqlgen.go: parts of gqlgen v0.17.98's graph/generated.go.
func excerpt(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "gqlgen.go"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRewrite rewrites the excerpt to the golden file: each concurrent call
// replaced by its sequential twin, nothing else changed but the marker line.
func TestRewrite(t *testing.T) {
	got, err := Rewrite("gqlgen.go", []byte(excerpt(t)))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "gqlgen.go.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Rewrite differs from %s (go test -update to accept):\n%s", golden, got)
	}
	for _, call := range []string{
		"resolveRootSequentially(innerCtx, out, ec.OperationContext, i,",
		"resolveSequentially(ctx, out, fields, ec.OperationContext, &deferred, i,",
		"ret := marshalSliceSequentially(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {",
	} {
		if !bytes.Contains(got, []byte(call)) {
			t.Errorf("no %s", call)
		}
	}
	if bytes.Contains(got, []byte("Concurrently(")) {
		t.Error("a concurrent call is left")
	}
}

// TestRewriteFailsLoudly: a file whose calls are not the shape gqlgen
// v0.17.98 generates is refused with a message naming what was expected.
func TestRewriteFailsLoudly(t *testing.T) {
	src := excerpt(t)
	replace := func(old, new string) string {
		t.Helper()
		if !strings.Contains(src, old) {
			t.Fatalf("the excerpt has no %q", old)
		}
		return strings.Replace(src, old, new, 1)
	}
	rewritten, err := Rewrite("gqlgen.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give string
		want string // in the error
	}{
		{
			name: "not gqlgen's output",
			give: strings.TrimPrefix(src, generatedHeader),
			want: "not gqlgen's output",
		},
		{
			name: "already rewritten",
			give: string(rewritten),
			want: "already rewritten",
		},
		{
			name: "MarshalSliceConcurrently takes another argument",
			give: replace("graphql.MarshalSliceConcurrently(ctx, len(v), 0, false,", "graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, nil,"),
			want: "graphql.MarshalSliceConcurrently has changed shape: want graphql.MarshalSliceConcurrently(ctx, len(v), workerLimit, omitPanicHandler, func(ctx context.Context, i int) graphql.Marshaler {…})",
		},
		{
			name: "the element callback has another signature",
			give: replace("func(ctx context.Context, i int) graphql.Marshaler {", "func(ctx context.Context, i int, sel ast.SelectionSet) graphql.Marshaler {"),
			want: "graphql.MarshalSliceConcurrently has changed shape",
		},
		{
			name: "lists marshalled some other way",
			give: replace("graphql.MarshalSliceConcurrently(", "graphql.MarshalSliceInParallel("),
			want: "no graphql.MarshalSliceConcurrently call",
		},
		{
			name: "ResolveConcurrently takes another argument",
			give: replace("out.ResolveConcurrently(ec.OperationContext, &deferred, i,", "out.ResolveConcurrently(ec.OperationContext, &deferred, i, field,"),
			want: "out.ResolveConcurrently has changed shape: want out.ResolveConcurrently(ec.OperationContext, &deferred, i, recoverFromPanic, nonNull, func(ctx context.Context) graphql.Marshaler {…})",
		},
		{
			name: "resolver fields scheduled some other way",
			give: replace("out.ResolveConcurrently(", "out.ResolveLater("),
			want: "0 out.ResolveConcurrently calls for 1 resolver fields outside Query",
		},
		{
			name: "a field set dispatched under another context",
			give: replace("\tout.Dispatch(ctx)\n", "\tout.Dispatch(innerCtx)\n"),
			want: "out.ResolveRootConcurrently in _Query does not sit in the object template's shape",
		},
		{
			name: "a root field outside the field loop",
			give: replace("\tout.Dispatch(ctx)\n", "\tout.ResolveRootConcurrently(innerCtx, ec.OperationContext, i, true, true, func(ctx context.Context) graphql.Marshaler { return graphql.Null })\n\tout.Dispatch(ctx)\n"),
			want: "out.ResolveRootConcurrently in _Query does not sit in the object template's shape",
		},
		{
			name: "ResolveRootConcurrently under another context",
			give: replace("out.ResolveRootConcurrently(innerCtx,", "out.ResolveRootConcurrently(ctx,"),
			want: "out.ResolveRootConcurrently has changed shape: want out.ResolveRootConcurrently(innerCtx, ec.OperationContext, i, recoverFromPanic, nonNull, func(ctx context.Context) graphql.Marshaler {…})",
		},
		{
			name: "root fields resolved some other way",
			give: strings.ReplaceAll(src, "out.ResolveRootConcurrently(", "out.ResolveRoot("),
			want: "no out.ResolveRootConcurrently call",
		},
		{
			name: "gqlgen's older Concurrently",
			give: replace("\tout.Dispatch(ctx)\n", "\tout.Concurrently(0, func(context.Context) graphql.Marshaler { return graphql.Null })\n\tout.Dispatch(ctx)\n"),
			want: "out.Concurrently: a concurrent call the rewrite does not know",
		},
		{
			name: "a goroutine started in generated code",
			give: replace("\tout.Dispatch(ctx)\n", "\tgo out.Dispatch(ctx)\n"),
			want: "a go statement in _Query",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Rewrite("gqlgen.go", []byte(tt.give))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Rewrite: %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}

// TestRunLeavesARefusedFileAlone: run writes nothing when it refuses, so
// the file stays as gqlgen wrote it and `go generate` exits non-zero.
func TestRunLeavesARefusedFileAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generated.go")
	give := strings.Replace(excerpt(t), "graphql.MarshalSliceConcurrently(ctx, len(v), 0, false,", "graphql.MarshalSliceConcurrently(ctx, len(v), 0,", 1)
	if err := os.WriteFile(path, []byte(give), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{path}); err == nil || !strings.Contains(err.Error(), "has changed shape") {
		t.Fatalf("run: %v", err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != give {
		t.Fatalf("the refused file was changed (%v)", err)
	}
	if err := run(nil); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("run without a file: %v", err)
	}
}

// federationExcerpt is testdata/federation.go: gqlgen v0.17.98's
// graph/federation.go as it generates it for this schema.
func federationExcerpt(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "federation.go"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRewriteFederation: both goroutines of the federation plugin's code
// are called in place, and nothing else changes but the marker line.
func TestRewriteFederation(t *testing.T) {
	src := federationExcerpt(t)
	got, err := RewriteFederation("federation.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte("go func(")) {
		t.Error("a goroutine is left")
	}
	want := strings.Replace(src, generatedHeader, generatedHeader+FederationMarker+"\n", 1)
	want = strings.ReplaceAll(want, "\tgo func(", "\tfunc(")
	if string(got) != want {
		t.Errorf("RewriteFederation changed more than the go statements and the marker:\n%s", got)
	}
}

// TestRewriteFederationFailsLoudly: federation code of another shape than
// gqlgen v0.17.98's is refused with a message naming what was expected.
func TestRewriteFederationFailsLoudly(t *testing.T) {
	src := federationExcerpt(t)
	replace := func(old, new string) string {
		t.Helper()
		if !strings.Contains(src, old) {
			t.Fatalf("the excerpt has no %q", old)
		}
		return strings.Replace(src, old, new, 1)
	}
	rewritten, err := RewriteFederation("federation.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give string
		want string // in the error
	}{
		{"not gqlgen's output", strings.TrimPrefix(src, generatedHeader), "not gqlgen's output"},
		{"already rewritten", string(rewritten), "already rewritten"},
		{
			name: "a goroutine per group no longer started",
			give: replace("\t\t\tgo func(typeName string, reps []EntityWithIndex) {", "\t\t\tfunc(typeName string, reps []EntityWithIndex) {"),
			want: "0 go statements in __resolve_entities, want 1",
		},
		{
			name: "a goroutine in another function",
			give: replace("\trepsMap := make(map[string][]EntityWithIndex)\n", "\trepsMap := make(map[string][]EntityWithIndex)\n\tgo func() {}()\n"),
			want: "a go statement in buildRepresentationGroups",
		},
		{
			name: "a goroutine without its WaitGroup's Done",
			give: replace("\t\t\t\te.Done()\n", ""),
			want: "the go statement in resolveEntityGroup has changed shape",
		},
		{
			name: "a second goroutine per entity",
			give: replace("\t\te.Wait()\n", "\t\tfor range reps {\n\t\t\tgo func() { e.Done() }()\n\t\t}\n\t\te.Wait()\n"),
			want: "2 go statements in resolveEntityGroup, want 1",
		},
		{
			name: "a concurrent helper",
			give: replace("\t\te.Wait()\n", "\t\tgraphql.ResolveConcurrently(ctx)\n\t\te.Wait()\n"),
			want: "graphql.ResolveConcurrently: a concurrent call the federation rewrite does not know",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RewriteFederation("federation.go", []byte(tt.give))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("RewriteFederation: %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}

// TestRunChecksBothFilesFirst: when the federation file is refused, the
// executor is not written either, so go generate leaves gqlgen's output as
// it is and fails.
func TestRunChecksBothFilesFirst(t *testing.T) {
	dir := t.TempDir()
	gen, fed := filepath.Join(dir, "generated.go"), filepath.Join(dir, "federation.go")
	giveFed := strings.Replace(federationExcerpt(t), "\t\t\t\te.Done()\n", "", 1)
	for path, text := range map[string]string{gen: excerpt(t), fed: giveFed} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := run([]string{"-federation", fed, gen}); err == nil || !strings.Contains(err.Error(), "has changed shape") {
		t.Fatalf("run: %v", err)
	}
	if got, _ := os.ReadFile(gen); string(got) != excerpt(t) {
		t.Error("the executor was rewritten although the federation file was refused")
	}
	if err := run([]string{"-federation", fed}); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("run without the executor: %v", err)
	}
}
