package cli

import (
	"bytes"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	defaults := Load{Duration: time.Minute, Warmup: time.Second, Clients: 16, CacheTTL: 2 * time.Second}
	cmd := Command{ClientsFlag: "conns", Notes: Notes{Duration: "per round"}}
	tests := []struct {
		name     string
		give     []string
		want     Load
		wantRun  bool
		wantErr  string
		wantOwn  int
		wantHelp string
	}{
		{name: "defaults", want: defaults, wantRun: true, wantOwn: 3},
		{
			name: "every shared flag",
			give: []string{"-duration", "5s", "-warmup", "0s", "-conns", "2", "-cache-ttl", "1h", "-env", "A=1", "-env", "B=x=y", "-rounds", "7"},
			want: Load{Duration: 5 * time.Second, Clients: 2, CacheTTL: time.Hour, ServiceEnv: []string{"A=1", "B=x=y"}}, wantRun: true, wantOwn: 7,
		},
		{name: "help", give: []string{"-h"}, want: defaults, wantOwn: 3, wantHelp: "measured load, warm-up excluded; per round"},
		{name: "the other tool's spelling", give: []string{"-clients", "2"}, want: defaults, wantOwn: 3, wantErr: "-clients"},
		{name: "bad env", give: []string{"-env", "NOEQUALS"}, want: defaults, wantOwn: 3, wantErr: "want NAME=value"},
		{name: "positional", give: []string{"extra"}, want: defaults, wantOwn: 3, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			load := defaults
			var stderr bytes.Buffer
			var rounds int
			run, err := cmd.Parse(append([]string{"tool"}, tt.give...), &stderr, &load, func(fs *flag.FlagSet) {
				fs.IntVar(&rounds, "rounds", 3, "rounds")
			})
			if run != tt.wantRun || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Parse = %v, %v; want %v, error %q", run, err, tt.wantRun, tt.wantErr)
			}
			if !reflect.DeepEqual(load, tt.want) || rounds != tt.wantOwn {
				t.Errorf("load = %+v, rounds %d; want %+v, %d", load, rounds, tt.want, tt.wantOwn)
			}
			if !strings.Contains(stderr.String(), tt.wantHelp) {
				t.Errorf("usage:\n%s\nwant %q", &stderr, tt.wantHelp)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := Load{Duration: time.Second, Clients: 1, CacheTTL: time.Second, ServiceEnv: []string{"A="}}
	tests := []struct {
		name string
		give func(*Load)
		want string // "" for valid
	}{
		{"valid", func(*Load) {}, ""},
		{"no duration", func(l *Load) { l.Duration = 0 }, "duration must be positive"},
		{"negative warm-up", func(l *Load) { l.Warmup = -1 }, "warmup must not be negative"},
		{"no clients", func(l *Load) { l.Clients = 0 }, "conns must be at least 1"},
		{"no cache TTL", func(l *Load) { l.CacheTTL = 0 }, "cache TTL must be positive"},
		{"bad env", func(l *Load) { l.ServiceEnv = []string{"=x"} }, `service setting "=x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := good
			tt.give(&l)
			err := l.Validate("conns")
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestDurationFlag: a tool may rename -duration (the streams tool's -idle);
// the old name is then refused and messages use the new one.
func TestDurationFlag(t *testing.T) {
	cmd := Command{ClientsFlag: "subscribers", DurationFlag: "idle"}
	load := Load{Duration: time.Minute, Clients: 1, CacheTTL: time.Second}
	var stderr bytes.Buffer
	if ok, err := cmd.Parse([]string{"tool", "-idle", "5s", "-subscribers", "7"}, &stderr, &load, nil); !ok || err != nil {
		t.Fatalf("Parse = %v, %v", ok, err)
	}
	if load.Duration != 5*time.Second || load.Clients != 7 {
		t.Errorf("load = %+v", load)
	}
	if ok, err := cmd.Parse([]string{"tool", "-duration", "5s"}, &stderr, &load, nil); ok || err == nil {
		t.Errorf("-duration accepted: %v, %v", ok, err)
	}
	load.Duration, load.Clients = 0, 0
	err := load.ValidateFor(cmd)
	if err == nil || !strings.Contains(err.Error(), "idle must be positive") || !strings.Contains(err.Error(), "subscribers must be at least 1") {
		t.Errorf("ValidateFor = %v", err)
	}
}
