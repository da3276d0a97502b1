package upstream

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/policy"
)

// golden is the content of one <source>.golden.yaml.
type golden struct {
	Source   string   `yaml:"source"`
	Project  string   `yaml:"project"`
	Versions []string `yaml:"versions"`
	// Summary counts objects read and objects with at least one finding
	// of each action.
	Summary  summary   `yaml:"summary"`
	Findings []finding `yaml:"findings"`
}

// summary counts, per source, the objects read and the objects with at
// least one finding of each action (not the findings themselves).
type summary struct {
	Objects int `yaml:"objects"`
	Denied  int `yaml:"denied"`
	Warned  int `yaml:"warned"`
	Mutated int `yaml:"mutated"`
}

// finding is one result of fluxgate check, with the reviewer's note.
type finding struct {
	Policy    string `yaml:"policy"`
	Action    string `yaml:"action"`
	Kind      string `yaml:"kind"`
	Namespace string `yaml:"namespace"`
	Name      string `yaml:"name"`
	Message   string `yaml:"message"`
	// Why says why a user of the upstream project should act on the
	// finding; "TODO..." until a reviewer writes it.
	Why string `yaml:"why"`
}

// todo starts the note of a finding nobody has reviewed yet.
const todo = "TODO"

// key identifies a finding: everything but the note.
func (f finding) key() string {
	return strings.Join([]string{f.Policy, f.Action, f.Kind, f.Namespace, f.Name, f.Message}, "\x00")
}

// object identifies the object and policy of a finding, whatever its
// action and message: a finding whose wording or action changed keeps its
// earlier note, marked for review.
func (f finding) object() string {
	return strings.Join([]string{f.Policy, f.Kind, f.Namespace, f.Name}, "\x00")
}

func (f finding) String() string {
	return fmt.Sprintf("%s %s %s %s/%s: %s", f.Action, f.Policy, f.Kind, f.Namespace, f.Name, f.Message)
}

func compareFindings(a, b finding) int {
	return cmp.Or(
		cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Policy, b.Policy), cmp.Compare(a.Action, b.Action), cmp.Compare(a.Message, b.Message),
	)
}

// fromReport turns a check report into sorted findings without notes, and
// the summary.
func fromReport(rep *check.Report) ([]finding, summary) {
	out := make([]finding, 0, len(rep.Results))
	objects := map[string]map[string]bool{} // action -> objects
	for _, r := range rep.Results {
		out = append(out, finding{
			Policy: r.Policy, Action: r.Action, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Message: r.Message,
		})
		if objects[r.Action] == nil {
			objects[r.Action] = map[string]bool{}
		}
		objects[r.Action][r.Kind+"/"+r.Namespace+"/"+r.Name] = true
	}
	slices.SortStableFunc(out, compareFindings)
	return out, summary{
		Objects: rep.Summary.Objects,
		Denied:  len(objects[string(policy.ActionDeny)]),
		Warned:  len(objects[string(policy.ActionWarn)]),
		Mutated: len(objects[string(policy.ActionMutate)]),
	}
}

// merge gives each of the current findings (sorted, without notes) the
// note of the same finding in old. A finding whose object and policy match
// an unmatched old finding of which only the action or message differs
// keeps that note, marked for review; any other new finding gets "TODO".
func merge(old, current []finding) []finding {
	exact := map[string][]int{}
	byObject := map[string][]int{}
	for i, f := range old {
		exact[f.key()] = append(exact[f.key()], i)
	}
	used := make([]bool, len(old))
	out := make([]finding, len(current))
	var pending []int
	for i, f := range current {
		out[i] = f
		if ids := exact[f.key()]; len(ids) > 0 {
			out[i].Why = old[ids[0]].Why
			used[ids[0]] = true
			exact[f.key()] = ids[1:]
			continue
		}
		pending = append(pending, i)
	}
	for i, f := range old {
		if !used[i] {
			byObject[f.object()] = append(byObject[f.object()], i)
		}
	}
	for _, i := range pending {
		f := out[i]
		ids := byObject[f.object()]
		if len(ids) == 0 {
			out[i].Why = todo
			continue
		}
		was := old[ids[0]]
		byObject[f.object()] = ids[1:]
		note := strings.TrimSpace(strings.TrimPrefix(was.Why, todo))
		if strings.HasPrefix(was.Why, todo) {
			note = todo
		}
		out[i].Why = fmt.Sprintf("%s: review, this finding changed (it was %s: %s). Earlier note: %s", todo, was.Action, was.Message, note)
	}
	return out
}

// diff lists the findings of want missing from got and those of got not
// in want, ignoring notes.
func diff(want, got []finding) (missing, extra []finding) {
	return minus(want, got), minus(got, want)
}

// minus lists the findings of a that b does not have, counting repeats.
func minus(a, b []finding) []finding {
	count := map[string]int{}
	for _, f := range b {
		count[f.key()]++
	}
	var out []finding
	for _, f := range a {
		if count[f.key()] > 0 {
			count[f.key()]--
			continue
		}
		out = append(out, f)
	}
	return out
}

// unreviewed lists the findings whose note is missing or starts "TODO".
func unreviewed(fs []finding) []finding {
	var out []finding
	for _, f := range fs {
		if w := strings.TrimSpace(f.Why); w == "" || strings.HasPrefix(w, todo) {
			out = append(out, f)
		}
	}
	return out
}

// readGolden reads a golden file; a missing file is an empty golden.
func readGolden(file string) (*golden, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return &golden{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read golden file: %w", err)
	}
	g := &golden{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(g); err != nil {
		return nil, fmt.Errorf("golden file %s: %w", file, err)
	}
	return g, nil
}

// goldenHeader starts every golden file.
const goldenHeader = `# Findings of fluxgate check, default configuration, on upstream manifests
# (test/testdata/upstream/sources.yaml names them, with their provenance).
# Every finding's "why" is a reviewer's note: why a user of the project
# should act on it, or what to do where it is debatable. Regenerate with
#   go test ./test/upstream/ -run TestUpstream -update
# which keeps the notes of findings that remain and marks new or changed
# ones "TODO"; the test fails until each TODO is reviewed.
`

// encodeGolden renders g with its header.
func encodeGolden(g *golden) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(goldenHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(g); err != nil {
		return nil, fmt.Errorf("encode golden file of %s: %w", g.Source, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode golden file of %s: %w", g.Source, err)
	}
	return buf.Bytes(), nil
}
