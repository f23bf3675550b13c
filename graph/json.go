package graph

import (
	"errors"
	"io"

	"github.com/99designs/gqlgen/graphql"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// MarshalFormJSON writes the JSON scalar: a form schema encoded once per
// snapshot (opportunity.Form), copied out as it is, the bytes internal/fastpath
// writes too.
func MarshalFormJSON(f *opportunity.Form) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if f == nil {
			_, _ = io.WriteString(w, "null")
			return
		}
		_, _ = f.WriteTo(w)
	})
}

// UnmarshalFormJSON refuses the JSON scalar as input: no argument takes one,
// and validation refuses it before this could run.
func UnmarshalFormJSON(any) (*opportunity.Form, error) {
	return nil, errors.New("the JSON scalar is output only")
}
