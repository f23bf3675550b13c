package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	coderws "github.com/coder/websocket"
)

// subscription is the document every subscriber runs
// (graph/schema/live.graphqls).
const subscription = `subscription { opportunityConfigChanged { version fetchedAt changedTypeIds stale } }`

// change is one event's data.
type change struct {
	Version        string `json:"version"`
	FetchedAt      string `json:"fetchedAt"`
	ChangedTypeIDs []int  `json:"changedTypeIds"`
	Stale          bool   `json:"stale"`
}

// decodeResult reads a GraphQL result that must carry one change and no
// errors: an SSE event's data, a graphql-transport-ws next's payload.
func decodeResult(b []byte) (change, error) {
	var r struct {
		Data *struct {
			OpportunityConfigChanged *change `json:"opportunityConfigChanged"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return change{}, fmt.Errorf("undecodable result %.200q: %w", b, err)
	}
	if len(r.Errors) > 0 || r.Data == nil || r.Data.OpportunityConfigChanged == nil {
		return change{}, fmt.Errorf("a result without a change: %.300s", b)
	}
	return *r.Data.OpportunityConfigChanged, nil
}

// subscriber opens one stream and reads it until ctx ends or the stream
// does: it calls opened once, with nil when the stream is open (its first
// event arrived) or why it could not be opened, reports every event and
// keep-alive to t as stream id, and t.end when the stream ends before ctx.
type subscriber func(ctx context.Context, id int, t *tally, opened func(error))

// Transports the tool measures: -transport's values.
const (
	transportSSE  = "sse"
	transportWS   = "ws"
	transportBoth = "both"
)

// sseRequest is the raw HTTP/1.1 request of a GraphQL-over-SSE subscription
// to host, as the graphql-sse client sends it in its distinct-connections
// mode: a POST of the query that accepts text/event-stream.
func sseRequest(host string) []byte {
	body, _ := json.Marshal(map[string]string{"query": subscription}) // a string map always encodes
	return fmt.Appendf(nil, "POST /query HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: %d\r\n\r\n%s",
		host, len(body), body)
}

// sseSubscriber subscribes over GraphQL over SSE at base (http://host:port).
// One goroutine and one connection per stream, and no more: the request is
// written by hand on a raw connection and the answer read with
// http.ReadResponse (which undoes the chunked encoding), without the two
// goroutines and buffers per connection of net/http's Transport. The client
// runs 10 000 of these on one core beside the simulator, and its share of
// the fan-out time should be small.
func sseSubscriber(base string) (subscriber, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	req := sseRequest(u.Host)
	return func(ctx context.Context, id int, t *tally, opened func(error)) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			opened(fmt.Errorf("dial: %w", err))
			return
		}
		defer conn.Close()
		// No goroutine per stream to watch ctx: the close ends the read.
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		if _, err := conn.Write(req); err != nil {
			opened(fmt.Errorf("write the request: %w", err))
			return
		}
		resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), nil)
		if err != nil {
			opened(fmt.Errorf("read the response: %w", err))
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			opened(fmt.Errorf("HTTP %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b))
			return
		}
		first := true
		err = readSSE(resp.Body, func(ev sseEvent) error {
			at := time.Now()
			switch ev.name {
			case "":
				t.ping(id) // a comment: ":" opens the stream, ": ping" keeps it alive
				return nil
			case "next":
				c, err := decodeResult(ev.data)
				if err != nil {
					return err
				}
				t.record(id, c, at)
				if first {
					first = false
					opened(nil)
				}
				return nil
			case "complete":
				return errComplete
			default:
				return fmt.Errorf("unexpected event %q: %.200s", ev.name, ev.data)
			}
		})
		if first {
			opened(fmt.Errorf("no first event: %w", streamEnd(err)))
			return
		}
		if ctx.Err() == nil {
			t.end(id, streamEnd(err).Error())
		}
	}, nil
}

// errComplete is a stream the service completed.
var errComplete = errors.New("the service completed the stream")

// streamEnd says why a stream ended.
func streamEnd(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the service closed the connection")
	}
	return err
}

// sseEvent is one event of a text/event-stream: a name ("" for a comment)
// and its data lines joined.
type sseEvent struct {
	name string
	data []byte
}

// maxSSELine bounds one line of the stream (64 KiB): an event is a few
// hundred bytes.
const maxSSELine = 64 << 10

// readSSE reads events from r until it ends or on returns an error, and
// returns that error (nil at the end of r). A comment (a line starting with
// ':') is handed over as an event without a name as soon as its blank line
// ends it. Only what gqlgen's SSE transport writes is understood: "event:",
// "data:" and comments.
func readSSE(r io.Reader, on func(sseEvent) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxSSELine)
	var ev sseEvent
	comment := false
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if ev.name != "" || comment {
				if err := on(ev); err != nil {
					return err
				}
			}
			ev, comment = sseEvent{}, false
		case line[0] == ':':
			comment = true
		case bytes.HasPrefix(line, []byte("event:")):
			ev.name = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			if ev.data != nil {
				ev.data = append(ev.data, '\n')
			}
			ev.data = append(ev.data, bytes.TrimPrefix(line[len("data:"):], []byte(" "))...)
		}
	}
	return sc.Err()
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsSubscriber subscribes over graphql-transport-ws at base: connection_init,
// connection_ack, subscribe, then next messages, answering the service's
// pings with pongs (it closes a connection that misses two).
func wsSubscriber(base string) (subscriber, error) {
	if !strings.HasPrefix(base, "http") {
		return nil, fmt.Errorf("base %q: want http://host:port", base)
	}
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/query"
	// A client of its own: the default one's transport keeps idle
	// connections for other users of http.DefaultClient.
	client := &http.Client{Transport: &http.Transport{}}
	subscribe, _ := json.Marshal(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]string{"query": subscription}})
	return func(ctx context.Context, id int, t *tally, opened func(error)) {
		dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		conn, _, err := coderws.Dial(dialCtx, wsURL, &coderws.DialOptions{HTTPClient: client, Subprotocols: []string{"graphql-transport-ws"}})
		cancel()
		if err != nil {
			opened(fmt.Errorf("handshake: %w", err))
			return
		}
		defer conn.CloseNow()
		write := func(b []byte) error { return conn.Write(ctx, coderws.MessageText, b) }
		if err := write([]byte(`{"type":"connection_init"}`)); err != nil {
			opened(fmt.Errorf("connection_init: %w", err))
			return
		}
		acked, first := false, true
		err = func() error {
			for {
				_, b, err := conn.Read(ctx)
				at := time.Now()
				if err != nil {
					return err
				}
				var m wsMessage
				if err := json.Unmarshal(b, &m); err != nil {
					return fmt.Errorf("undecodable message %.200q: %w", b, err)
				}
				switch {
				case m.Type == "ping":
					t.ping(id)
					if err := write([]byte(`{"type":"pong"}`)); err != nil {
						return err
					}
				case m.Type == "connection_ack" && !acked:
					acked = true
					if err := write(subscribe); err != nil {
						return err
					}
				case m.Type == "next" && acked && m.ID == "1":
					c, err := decodeResult(m.Payload)
					if err != nil {
						return err
					}
					t.record(id, c, at)
					if first {
						first = false
						opened(nil)
					}
				case m.Type == "complete" && m.ID == "1":
					return errComplete
				default:
					return fmt.Errorf("unexpected message %.300s", b)
				}
			}
		}()
		if first {
			opened(fmt.Errorf("no first event: %w", wsEnd(err)))
			return
		}
		if ctx.Err() == nil {
			t.end(id, wsEnd(err).Error())
		}
	}, nil
}

// wsEnd says why a WebSocket ended.
func wsEnd(err error) error {
	if s := coderws.CloseStatus(err); s != -1 {
		return fmt.Errorf("the service closed the WebSocket: %s", s)
	}
	return streamEnd(err)
}
