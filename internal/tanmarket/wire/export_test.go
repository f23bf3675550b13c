package wire

// DecodeCarefully exposes the two-pass decoding to the tests, which check the
// one-pass path of Decode against it.
func DecodeCarefully(body []byte) (*Response, error) { return decodeCarefully(body) }
