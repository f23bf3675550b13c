package playground

import "testing"

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"", false},
		{"gzip", true},
		{"gzip, deflate, br, zstd", true},
		{"GZIP", true},
		{"br;q=1.0, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"gzip;q=0.001", true},
		{"deflate, br", false},
		{"identity", false},
		{"x-gzip", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if got := acceptsGzip(tt.give); got != tt.want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}
