//go:build unix

package server_test

import "syscall"

// processCPU is the CPU time the process has used, user and system, in
// nanoseconds: what a benchmark reports as cpu-ns/op, which other work on a
// shared machine disturbs far less than the time per operation.
func processCPU() int64 {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return u.Utime.Nano() + u.Stime.Nano()
}
