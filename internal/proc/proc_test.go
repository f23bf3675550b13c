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
		{give: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
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
	if rss := StatusKB(p.PID(), "VmRSS"); rss <= 0 {
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
