package recorder

import (
	"testing"
)

// TestFloorOf checks the floor each kind of PDB sets.
func TestFloorOf(t *testing.T) {
	tests := []struct {
		minAvailable, maxUnavailable string
		desired, want                int32
	}{
		{"3", "", 4, 3},
		{"50%", "", 4, 2},
		{"50%", "", 3, 2}, // percentages round up
		{"100%", "", 5, 5},
		{"", "1", 4, 3},
		{"", "25%", 4, 3},
		{"", "25%", 5, 3}, // 25% of 5 rounds up to 2 unavailable
		{"", "10", 4, 0},
		{"", "", 4, 0},
	}
	for _, tt := range tests {
		got, err := floorOf(pdb("web", tt.minAvailable, tt.maxUnavailable), tt.desired)
		if err != nil || got != tt.want {
			t.Errorf("minAvailable %q maxUnavailable %q desired %d: floor %d, %v; want %d",
				tt.minAvailable, tt.maxUnavailable, tt.desired, got, err, tt.want)
		}
	}
}

// TestSummary checks min ready, ratio and breaches over synthetic
// streams.
func TestSummary(t *testing.T) {
	type want struct {
		desired, floor, minReady int32
		pdb                      string
		minReadyAt               float64
		ratio                    float64
		breaches                 []Breach
	}
	rollout := func(readies ...int32) []obs {
		var s []obs
		for i, r := range readies {
			s = append(s, obs{float64(i), deploy("web", 4, r), false})
		}
		return s
	}
	tests := []struct {
		name   string
		stream []obs
		want   want
	}{
		{
			name:   "never below the floor; the ramp-up does not count",
			stream: append([]obs{{0, pdb("web", "3", ""), false}}, rollout(0, 2, 4, 3, 4, 3, 4)...),
			want:   want{desired: 4, floor: 3, pdb: "apps/web-pdb", minReady: 3, minReadyAt: 3, ratio: 0.75},
		},
		{
			name:   "one dip below minAvailable",
			stream: append([]obs{{0, pdb("web", "3", ""), false}}, rollout(4, 3, 2, 1, 3, 4)...),
			want: want{desired: 4, floor: 3, pdb: "apps/web-pdb", minReady: 1, minReadyAt: 3, ratio: 0.25,
				breaches: []Breach{{From: at(2), To: at(4), Ready: 1, Floor: 3}}},
		},
		{
			name:   "maxUnavailable percentage, breach still open at the end",
			stream: append([]obs{{0, pdb("web", "", "25%"), false}}, rollout(4, 3, 4, 2)...),
			want: want{desired: 4, floor: 3, pdb: "apps/web-pdb", minReady: 2, minReadyAt: 3, ratio: 0.5,
				breaches: []Breach{{From: at(3), Ready: 2, Floor: 3}}},
		},
		{
			name:   "PDB seen after the deployment still sets the floor",
			stream: append(rollout(4, 2, 4), obs{5, pdb("web", "75%", ""), false}),
			want: want{desired: 4, floor: 3, pdb: "apps/web-pdb", minReady: 2, minReadyAt: 1, ratio: 0.5,
				breaches: []Breach{{From: at(1), To: at(2), Ready: 2, Floor: 3}}},
		},
		{
			name:   "no PDB, no floor",
			stream: rollout(4, 0, 4),
			want:   want{desired: 4, minReady: 0, minReadyAt: 1, ratio: 0},
		},
		{
			name:   "a PDB selecting other pods does not count",
			stream: append([]obs{{0, pdb("db", "3", ""), false}}, rollout(4, 1, 4)...),
			want:   want{desired: 4, minReady: 1, minReadyAt: 1, ratio: 0.25},
		},
		{
			name:   "never fully ready",
			stream: rollout(0, 1, 3),
			want:   want{desired: 4, minReady: -1, ratio: 1},
		},
		{
			name: "scaling up: floor follows the desired replicas of the moment",
			stream: []obs{
				{0, pdb("web", "50%", ""), false},
				{1, deploy("web", 2, 2), false},
				{2, deploy("web", 6, 2), false},
				{3, deploy("web", 6, 6), false},
			},
			want: want{desired: 6, floor: 3, pdb: "apps/web-pdb", minReady: 2, minReadyAt: 1, ratio: 2.0 / 6,
				breaches: []Breach{{From: at(2), To: at(3), Ready: 2, Floor: 3}}},
		},
		{
			name: "deleted and made again starts over",
			stream: append([]obs{
				{0, pdb("web", "3", ""), false},
				{0, deploy("web", 4, 4), false},
				{0.5, deploy("web", 4, 0), false},
				{0.6, deploy("web", 4, 0), true},
			}, rollout(0, 4, 4)...),
			want: want{desired: 4, floor: 3, pdb: "apps/web-pdb", minReady: 4, minReadyAt: 1, ratio: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apps := replay(Options{}, tt.stream).Summary()
			if len(apps) != 1 {
				t.Fatalf("%d summaries, want 1: %+v", len(apps), apps)
			}
			a, w := apps[0], tt.want
			if a.Deployment != "apps/web" || a.Desired != w.desired || a.Floor != w.floor || a.PDB != w.pdb || a.MinReady != w.minReady {
				t.Errorf("summary %+v, want %+v", a, w)
			}
			if w.minReady >= 0 && !a.MinReadyAt.Equal(at(w.minReadyAt)) {
				t.Errorf("min ready at %v, want %v", a.MinReadyAt, at(w.minReadyAt))
			}
			if a.MinRatio != w.ratio {
				t.Errorf("ratio %v, want %v", a.MinRatio, w.ratio)
			}
			if a.BelowFloor() != (len(w.breaches) > 0) || len(a.Breaches) != len(w.breaches) {
				t.Fatalf("breaches %+v, want %+v", a.Breaches, w.breaches)
			}
			for i, b := range a.Breaches {
				wb := w.breaches[i]
				if !b.From.Equal(wb.From) || !b.To.Equal(wb.To) || b.Ready != wb.Ready || b.Floor != wb.Floor {
					t.Errorf("breach %d: %+v, want %+v", i, b, wb)
				}
			}
		})
	}
}
