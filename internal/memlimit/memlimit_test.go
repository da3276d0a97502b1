package memlimit

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func soft(limit int64) int64 { return int64(float64(limit) * Fraction) }

func TestSet(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		env     bool
		want    int64
		wantErr bool
	}{
		{name: "cgroup v2 limit", files: map[string]string{"memory.max": "536870912\n"}, want: soft(536870912)},
		{name: "cgroup v2 without limit", files: map[string]string{"memory.max": "max\n"}},
		{name: "cgroup v1 limit", files: map[string]string{"memory/memory.limit_in_bytes": "268435456\n"}, want: soft(268435456)},
		{name: "cgroup v1 without limit", files: map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}},
		{name: "no cgroup files", files: map[string]string{}},
		{name: "unreadable limit", files: map[string]string{"memory.max": "lots\n"}, wantErr: true},
		{name: "GOMEMLIMIT wins", files: map[string]string{"memory.max": "536870912\n"}, env: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := debug.SetMemoryLimit(-1)
			t.Cleanup(func() { debug.SetMemoryLimit(prev) })
			if tc.env {
				t.Setenv("GOMEMLIMIT", "1GiB")
			}
			root := t.TempDir()
			for name, text := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Set(root)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("set %d, want %d", got, tc.want)
			}
			if tc.want > 0 {
				if now := debug.SetMemoryLimit(-1); now != tc.want {
					t.Fatalf("runtime limit %d, want %d", now, tc.want)
				}
			}
		})
	}
}
