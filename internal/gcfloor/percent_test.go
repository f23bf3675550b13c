package gcfloor

import "testing"

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name                 string
		live, scanned, floor uint64
		want                 int
	}{
		{"small heap: the floor", 8 * mib, 8 * mib, 32 * mib, 400},
		{"rounded up", 6 * mib, 6 * mib, 32 * mib, 534},
		{"stacks and globals count", 6 * mib, 8 * mib, 32 * mib, 400},
		{"tiny heap: bounded by the runtime's minimum heap, 4 MiB × GOGC/100", 2 * mib, 2 * mib, 32 * mib, 850},
		{"heap as large as the floor: the default", 32 * mib, 32 * mib, 32 * mib, 100},
		{"stacks as large as the floor: the default", 4 * mib, 40 * mib, 32 * mib, 100},
		{"heap larger than the floor: the default", 70 * mib, 72 * mib, 32 * mib, 100},
		{"heap just under the floor: a little above the default", 30 * mib, 30 * mib, 32 * mib, 107},
		{"nothing scanned yet: the default", 0, 0, 32 * mib, 100},
		{"a huge floor: bounded", 1 * mib, 1 * mib, 1 << 40, maxPercent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percent(tt.live, tt.scanned, tt.floor); got != tt.want {
				t.Errorf("percent(%d, %d, %d) = %d, want %d", tt.live, tt.scanned, tt.floor, got, tt.want)
			}
		})
	}
}
