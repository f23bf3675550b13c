package proc

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// MergeEnv returns env with each NAME=value of overrides replacing the entry
// of the same name in place, or appended when env has none, so that the list
// reads as what the child gets. env is not modified.
func MergeEnv(env []string, overrides ...string) []string {
	out := slices.Clone(env)
	for _, kv := range overrides {
		name, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { return strings.HasPrefix(e, name+"=") })
		if i < 0 {
			out = append(out, kv)
		} else {
			out[i] = kv
		}
	}
	return out
}

// UpstreamEnv is the service's environment for the tanmarket endpoint at
// baseURL with creds: UPSTREAM_URL and the three credentials, revealed, as
// the service (and the bench's ceiling) read them.
func UpstreamEnv(baseURL string, creds signature.Credentials) []string {
	return []string{
		"UPSTREAM_URL=" + baseURL,
		"UPSTREAM_APP_ID=" + creds.AppID,
		"UPSTREAM_APP_KEY=" + creds.AppKey.Reveal(),
		"UPSTREAM_APP_SECRET=" + creds.AppSecret.Reveal(),
	}
}

// ServeLoopback serves h on a free loopback port, for the in-process
// simulator a tool's children call, and returns its base URL and the
// function that closes it.
func ServeLoopback(h http.Handler) (baseURL string, closeServer func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed when closed
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
