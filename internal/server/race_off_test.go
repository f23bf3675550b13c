//go:build !race

package server_test

// raceEnabled: this test binary runs under the race detector, whose
// instrumentation makes every frame bigger.
const raceEnabled = false
