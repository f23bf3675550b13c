package graph

import (
	"bytes"
	"context"
	"io"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/live"
)

// encodedOnce is how the generated executor marshals a subscription's event
// (internal/tools/gqlgenpost rewrites its event marshaler to call it): the
// first subscriber of a change to ask for a selection encodes the change
// with gqlgen's own marshal, and every other subscriber of the change with
// the same selection writes those bytes. gqlgen would encode the same event
// once per subscriber: 10 000 streams made about 30 MB of garbage per change
// (about 3 KB each) and spent more time encoding than writing.
//
// The selection is the key (selectionKey): gqlgen parses a document once
// (its query cache) and every subscription of that document and operation
// shares its AST. An encoding is shared only when nothing but the change
// and the selection shaped it: no variables (a directive's condition may
// read them), and no error on the way (a subscriber whose context ended
// gets nulls and errors of its own).
func encodedOnce(ctx context.Context, oc *graphql.OperationContext, sel ast.SelectionSet, v *live.Change, marshal func() graphql.Marshaler) graphql.Marshaler {
	if len(sel) == 0 || len(oc.Variables) > 0 {
		return marshal()
	}
	key := selectionKey{first: sel[0], last: sel[len(sel)-1], n: len(sel)}
	return encoded(v.Encoded(key, func() ([]byte, bool) {
		errs := len(graphql.GetErrors(ctx))
		var buf bytes.Buffer
		marshal().MarshalGQL(&buf)
		return buf.Bytes(), ctx.Err() == nil && len(graphql.GetErrors(ctx)) == errs
	}))
}

// encoded is an event's encoding, written as it is.
type encoded []byte

func (e encoded) MarshalGQL(w io.Writer) { _, _ = w.Write(e) }

// selectionKey names a selection set by the AST nodes it holds: gqlgen
// collects an event's selection anew for each subscriber and each event
// (the slice differs), from the nodes of the one parsed document (which
// do not). Within a document and operation the collection is the same each
// time; nodes of two documents are never the same. The key holds the nodes,
// so a document evicted from the query cache cannot have its nodes' memory
// reused by another's while a change keeps the key.
type selectionKey struct {
	first, last ast.Selection
	n           int
}
