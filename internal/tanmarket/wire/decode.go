package wire

import (
	"bytes"
	"encoding/json"
	"errors"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Response is one answer of the endpoint, decoded.
type Response struct {
	// Code is the envelope's code: 0 for success, anything else a refusal.
	Code int
	// Message is the envelope's message as the upstream wrote it; set only
	// when Code is not 0, as on success it says nothing. It may echo a
	// request header, credentials included: scrub it before showing it.
	Message string
	// Types is data decoded; set only when Code is 0.
	Types []Type
	// Data is data's bytes as they lie in the body, without the whitespace
	// before them; set only when Code is 0. They change exactly when the
	// configuration does, so a hash of them versions it.
	Data []byte
}

// ShapeError is how a body fails to be the documented shape. Every error
// Decode returns is one.
type ShapeError struct {
	// Problem says what is wrong, e.g. "response has no code". It never holds
	// the body's text, so it is safe to show.
	Problem string
	// Err is the JSON decoder's error, when there is one.
	Err error
}

// Error returns the problem, and the decoder's error after it when there is one.
func (e *ShapeError) Error() string {
	if e.Err != nil {
		return e.Problem + ": " + e.Err.Error()
	}
	return e.Problem
}

// Unwrap returns the JSON decoder's error, or nil.
func (e *ShapeError) Unwrap() error { return e.Err }

// Decode reads a body of the endpoint. A refusal (a non-zero code) is an
// answer, not an error: the Response holds its code and message. A body that
// is not JSON, has no code, or on success has no data or data that is not a
// list of types, is a *ShapeError.
//
// Decode uses the v1 semantics of encoding/json (case-insensitive names,
// duplicates allowed and the last one kept, invalid UTF-8 replaced) but the
// faster engine of its v2 (go-json-experiment, what Go's GOEXPERIMENT=jsonv2
// builds in): a refresh decodes the whole configuration, and every request
// that waits for a refresh pays for it.
//
// A well-formed success is decoded in one pass, data straight into Types;
// anything else, a refusal or an odd shape, is decoded again the slower,
// careful way, which drops the non-object children of the page's own example.
func Decode(body []byte) (*Response, error) {
	env := directEnvelope{Data: directData{body: body}}
	if err := jsonv1.Unmarshal(body, &env); err == nil && env.Code != nil && *env.Code == 0 && env.Data.ok() {
		return &Response{Types: env.Data.types, Data: env.Data.raw}, nil
	}
	return decodeCarefully(body)
}

// decodeCarefully decodes the envelope first, keeping data raw, so that a
// refusal is reported by its code and message, and data that is not quite
// the documented shape can be repaired.
func decodeCarefully(body []byte) (*Response, error) {
	var env Envelope
	if err := jsonv1.Unmarshal(body, &env); err != nil {
		return nil, &ShapeError{Problem: "response is not the documented JSON", Err: err}
	}
	if env.Code == nil {
		return nil, &ShapeError{Problem: "response has no code"}
	}
	if *env.Code != 0 {
		return &Response{Code: *env.Code, Message: env.Message}, nil
	}
	if len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) {
		return nil, &ShapeError{Problem: "response has no data"}
	}
	var types []Type
	if err := jsonv1.Unmarshal(env.Data, &types); err != nil {
		// The vendor's own documented sample ends its recursion with
		// "children": ["string"]; one odd entry must not discard the whole
		// configuration, so such entries are dropped and decoding retried.
		// Only a response that failed the strict decode pays for this.
		var typeErr *jsonv1.UnmarshalTypeError
		cleaned, cleanErr := dropNonObjectChildren(env.Data)
		// Into a fresh slice: v1 semantics reuse the elements the failed
		// decode left behind and merge into them, so a stage would keep the
		// fields of the sibling it was decoded over.
		types = nil
		if !errors.As(err, &typeErr) || cleanErr != nil || jsonv1.Unmarshal(cleaned, &types) != nil {
			return nil, &ShapeError{Problem: "data is not a list of opportunity types", Err: err}
		}
	}
	return &Response{Types: types, Data: env.Data}, nil
}

// directEnvelope is the Envelope with data decoded in the same pass. It skips
// message, which a success does not need.
type directEnvelope struct {
	Code *int       `json:"code"`
	Data directData `json:"data"`
}

// directData decodes data straight into Types and keeps where its bytes lie
// in the body, for the version hash. Holding data as a RawMessage and
// decoding it afterwards reads it twice, a fifth of a refresh's cost.
type directData struct {
	body  []byte // the whole response, set before decoding
	types []Type
	raw   []byte // data's bytes, within body
}

// UnmarshalJSONFrom implements jsonv2.UnmarshalerFrom; the decoder carries the
// v1 options of the outer call.
func (d *directData) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	start := dec.InputOffset()
	if err := jsonv2.UnmarshalDecode(dec, &d.types); err != nil {
		return err
	}
	end := dec.InputOffset()
	if start < 0 || end > int64(len(d.body)) || start > end {
		return errors.New("data: offsets outside the body") // not a decoder over body
	}
	// The offset before the value may sit before the name's colon.
	d.raw = bytes.TrimLeft(d.body[start:end], ": \t\r\n")
	return nil
}

// ok reports whether data was present and not null.
func (d *directData) ok() bool { return len(d.raw) > 0 && !bytes.Equal(d.raw, []byte("null")) }

// dropNonObjectChildren rewrites data with every "children" entry that is not
// an object removed. It decodes generically once (numbers kept exact), so its
// cost is linear in the size of data.
func dropNonObjectChildren(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var clean func(any)
	clean = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if children, ok := v["children"].([]any); ok {
				kept := children[:0]
				for _, c := range children {
					if _, isObject := c.(map[string]any); isObject {
						kept = append(kept, c)
					}
				}
				v["children"] = kept
			}
			for _, x := range v {
				clean(x)
			}
		case []any:
			for _, x := range v {
				clean(x)
			}
		}
	}
	clean(v)
	return json.Marshal(v)
}
