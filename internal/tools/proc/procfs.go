package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

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

// RSSKB is the child's resident set now (VmRSS), in kB; 0 when unavailable.
func (p *Process) RSSKB() int64 { return StatusKB(p.PID(), "VmRSS") }

// PeakRSSKB is the child's largest resident set so far (VmHWM), in kB; 0 when
// unavailable.
func (p *Process) PeakRSSKB() int64 { return StatusKB(p.PID(), "VmHWM") }

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 for user space on every architecture Go runs on.
const clockTick = 10 * time.Millisecond

// CPUTime returns the user plus system CPU time pid has used, all threads
// together, in 10ms ticks; -1 when unavailable. Pass os.Getpid() for this
// process.
func CPUTime(pid int) time.Duration {
	user, system := CPUTimes(pid)
	if user < 0 {
		return -1
	}
	return user + system
}

// CPUTimes is CPUTime in its two parts, user and system time; both -1 when
// unavailable. On loopback the system time of a writer includes the
// delivery of what it writes to the reading socket.
func CPUTimes(pid int) (user, system time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1, -1
	}
	// The command name, field 2, is in parentheses and may hold spaces: count
	// fields from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1, -1
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return -1, -1
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1, -1
	}
	return time.Duration(utime) * clockTick, time.Duration(stime) * clockTick
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
