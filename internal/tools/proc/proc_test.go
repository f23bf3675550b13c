package proc

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		give    string
		want    []int
		wantErr bool
	}{
		{give: "0", want: []int{0}},
		{give: "0-3", want: []int{0, 1, 2, 3}},
		{give: "0-1,4,6-7", want: []int{0, 1, 4, 6, 7}},
		{give: "x", wantErr: true},
		{give: "1-y", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ParseCPUList(tt.give)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Errorf("ParseCPUList(%q) = %v, %v; want %v, error %v", tt.give, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestLoopbackBase(t *testing.T) {
	tests := []struct {
		give, want string
		wantErr    bool
	}{
		{give: "http://[::]:43567", want: "http://127.0.0.1:43567"},
		{give: "http://0.0.0.0:43567", want: "http://127.0.0.1:43567"},
		{give: "http://localhost:8080/", want: "http://127.0.0.1:8080"},
		{give: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{give: "http://[::1]:8080", want: "http://[::1]:8080"},
		{give: "[::]:43567", want: "http://127.0.0.1:43567"},
		{give: ":43567", want: "http://127.0.0.1:43567"},
		{give: "http://[::]", wantErr: true},
		{give: "::nonsense", wantErr: true},
	}
	for _, tt := range tests {
		got, err := LoopbackBase(tt.give)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("LoopbackBase(%q) = %q, %v; want %q, error %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestListeningAddr(t *testing.T) {
	tests := []struct {
		name   string
		give   string
		want   string
		wantOK bool
	}{
		{"json", `{"time":"t","level":"INFO","msg":"listening","addr":"http://[::]:41234","playground":"http://[::]:41234/"}`, "http://[::]:41234", true},
		{"json on localhost", `{"level":"INFO","msg":"listening","addr":"http://localhost:8080/"}`, "http://localhost:8080/", true},
		{"ceiling", `{"addr":"http://127.0.0.1:39999","msg":"listening"}`, "http://127.0.0.1:39999", true},
		{"text", `time=2026-01-01T00:00:00Z level=INFO msg=listening addr=http://[::]:8080 playground=http://[::]:8080/`, "http://[::]:8080", true},
		{"readable line", `demo mode: open http://localhost:43567/ in a browser`, "http://localhost:43567/", true},
		{"readable attribute", `{"level":"INFO","msg":"demo mode","playground":"http://localhost:43567/"}`, "http://localhost:43567/", true},
		{"text on localhost", `time=2026-01-01T00:00:00Z level=INFO msg=listening addr=http://localhost:8080 playground=http://localhost:8080/`, "http://localhost:8080", true},
		{"listening without addr", `{"msg":"listening"}`, "", false},
		{"an addr on another message", `{"msg":"admin","addr":"http://127.0.0.1:9"}`, "", false},
		{"localhost without port", `see http://localhost/ for help`, "", false},
		{"another message", `{"msg":"opportunity config fetched","upstream":"http://127.0.0.1:9"}`, "", false},
		{"the word alone", `{"msg":"not listening yet"}`, "", false},
		{"not a log line", `panic: listening`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ListeningAddr([]byte(tt.give))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ListeningAddr = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestLogWatch writes a log in pieces that split lines: every line reaches
// OnLine whole, the address is found once, and the tail leaves out the
// access log once the child listens.
func TestLogWatch(t *testing.T) {
	var got []string
	w := newLogWatch(func(b []byte) { got = append(got, string(b)) })
	lines := []string{
		`not json`,
		`{"time":"t","level":"INFO","msg":"listening","addr":"http://[::]:41234"}`,
		`{"time":"t","level":"INFO","msg":"request","status":200}`,
		`{"time":"t","level":"INFO","msg":"listening","addr":"http://[::]:1"}`,
		`{"time":"t","level":"WARN","msg":"opportunity config refresh failed"}`,
	}
	all := strings.Join(lines, "\n") + "\n"
	for _, part := range []string{all[:5], all[5:100], all[100:]} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, lines) {
		t.Errorf("OnLine got\n%q\nwant\n%q", got, lines)
	}
	if n := w.count(); n != int64(len(lines)) {
		t.Errorf("count = %d, want %d", n, len(lines))
	}
	if addr := <-w.listening; addr != "http://[::]:41234" {
		t.Errorf("listening = %q", addr)
	}
	select {
	case addr := <-w.listening:
		t.Errorf("a second listening address %q", addr)
	default:
	}
	if tail := w.lastLines(); strings.Contains(tail, `"msg":"request"`) || !strings.Contains(tail, "refresh failed") {
		t.Errorf("tail:\n%s", tail)
	}
}

func TestMergeEnv(t *testing.T) {
	base := []string{"PORT=0", "CACHE_TTL=2s", "RATE_LIMIT=0"}
	got := MergeEnv(base, "CACHE_TTL=1h", "AUTH_MODE=apikey", "PORT=0")
	want := []string{"PORT=0", "CACHE_TTL=1h", "RATE_LIMIT=0", "AUTH_MODE=apikey"}
	if !slices.Equal(got, want) {
		t.Errorf("MergeEnv = %q, want %q", got, want)
	}
	if base[1] != "CACHE_TTL=2s" {
		t.Errorf("MergeEnv changed its argument: %q", base)
	}
}

// TestStartFindsListeningLine runs a shell that logs like the service, pinned
// to CPU 0 when taskset is there, and reads its pid's /proc entries.
func TestStartFindsListeningLine(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	opts := Options{Env: []string{"PATH=" + os.Getenv("PATH")}, StartupTimeout: 10 * time.Second}
	_, tasksetErr := exec.LookPath("taskset")
	if tasksetErr == nil {
		opts.CPUs = "0"
	}
	script := `echo 'not json'; echo '{"level":"INFO","msg":"listening","addr":"http://[::]:4321"}' >&2; echo after; exec sleep 30`
	p, err := Start(t.Context(), sh, []string{"-c", script}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if p.Base != "http://127.0.0.1:4321" {
		t.Errorf("Base = %q", p.Base)
	}
	if rss := p.RSSKB(); rss <= 0 {
		t.Errorf("VmRSS of the child = %d kB", rss)
	}
	if cpu := CPUTime(p.PID()); cpu < 0 {
		t.Errorf("CPUTime of the child = %v", cpu)
	}
	if tasksetErr == nil {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID()) + "/status")
		if err == nil && !strings.Contains(string(b), "Cpus_allowed_list:\t0\n") {
			t.Errorf("child not pinned to CPU 0:\n%s", b)
		}
	}
	// "after" is written once Start has returned; give the shell its moment
	// before SIGTERM, or the line may never be written.
	for deadline := time.Now().Add(5 * time.Second); p.LogLines() < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if p.Stop(5 * time.Second).OK() {
		t.Error("Stop: sleep killed by SIGTERM reported a clean exit")
	}
	if n := p.LogLines(); n != 3 {
		t.Errorf("LogLines = %d, want 3; tail:\n%s", n, p.Tail())
	}
}

func TestStartFailsWhenTheChildExits(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	_, err = Start(t.Context(), sh, []string{"-c", "echo boom; exit 3"}, Options{StartupTimeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err = %v, want the exit and the last line", err)
	}
}
