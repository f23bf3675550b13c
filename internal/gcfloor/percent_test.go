package gcfloor

import "testing"

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name        string
		live, floor uint64
		want        int
	}{
		{"small heap: the floor", 4 * mib, 32 * mib, 800},
		{"rounded up, never below the floor", 3 * mib, 32 * mib, 1067},
		{"heap as large as the floor: the default", 32 * mib, 32 * mib, 100},
		{"heap larger than the floor: the default", 70 * mib, 32 * mib, 100},
		{"heap just under the floor: a little above the default", 30 * mib, 32 * mib, 107},
		{"tiny heap: bounded", 1 << 10, 32 * mib, maxPercent},
		{"nothing live yet: bounded", 0, 32 * mib, maxPercent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percent(tt.live, tt.floor); got != tt.want {
				t.Errorf("percent(%d, %d) = %d, want %d", tt.live, tt.floor, got, tt.want)
			}
		})
	}
}
