package upstream

import (
	"reflect"
	"strings"
	"testing"
)

func TestMerge(t *testing.T) {
	deny := finding{Policy: "rollout-strategy", Action: "deny", Kind: "Deployment", Namespace: "a", Name: "web", Message: "Recreate"}
	warn := finding{Policy: "replicas-ha", Action: "warn", Kind: "Deployment", Namespace: "a", Name: "web", Message: "1 replica"}
	reworded := deny
	reworded.Message = "Recreate, reworded"
	demoted := deny
	demoted.Action = "warn"
	tests := []struct {
		name    string
		old     []finding
		current []finding
		want    []string // the notes, in order of current
	}{
		{name: "kept", old: []finding{withWhy(deny, "because"), withWhy(warn, "so")}, current: []finding{deny, warn}, want: []string{"because", "so"}},
		{name: "new finding", old: []finding{withWhy(deny, "because")}, current: []finding{deny, warn}, want: []string{"because", "TODO"}},
		{name: "gone finding dropped", old: []finding{withWhy(deny, "because"), withWhy(warn, "so")}, current: []finding{warn}, want: []string{"so"}},
		{name: "reworded keeps the note for review", old: []finding{withWhy(deny, "because")}, current: []finding{reworded},
			want: []string{"TODO: review, this finding changed (it was deny: Recreate). Earlier note: because"}},
		{name: "demoted keeps the note for review", old: []finding{withWhy(deny, "because")}, current: []finding{demoted},
			want: []string{"TODO: review, this finding changed (it was deny: Recreate). Earlier note: because"}},
		{name: "unreviewed stays TODO", old: []finding{withWhy(deny, "TODO")}, current: []finding{reworded},
			want: []string{"TODO: review, this finding changed (it was deny: Recreate). Earlier note: TODO"}},
		{name: "duplicates matched once each", old: []finding{withWhy(deny, "one")}, current: []finding{deny, deny}, want: []string{"one", "TODO"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := merge(tt.old, tt.current)
			var notes []string
			for i, f := range got {
				notes = append(notes, f.Why)
				f.Why = ""
				if f != tt.current[i] {
					t.Errorf("finding %d changed: %v, want %v", i, f, tt.current[i])
				}
			}
			if !reflect.DeepEqual(notes, tt.want) {
				t.Errorf("notes %q, want %q", notes, tt.want)
			}
		})
	}
}

func TestDiffAndUnreviewed(t *testing.T) {
	a := finding{Policy: "p", Action: "deny", Kind: "Deployment", Name: "a", Message: "m", Why: "x"}
	b := finding{Policy: "p", Action: "warn", Kind: "Deployment", Name: "b", Message: "m", Why: "TODO"}
	c := finding{Policy: "p", Action: "warn", Kind: "Deployment", Name: "c", Message: "m"}
	tests := []struct {
		name           string
		want, got      []finding
		missing, extra []finding
	}{
		{name: "same, notes ignored", want: []finding{a, b}, got: []finding{withWhy(a, ""), withWhy(b, "")}},
		{name: "gone", want: []finding{a, b}, got: []finding{a}, missing: []finding{b}},
		{name: "new", want: []finding{a}, got: []finding{a, c}, extra: []finding{c}},
		{name: "duplicate counted", want: []finding{a}, got: []finding{a, a}, extra: []finding{a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			missing, extra := diff(tt.want, tt.got)
			if !reflect.DeepEqual(missing, tt.missing) || !reflect.DeepEqual(extra, tt.extra) {
				t.Errorf("missing %v extra %v, want %v and %v", missing, extra, tt.missing, tt.extra)
			}
		})
	}
	if got := unreviewed([]finding{a, b, c}); len(got) != 2 || got[0].Name != "b" || got[1].Name != "c" {
		t.Errorf("unreviewed = %v, want b and c", got)
	}
}

func TestGoldenRoundTrip(t *testing.T) {
	g := &golden{Source: "s", Project: "P", Versions: []string{"m@v1"}, Summary: summary{Objects: 3, Denied: 1},
		Findings: []finding{{Policy: "p", Action: "deny", Kind: "Deployment", Namespace: "n", Name: "x", Message: "a: b", Why: "line one\nline two"}}}
	b, err := encodeGolden(g)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), goldenHeader) {
		t.Errorf("no header:\n%s", b)
	}
	file := t.TempDir() + "/s.golden.yaml"
	writeGolden(t, file, g)
	back, err := readGolden(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, g) {
		t.Errorf("read back %+v, want %+v", back, g)
	}
}

func withWhy(f finding, why string) finding { f.Why = why; return f }
