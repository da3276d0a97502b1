package batchgc

import (
	"runtime/debug"
	"testing"
)

func TestTune(t *testing.T) {
	tests := []struct {
		name                 string
		env                  map[string]string
		wantPercent          int
		wantLimit            int64
		percentSet, limitSet bool
	}{
		{name: "defaults", wantPercent: Percent, wantLimit: Limit},
		{name: "GOGC given", env: map[string]string{"GOGC": "50"}, wantLimit: Limit, percentSet: true},
		{name: "GOMEMLIMIT given", env: map[string]string{"GOMEMLIMIT": "1GiB"}, wantPercent: Percent, limitSet: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			beforePercent := debug.SetGCPercent(77)
			beforeLimit := debug.SetMemoryLimit(1 << 40)
			defer debug.SetGCPercent(beforePercent)
			defer debug.SetMemoryLimit(beforeLimit)

			restore := Tune()
			percent := debug.SetGCPercent(-1)
			debug.SetGCPercent(percent)
			limit := debug.SetMemoryLimit(-1)
			if tt.percentSet {
				tt.wantPercent = 77
			}
			if tt.limitSet {
				tt.wantLimit = 1 << 40
			}
			if percent != tt.wantPercent || limit != tt.wantLimit {
				t.Errorf("after Tune: GOGC %d, limit %d; want %d, %d", percent, limit, tt.wantPercent, tt.wantLimit)
			}
			restore()
			if p, l := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); p != 77 || l != 1<<40 {
				t.Errorf("after restore: GOGC %d, limit %d; want 77, %d", p, l, int64(1<<40))
			}
			debug.SetGCPercent(77)
		})
	}
}
