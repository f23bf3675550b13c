package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// PinReason returns why this process cannot give its children CPU 0 and
// itself CPU 1, as the tools place a server and its load, or "" when it
// can: taskset is installed and both CPUs are allowed.
func PinReason() string {
	if _, err := exec.LookPath("taskset"); err != nil {
		return "taskset (util-linux) is not installed"
	}
	cpus, err := AllowedCPUs()
	if err != nil {
		return err.Error()
	}
	if !slices.Contains(cpus, 0) || !slices.Contains(cpus, 1) {
		return fmt.Sprintf("this process may run on CPUs %v, not on both 0 and 1", cpus)
	}
	return ""
}

// PinnedExitError is the failure of the copy ReexecPinned ran: it has
// printed why, so the caller only passes its exit status on. A type of its
// own, so that no other *exec.ExitError in an error chain is taken for it.
type PinnedExitError struct{ Code int }

func (e PinnedExitError) Error() string {
	return fmt.Sprintf("the pinned copy exited with status %d", e.Code)
}

// ReexecPinned runs this command again with args[1:] under `taskset -c
// cpus`, with marker=1 added to its environment so that the copy knows it
// is the pinned one, and waits for it. SIGINT reaches the copy with the
// rest of the process group; ctx's end interrupts it rather than killing
// it, so that it shuts its own children down.
func ReexecPinned(ctx context.Context, cpus, marker string, args []string, stdout, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", cpus, self}, args[1:]...)...)
	cmd.Env = append(os.Environ(), marker+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	err = cmd.Run()
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		return PinnedExitError{Code: exit.ExitCode()}
	}
	return err
}

// Machine describes the CPUs from /proc/cpuinfo, for a report's header:
// "2 × AMD EPYC".
func Machine() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	model, n := "", 0
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			model = strings.TrimSpace(v)
		case "processor":
			n++
		}
	}
	return fmt.Sprintf("%d × %s", n, model)
}
