// Package proc builds the service binary and runs it, or any program that logs
// where it listens the way the service does, as a child process, optionally
// pinned to CPUs with taskset; it reads the child's memory and CPU time from
// /proc. The load benchmark (internal/bench) uses it; it follows the soak's
// approach (internal/soak), which keeps its own copy with log counting.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModulePath is the module Build builds; ModuleRoot checks it, so that a run
// from another module's directory fails instead of building that one.
const ModulePath = "github.com/oppconfig/oppconfig-graphql"

// ModuleRoot finds the module's directory with `go env GOMOD`, run from this
// package's source directory when it is on disk (go run, go test), else from
// the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMOD")
	if _, file, _, ok := runtime.Caller(0); ok {
		if st, err := os.Stat(filepath.Dir(file)); err == nil && st.IsDir() {
			cmd.Dir = filepath.Dir(file)
		}
	}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside module %s: run from the repository", ModulePath)
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(b, []byte("module "+ModulePath+"\n")) {
		return "", fmt.Errorf("%s is not module %s: run from the repository", gomod, ModulePath)
	}
	return filepath.Dir(gomod), nil
}

// Build builds the package pkg of the module (e.g. "." for the service) into
// dir and returns the binary's path.
func Build(ctx context.Context, dir, pkg string) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	name := filepath.Base(filepath.Clean(pkg))
	if pkg == "." {
		name = "oppconfig-graphql"
	}
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// RuntimeEnv are the parent's variables a child inherits: Go runtime knobs
// only, so that the shell's service settings (AUTH_MODE, …) cannot leak in.
var RuntimeEnv = []string{"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG", "GOTRACEBACK"}

// Options says how to start a child.
type Options struct {
	Env []string // the child's whole environment, besides RuntimeEnv
	// CPUs pins the child with `taskset -c CPUs` (e.g. "0"); "" runs it
	// unpinned. taskset execs the program, so the pid is the program's.
	CPUs string
	// StartupTimeout bounds the wait for the "listening" line; 0 means 30s.
	StartupTimeout time.Duration
	// Output, when set, also gets everything the child writes (the soak
	// counts its log lines).
	Output io.Writer
}

// Process is a running child that has logged where it listens.
type Process struct {
	Base string // http://127.0.0.1:PORT

	cmd    *exec.Cmd
	logs   *logWatch
	exited chan struct{} // closed when Wait returned; err is set by then
	err    error         // Wait's
}

// Start runs path with args and waits until it logs, as a JSON line on stdout
// or stderr, {"msg":"listening","addr":"http://host:port"}. Later output is
// counted and dropped, bar a short tail kept for error messages: an access
// log writes a line per request.
func Start(ctx context.Context, path string, args []string, opts Options) (*Process, error) {
	env := opts.Env
	for _, name := range RuntimeEnv {
		if v, ok := os.LookupEnv(name); ok {
			env = append([]string{name + "=" + v}, env...)
		}
	}
	timeout := opts.StartupTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	p := &Process{logs: newLogWatch(), exited: make(chan struct{})}
	if opts.CPUs != "" {
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			return nil, fmt.Errorf("pin to CPUs %s: %w", opts.CPUs, err)
		}
		p.cmd = exec.Command(taskset, append([]string{"-c", opts.CPUs, path}, args...)...)
	} else {
		p.cmd = exec.Command(path, args...)
	}
	p.cmd.Env = env
	// Wait returns only once the output is read to the end: exec copies from
	// the pipe to this writer and Wait waits for the copy.
	var out io.Writer = p.logs
	if opts.Output != nil {
		out = io.MultiWriter(p.logs, opts.Output)
	}
	p.cmd.Stderr = out
	p.cmd.Stdout = out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(path), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case addr := <-p.logs.listening:
		base, err := LoopbackBase(addr)
		if err != nil {
			p.Kill()
			return nil, err
		}
		p.Base = base
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening (%v); its last lines:\n%s", filepath.Base(path), p.err, p.Tail())
	case <-timer.C:
		p.Kill()
		return nil, fmt.Errorf("%s did not log \"listening\" within %s; its last lines:\n%s", filepath.Base(path), timeout, p.Tail())
	case <-ctx.Done():
		p.Kill()
		return nil, context.Cause(ctx)
	}
}

