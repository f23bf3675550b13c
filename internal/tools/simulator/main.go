// Command simulator serves the tanmarket simulator (internal/simulator) on a
// port of its own, for the project's scripts that run the service against an
// upstream whose data they change: `.ci/web.sh` subscribes to the live
// configuration and renames a type mid-run. It is a tool, not part of the
// product; the service's demo mode embeds the same simulator in-process.
//
//	UPSTREAM_APP_ID=… UPSTREAM_APP_KEY=… UPSTREAM_APP_SECRET=… go run ./internal/tools/simulator [-addr 127.0.0.1:0]
//
// Its first line on stdout is its base URL. Besides the vendor's endpoint it
// answers PATCH /control/types/{typeId} with a JSON object: the type's fields
// in later answers are replaced by the object's (typeId excepted), 204.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. listening, when set, gets the base URL too
// (tests).
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, listening chan<- string) error {
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	creds := signature.Credentials{
		AppID:     getenv("UPSTREAM_APP_ID"),
		AppKey:    signature.NewSecret(getenv("UPSTREAM_APP_KEY")),
		AppSecret: signature.NewSecret(getenv("UPSTREAM_APP_SECRET")),
	}
	if creds.AppID == "" || creds.AppKey.Reveal() == "" || creds.AppSecret.Reveal() == "" {
		return errors.New("UPSTREAM_APP_ID, UPSTREAM_APP_KEY and UPSTREAM_APP_SECRET are required")
	}
	d, err := newData()
	if err != nil {
		return err
	}
	sim := simulator.New(simulator.Options{Credentials: creds, Recipe: signature.Default(), Dataset: d.bytes()})
	mux := http.NewServeMux()
	mux.Handle("/", sim)
	mux.HandleFunc("PATCH /control/types/{typeId}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("typeId"))
		if err != nil {
			http.Error(w, "typeId is not an integer", http.StatusBadRequest)
			return
		}
		var patch map[string]json.RawMessage
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&patch); err != nil || patch == nil || patch["typeId"] != nil {
			http.Error(w, "want a JSON object of the type's fields, typeId excepted", http.StatusBadRequest)
			return
		}
		b, ok := d.patch(id, patch)
		if !ok {
			http.Error(w, "no such type", http.StatusNotFound)
			return
		}
		sim.SetDataset(b)
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	base := "http://" + ln.Addr().String()
	fmt.Fprintln(stdout, base)
	if listening != nil {
		listening <- base
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// data is the dataset served, as the JSON objects of its types, so that a
// patch replaces fields without a schema.
type data struct {
	mu    sync.Mutex
	types []map[string]json.RawMessage
}

func newData() (*data, error) {
	d := &data{}
	if err := json.Unmarshal(simulator.DemoDataset(), &d.types); err != nil {
		return nil, fmt.Errorf("read the demo dataset: %w", err)
	}
	return d, nil
}

func (d *data) bytes() []byte {
	b, _ := json.Marshal(d.types) // maps of raw JSON always encode
	return b
}

// patch replaces type id's fields with patch's and returns the new dataset.
func (d *data) patch(id int, patch map[string]json.RawMessage) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.types {
		var got int
		if json.Unmarshal(t["typeId"], &got) == nil && got == id {
			for k, v := range patch {
				t[k] = v
			}
			return d.bytes(), true
		}
	}
	return nil, false
}
