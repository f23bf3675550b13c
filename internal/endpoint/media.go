package endpoint

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Media types of the GraphQL-over-HTTP specification.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// contentTypes are the Content-Type header values of the two response media
// types, made once; net/http only reads them.
var contentTypes = map[string][]string{
	mediaJSON:            {mediaJSON + "; charset=utf-8"},
	mediaGraphQLResponse: {mediaGraphQLResponse + "; charset=utf-8"},
}

// responseMediaType picks the response type from Accept: the GraphQL response
// type when the client lists it without q=0, application/json otherwise (as
// the specification asks for clients that send no Accept). It runs on every
// request, so it reads the header in place rather than through
// mime.ParseMediaType, which allocates a map per part.
func responseMediaType(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), mediaGraphQLResponse) && !refused(params) {
			return mediaGraphQLResponse
		}
	}
	return mediaJSON
}

// refused reports whether media type parameters say q=0.
func refused(params string) bool {
	for param := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(param, "=")
		if strings.EqualFold(strings.TrimSpace(name), "q") {
			q, err := strconv.ParseFloat(strings.Trim(strings.TrimSpace(value), `"`), 64)
			return err == nil && q == 0
		}
	}
	return false
}

func mediaKind(media string) byte {
	if media == mediaGraphQLResponse {
		return 'g'
	}
	return 'j'
}

// headerValue is h.Get(key) for a key already in canonical form (net/http
// canonicalises incoming names), without canonicalising it again.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// isJSONContent is mime.ParseMediaType(ct) == application/json, without the
// parse for the common spellings.
func isJSONContent(ct string) bool {
	switch ct {
	case mediaJSON, "application/json; charset=utf-8", "application/json;charset=utf-8":
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == mediaJSON
}