// LoopbackBase turns a logged address, e.g. http://[::]:43567, into the
// loopback URL to call: the service listens on every interface.
func LoopbackBase(addr string) (string, error) {
	u, err := url.Parse(addr)
	if err != nil || u.Port() == "" {
		return "", fmt.Errorf("logged listening address %q, want http://host:port", addr)
	}
	return "http://" + net.JoinHostPort("127.0.0.1", u.Port()), nil
}

// PID is the child's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogLines is how many lines the child has written so far.
func (p *Process) LogLines() int64 {
	p.logs.mu.Lock()
	defer p.logs.mu.Unlock()
	return p.logs.lines
}

// Tail returns the last lines the child wrote.
func (p *Process) Tail() string {
	p.logs.mu.Lock()
	defer p.logs.mu.Unlock()
	return strings.Join(p.logs.tail, "\n")
}

// StopResult is how a child ended.
type StopResult struct {
	ExitCode int           // -1 when killed or not exited
	Took     time.Duration // from SIGTERM to exit
	TimedOut bool          // still running after the timeout, then killed
	Err      string        // the signal or Wait's error, when not a clean exit
}

// OK reports whether the child exited 0 in time.
func (r StopResult) OK() bool { return !r.TimedOut && r.ExitCode == 0 && r.Err == "" }

// Stop sends SIGTERM and waits up to timeout for the exit, then kills.
func (p *Process) Stop(timeout time.Duration) StopResult {
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.Kill()
		return StopResult{ExitCode: -1, Err: "SIGTERM: " + err.Error()}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.Kill()
		return StopResult{ExitCode: -1, Took: time.Since(start), TimedOut: true}
	}
	res := StopResult{ExitCode: p.cmd.ProcessState.ExitCode(), Took: time.Since(start)}
	var exitErr *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exitErr) {
		res.Err = p.err.Error()
	} else if res.ExitCode == -1 {
		res.Err = p.cmd.ProcessState.String() // "signal: terminated"
	}
	return res
}

// Kill ends the child if it still runs and waits for it; safe to repeat.
func (p *Process) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// StatusKB reads a kB field such as VmRSS or VmHWM of /proc/<pid>/status; 0
// means unavailable (not Linux, or the process is gone).
func StatusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb
	}
	return 0
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 for user space on every architecture Go runs on.
const clockTick = 10 * time.Millisecond

// CPUTime returns the user plus system CPU time pid has used, all threads
// together, in 10ms ticks; -1 when unavailable. Pass os.Getpid() for this
// process.
func CPUTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name, field 2, is in parentheses and may hold spaces: count
	// fields from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * clockTick
}

// AllowedCPUs returns the CPUs this process may run on, from
// Cpus_allowed_list in /proc/self/status (e.g. "0-1,4").
func AllowedCPUs() ([]int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != "Cpus_allowed_list" {
			continue
		}
		return ParseCPUList(strings.TrimSpace(rest))
	}
	return nil, errors.New("no Cpus_allowed_list in /proc/self/status")
}

// ParseCPUList parses a Linux CPU list such as "0-2,5".
func ParseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", s, err)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// tailLines is how many of the last lines are kept for error messages.
const tailLines = 20

// maxPartialLine bounds a line still waiting for its newline (1 MiB).
const maxPartialLine = 1 << 20

// logWatch is the writer the child's output goes to: it looks for the
// "listening" line, then only counts lines and keeps a short tail.
type logWatch struct {
	listening chan string // gets the address once

	mu      sync.Mutex
	found   bool
	partial []byte
	lines   int64
	tail    []string
}

func newLogWatch() *logWatch { return &logWatch{listening: make(chan string, 1)} }

// Write implements io.Writer.
func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	rest := w.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.line(rest[:i])
		rest = rest[i+1:]
	}
	if len(rest) > maxPartialLine {
		w.line(rest)
		rest = nil
	}
	w.partial = append(w.partial[:0], rest...)
	return len(p), nil
}

// line takes one line. w.mu is held.
func (w *logWatch) line(b []byte) {
	w.lines++
	if w.found && bytes.Contains(b, []byte(`"msg":"request"`)) {
		return // the access log: not kept, it would crowd out the lines that explain a failure
	}
	if len(w.tail) == tailLines {
		w.tail = w.tail[1:]
	}
	w.tail = append(w.tail, string(b))
	if w.found || !bytes.Contains(b, []byte(`"listening"`)) {
		return
	}
	var l struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(b, &l) == nil && l.Msg == "listening" {
		w.found = true
		w.listening <- l.Addr
	}
}
