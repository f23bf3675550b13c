package wire

import (
	"bytes"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// EncodeTypes returns types as the endpoint's data: a compact JSON array,
// fields in the vendor's key order, nil lists and pointers as null, and & < >
// left as they are, as the vendor sends them in patterns. Nil types is null.
//
// It cannot fail: the types hold only ints, bools, strings (invalid UTF-8 is
// replaced, as Decode replaces it), pointers and slices of them.
func EncodeTypes(types []Type) []byte {
	return mustMarshal(types)
}

// AppendEnvelope appends to dst a whole body: the envelope with code and
// message, and data as its data, byte for byte; nil data is null. Data is not
// checked, so that a fake upstream can serve any bytes it is given; for a
// well-formed answer, pass what EncodeTypes returns.
func AppendEnvelope(dst []byte, code int, message string, data []byte) []byte {
	// Encoded with data null, then null swapped for data: passed through the
	// encoder, data would be validated and respelled.
	head := bytes.TrimSuffix(mustMarshal(Envelope{Code: &code, Message: message}), []byte("null}"))
	if data == nil {
		data = []byte("null")
	}
	return append(append(append(dst, head...), data...), '}')
}

// mustMarshal encodes v, one of this package's types, with v1 semantics (nil
// slices as null) but & < > unescaped.
func mustMarshal(v any) []byte {
	b, err := jsonv2.Marshal(v, jsonv1.DefaultOptionsV1(), jsontext.EscapeForHTML(false))
	if err != nil {
		panic("wire: encoding cannot fail, but did: " + err.Error())
	}
	return b
}
