//go:build unix

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// spareFiles are the descriptors this process needs besides one per
// stream: the simulator, its listener, pipes, the binary, the module cache.
const spareFiles = 256

// clientLimits makes room for n client connections from 127.0.0.1: the
// open-file limit (RLIMIT_NOFILE, raised with its hard limit when this
// process may; the service inherits it) and the ephemeral ports, one per
// connection, that the kernel's range offers.
func clientLimits(n int) error {
	need := uint64(n + spareFiles)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < need {
		lim.Cur = need
		lim.Max = max(lim.Max, need)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("%d streams need %d open files: raising RLIMIT_NOFILE: %w (raise the hard limit: ulimit -Hn)", n, need, err)
		}
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return nil // not Linux: the connections will tell
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return nil
	}
	from, err1 := strconv.Atoi(f[0])
	to, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return nil
	}
	if ports := to - from + 1; n+spareFiles > ports {
		return fmt.Errorf("%d streams from 127.0.0.1 need as many ephemeral ports; net.ipv4.ip_local_port_range offers %d (%d-%d)", n, ports, from, to)
	}
	return nil
}
