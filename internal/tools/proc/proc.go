// Package proc runs the service, or any program that logs where it listens
// the way the service does, as a child process of a tool: it builds the
// binary, starts it (optionally pinned to CPUs with taskset), waits for its
// listening line, watches its log, stops it, and reads its memory and CPU time
// from /proc. The load benchmark, the soak and the browser test
// (internal/tools/...) all run their children through it.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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

// Build builds the package pkg of the module, a path relative to the module
// root (e.g. "." for the service), into dir and returns the binary's path.
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
		// %v, not %w: go build's *exec.ExitError must not pass for the exit
		// status of the tool's own child (the bench's pinned copy).
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// Options says how to start a child.
type Options struct {
	// Env is the child's whole environment, besides the Go runtime's knobs
	// (runtimeEnv), so that the shell's service settings cannot leak in.
	Env []string
	// CPUs pins the child with `taskset -c CPUs` (e.g. "0"); "" runs it
	// unpinned. taskset execs the program, so the pid is the program's.
	CPUs string
	// StartupTimeout bounds the wait for the listening line; 0 means 30s.
	StartupTimeout time.Duration
	// OnLine, when set, gets every line the child writes to stdout or stderr,
	// without its newline, in order and one call at a time. The slice is only
	// valid during the call. A slow OnLine slows the child: it blocks the
	// pipe.
	OnLine func(line []byte)
}

// Process is a running child that has logged where it listens.
type Process struct {
	Base string // http://127.0.0.1:PORT

	cmd    *exec.Cmd
	logs   *logWatch
	exited chan struct{} // closed when Wait returned; err is set by then
	err    error         // Wait's
}

// Start runs path with args and waits until it logs where it listens (see
// ListeningAddr), on stdout or stderr. Later output is counted and handed to
// opts.OnLine, bar a short tail kept for error messages: an access log
// writes a line per request.
func Start(ctx context.Context, path string, args []string, opts Options) (*Process, error) {
	timeout := opts.StartupTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	p := &Process{logs: newLogWatch(opts.OnLine), exited: make(chan struct{})}
	if opts.CPUs != "" {
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			return nil, fmt.Errorf("pin to CPUs %s: %w", opts.CPUs, err)
		}
		p.cmd = exec.Command(taskset, append([]string{"-c", opts.CPUs, path}, args...)...)
	} else {
		p.cmd = exec.Command(path, args...)
	}
	p.cmd.Env = append(runtimeEnv(), opts.Env...)
	// One writer for both: exec then gives the child one pipe, so lines of
	// stdout and stderr do not interleave mid-line. Wait returns only once
	// the output is read to the end: exec copies from the pipe to this writer
	// and Wait waits for the copy.
	p.cmd.Stderr = p.logs
	p.cmd.Stdout = p.logs
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
		return nil, fmt.Errorf("%s did not log where it listens within %s; its last lines:\n%s", filepath.Base(path), timeout, p.Tail())
	case <-ctx.Done():
		p.Kill()
		return nil, context.Cause(ctx)
	}
}

// runtimeEnvNames are the parent's variables a child inherits: Go runtime
// knobs only (GOGC=400 go run ./internal/tools/bench reaches the children).
const runtimeEnvNames = "GOMAXPROCS GOGC GOMEMLIMIT GODEBUG GOTRACEBACK"

// runtimeEnv returns the parent's values of runtimeEnvNames that are set.
func runtimeEnv() []string {
	var env []string
	for name := range strings.FieldsSeq(runtimeEnvNames) {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// PID is the child's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogLines is how many lines the child has written so far.
func (p *Process) LogLines() int64 { return p.logs.count() }

// Tail returns the last lines the child wrote, access log left out.
func (p *Process) Tail() string { return p.logs.lastLines() }

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
	return p.StopWith(syscall.SIGTERM, timeout)
}

// StopWith is Stop with another signal: SIGQUIT makes a Go child write
// every goroutine's stack to stderr (its OnLine gets the lines) and exit 2.
func (p *Process) StopWith(sig syscall.Signal, timeout time.Duration) StopResult {
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.Kill()
		return StopResult{ExitCode: -1, Err: signalName(sig) + ": " + err.Error()}
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

// signalName is SIGTERM's and SIGQUIT's name as a shell spells it, another
// signal's as syscall describes it.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	}
	return sig.String()
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
