package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAccessLineMatchesSlog checks the access log's own JSON writer against
// slog's JSON handler, through the logger NewLogger makes: the same bytes for
// the same line, whatever a client puts in the path or the operation name.
func TestAccessLineMatchesSlog(t *testing.T) {
	at := time.Date(2026, 11, 30, 6, 1, 2, 123456789, time.UTC)
	base := accessLine{method: "POST", path: "/query", status: 200, bytes: 293, durationMS: 0.123, operation: "Dropdown", requestID: "0123456789abcdef01234567"}
	with := func(change func(*accessLine)) accessLine {
		a := base
		change(&a)
		return a
	}
	tests := []struct {
		name string
		line accessLine
		at   time.Time
	}{
		{"typical", base, at},
		{"whole second", base, at.Truncate(time.Second)},
		{"another zone", base, at.In(time.FixedZone("CST", 8*3600))},
		{"no operation", with(func(a *accessLine) { a.operation = "" }), at},
		{"zero duration", with(func(a *accessLine) { a.durationMS = 0 }), at},
		{"long duration", with(func(a *accessLine) { a.durationMS = 123456.789 }), at},
		{"tiny duration", with(func(a *accessLine) { a.durationMS = 1e-7 }), at},
		{"huge duration", with(func(a *accessLine) { a.durationMS = 1e22 }), at},
		{"error status", with(func(a *accessLine) { a.status, a.bytes = 413, 0 }), at},
		{"quotes and backslashes", with(func(a *accessLine) { a.path, a.operation = `/q"u\ery`, `a"b\c` }), at},
		{"control characters", with(func(a *accessLine) { a.path, a.operation = "/a\nb\rc\td\x00e\x1f\x7f", "\x01op\x1b[31m" }), at},
		{"html", with(func(a *accessLine) { a.operation = "<script>&amp;</script>" }), at},
		{"unicode", with(func(a *accessLine) { a.path, a.operation = "/商机/配置", "查询商机类型…" }), at},
		{"line separators", with(func(a *accessLine) { a.operation = "a\u2028b\u2029c" }), at},
		{"invalid UTF-8", with(func(a *accessLine) { a.path, a.operation = "/\xff\xfe", "a\xc3(b\xe2\x82" }), at},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want bytes.Buffer
			logger, err := NewLogger(&want, "json")
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.WithValue(context.Background(), infoKey{}, &requestInfo{id: tt.line.requestID})
			rec := slog.NewRecord(tt.at, slog.LevelInfo, "request", 0)
			rec.AddAttrs(tt.line.attrs()...)
			if err := logger.Handler().Handle(ctx, rec); err != nil {
				t.Fatal(err)
			}

			var got bytes.Buffer
			tt.line.writeJSON(&got, tt.at)
			if got.String() != want.String() {
				t.Errorf("access log wrote\n%s\nslog writes\n%s", got.String(), want.String())
			}
		})
	}
}

// TestAccessLogWritesDirectlyOnlyWhenItMay: the JSON logger as made is
// written to directly; a text logger, or one with attributes added, is not,
// since the line would then differ from what slog writes.
func TestAccessLogWritesDirectlyOnlyWhenItMay(t *testing.T) {
	jsonLogger, _ := NewLogger(&bytes.Buffer{}, "json")
	textLogger, _ := NewLogger(&bytes.Buffer{}, "text")
	tests := []struct {
		name   string
		logger *slog.Logger
		want   bool
	}{
		{"json", jsonLogger, true},
		{"text", textLogger, false},
		{"json with attributes", jsonLogger.With("service", "x"), false},
		{"json in a group", jsonLogger.WithGroup("g"), false},
		{"another handler", slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), false},
	}
	for _, tt := range tests {
		h, _ := tt.logger.Handler().(requestIDHandler)
		if got := h.direct != nil; got != tt.want {
			t.Errorf("%s: direct %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAppendDurationRejectsNonNumbers(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if got := string(appendDuration(nil, f)); strings.ContainsAny(got, "NaIf") {
			t.Errorf("appendDuration(%v) = %q, not JSON", f, got)
		}
	}
}

// TestGoodRequestID: the loop accepts exactly what the regexp it replaced
// accepted.
func TestGoodRequestID(t *testing.T) {
	was := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	ids := []string{
		"", "a", "0123456789abcdef01234567", "4bf92f35-77b3-4da6-a3ce-929d0e0e4736",
		"req_1.2:3-x", "A-Za-z_0.9:", strings.Repeat("x", 64), strings.Repeat("x", 65),
		"a b", "a\nb", "abc\n", "a\x00", "日本", "a/b", "a+b=", "a\"b", "\xff", "a,b", "a;b", "~", "@",
	}
	for c := 0; c < 256; c++ {
		ids = append(ids, string([]byte{byte(c)}), "ab"+string([]byte{byte(c)})+"cd")
	}
	for _, id := range ids {
		if got, want := goodRequestID(id), was.MatchString(id); got != want {
			t.Errorf("goodRequestID(%q) = %v, the regexp says %v", id, got, want)
		}
	}
}
