package recorder

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// maintenance is a synthetic drain of two nodes with two targeted
// Kustomizations and one bystander: suspend at 1.5 and 2, cordons at
// 1 and 3, uncordon at 6, resumes at 7 and 8, revision 2 applied at 8.5
// and 9, the bystander applying inside the window at 4.
func maintenance() []obs {
	return []obs{
		{0, node("n1", false, true), false},
		{0, node("n2", false, true), false},
		{0, ks("a", false, "r1"), false},
		{0, ks("b", false, "r1"), false},
		{0, ks("other", false, "r1"), false},
		{1, node("n1", true, true), false},
		{1.5, ks("a", true, "r1"), false},
		{2, ks("b", true, "r1"), false},
		{3, node("n2", true, true), false},
		{4, ks("other", false, "r2"), false},
		{5, node("n1", false, true), false},
		{6, node("n2", false, true), false},
		{7, ks("a", false, "r1"), false},
		{8, ks("b", false, "r1"), false},
		{8.5, ks("a", false, "r2"), false},
		{9, ks("b", false, "r2"), false},
	}
}

var targeted = Options{Kustomizations: []string{"flux-system/a", "flux-system/b"}}

// TestTimeTo checks the durations measured from the cordons.
func TestTimeTo(t *testing.T) {
	r := replay(targeted, maintenance())
	first, ok := r.First(NodeCordoned)
	if !ok || !first.At.Equal(at(1)) {
		t.Fatalf("first cordon %+v", first)
	}
	last, ok := r.Last(NodeUncordoned)
	if !ok || !last.At.Equal(at(6)) {
		t.Fatalf("last uncordon %+v", last)
	}
	secs := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	tests := []struct {
		name   string
		got    func() (time.Duration, bool)
		want   time.Duration
		wantOK bool
	}{
		{"suspended after first cordon", func() (time.Duration, bool) { return r.TimeToAllSuspended(first.At) }, secs(1), true},
		{"already suspended", func() (time.Duration, bool) { return r.TimeToAllSuspended(at(2.5)) }, 0, true},
		{"resumed after last uncordon", func() (time.Duration, bool) { return r.TimeToAllResumed(last.At) }, secs(2), true},
		{"r2 applied after last uncordon", func() (time.Duration, bool) { return r.TimeToAllApplied(last.At, "r2") }, secs(3), true},
		{"r3 never applied", func() (time.Duration, bool) { return r.TimeToAllApplied(last.At, "r3") }, 0, false},
		{"every Kustomization when none targeted: other never suspended", func() (time.Duration, bool) {
			return replay(Options{}, maintenance()).TimeToAllSuspended(first.At)
		}, 0, false},
		{"nothing to wait for", func() (time.Duration, bool) { return New(Options{}).TimeToAllResumed(t0) }, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.got()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestAppliedBetween checks the maintenance window check.
func TestAppliedBetween(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		from, to float64
		want     []string
	}{
		{"targeted: quiet window", targeted, 1, 6, nil},
		{"every Kustomization: the bystander applied", Options{}, 1, 6, []string{"flux-system/other r2"}},
		{"after the window", targeted, 6, 10, []string{"flux-system/a r2", "flux-system/b r2"}},
		{"bounds: from excluded, to included", targeted, 8.5, 9, []string{"flux-system/b r2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range replay(tt.opts, maintenance()).AppliedBetween(at(tt.from), at(tt.to)) {
				got = append(got, e.Object+" "+e.Revision)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStateAt checks a replayed state.
func TestStateAt(t *testing.T) {
	s := replay(targeted, maintenance()).StateAt(at(3))
	if !s.Nodes["n1"].Cordoned || !s.Nodes["n2"].Cordoned || !s.Kustomizations["flux-system/b"].Suspended {
		t.Fatalf("state at 3s: %+v", s)
	}
}

// TestPrint checks the rendering of the timeline and the summary.
func TestPrint(t *testing.T) {
	stream := append(maintenance(),
		obs{0, pdb("web", "3", ""), false},
		obs{0, deploy("web", 4, 4), false},
		obs{3.2, deploy("web", 4, 2), false},
		obs{3.7, deploy("web", 4, 4), false},
	)
	var b strings.Builder
	if err := replay(targeted, stream).Print(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"   +1.0s  node n1 cordoned\n",
		"   +1.5s  kustomization flux-system/a suspended\n",
		"   +3.2s  deployment apps/web ready 2/4\n",
		"   +9.0s  kustomization flux-system/b applied r2\n",
		"APP       DESIRED  PDB FLOOR         MIN READY   MIN RATIO  BELOW FLOOR\n",
		"apps/web  4        3 (apps/web-pdb)  2 at +3.2s  0.50       2<3 +3.2s..+3.7s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
