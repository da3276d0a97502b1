package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// summary is the comparable gist of an Object.
type summary struct {
	Set, File string
	Line      int
	Kind, NS  string
	Name      string
}

func (s summary) String() string {
	return fmt.Sprintf("{Set:%q File:%q Line:%d %s %s/%s}", s.Set, s.File, s.Line, s.Kind, s.NS, s.Name)
}

func summarize(objs []Object) []summary {
	out := make([]summary, len(objs))
	for i, o := range objs {
		out[i] = summary{Set: o.Set, File: o.File, Line: o.Line, Kind: o.Kind(), NS: o.Namespace(), Name: o.Name()}
	}
	return out
}

func checkSummaries(t *testing.T, got []Object, want []summary) {
	t.Helper()
	gs := summarize(got)
	if fmt.Sprint(gs) == fmt.Sprint(want) {
		return
	}
	var b strings.Builder
	for i := 0; i < len(gs) || i < len(want); i++ {
		var g, w string
		if i < len(gs) {
			g = gs[i].String()
		}
		if i < len(want) {
			w = want[i].String()
		}
		mark := " "
		if g != w {
			mark = "!"
		}
		fmt.Fprintf(&b, "%s %2d got  %s\n       want %s\n", mark, i, g, w)
	}
	t.Errorf("objects differ:\n%s", b.String())
}

// field walks nested maps by keys.
func field(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
