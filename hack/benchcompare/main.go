// Command benchcompare times fluxgate's built-in policy set and, side by
// side in the same run, Gatekeeper's `gator bench` (Rego engine) on the
// same Deployment, and prints P50, P99 and mean for each with the ratio of
// gator's P50 to fluxgate's. `make bench-compare` builds gator into bin/
// and runs it; see the README, section Performance.
//
// fluxgate's engine is built as policy/bench_test.go builds it
// (BuiltinModules, Compile, NewEngine) and reviews the Deployment of
// policy/testdata/bench/deployment.yaml as a CREATE with the PodDisruption-
// Budget and HorizontalPodAutoscaler of related.yaml as related objects.
// Each sample is one Engine.Review (mutation, then validation), or one
// Engine.Validate of the already mutated Deployment with -validate-only.
// Before each sample the Deployment's label "revision" changes, as in
// policy/bench_test.go's "new" mode, so that every review is evaluated
// rather than answered from the engine's cache of recent decisions; with
// -repeated the same object is sent again (the cache's case: kustomize-
// controller's dry run of an unchanged object).
// gator reviews exactly the object fluxgate is given, written to a
// temporary file, against the ConstraintTemplates in hack/benchcompare/gator
// (an equivalent of a subset of the built-in rules); it does not mutate.
// Both sides are measured in turn, -rounds times, and the figures shown
// are the medians over the rounds, which a shared machine's bursts of load
// disturb less than a single run.
//
// Usage (from the repository root):
//
//	go run ./hack/benchcompare [-n 2000] [-rounds 3] [-warmup 10] [-validate-only] [-repeated] [-gator bin/gator-v3.23.1]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fluxgate/fluxgate/policy"
	"sigs.k8s.io/yaml"
)

// Options configure one comparison run.
type Options struct {
	// Iterations is the number of timed reviews on each side, in each
	// round.
	Iterations int
	// Rounds is the number of times both sides are measured, one after
	// the other; the figures shown are the medians over the rounds.
	Rounds int
	// Warmup is the number of untimed reviews run first on each side, in
	// each round.
	Warmup int
	// ValidateOnly times Engine.Validate on the Deployment with the
	// patch mutation would apply already applied, instead of
	// Engine.Review on the Deployment as written.
	ValidateOnly bool
	// Repeated sends the same object on every sample instead of one with
	// a new "revision" label.
	Repeated bool
	// Deployment is the YAML file whose first document is the Deployment
	// under review.
	Deployment string
	// Related is the YAML file of the objects handed to fluxgate as
	// related objects (the Deployment's PDB and HPA).
	Related string
	// Gator is the gator binary; empty skips Gatekeeper.
	Gator string
	// GatorPolicies is the folder of ConstraintTemplates and Constraints
	// gator evaluates.
	GatorPolicies string
}

// Stats are latency figures over a series of timed samples.
type Stats struct {
	Samples        int
	P50, P99, Mean time.Duration
}

// Result is what fluxgate's side of a run found and measured.
type Result struct {
	Stats
	// Patches and Denials count what one review of the object produced,
	// so that a run on an object nothing applies to is noticed.
	Patches, Denials int
}

// GatorResult is gator's side of a run, read from `gator bench -o json`.
type GatorResult struct {
	Stats
	Templates, Constraints int
	// Violations is the number of violations per review.
	Violations float64
}

func main() {
	var o Options
	flag.IntVar(&o.Iterations, "n", 2000, "timed reviews on each side, per round")
	flag.IntVar(&o.Rounds, "rounds", 3, "rounds of gator then fluxgate; the figures are medians over them")
	flag.IntVar(&o.Warmup, "warmup", 10, "untimed reviews first on each side, per round")
	flag.BoolVar(&o.ValidateOnly, "validate-only", false, "time validation alone, on the Deployment as mutation leaves it")
	flag.BoolVar(&o.Repeated, "repeated", false, "send fluxgate the same object every time (answered from its decision cache) instead of a new revision label each time")
	flag.StringVar(&o.Deployment, "deployment", "policy/testdata/bench/deployment.yaml", "YAML file whose first document is the Deployment under review")
	flag.StringVar(&o.Related, "related", "policy/testdata/bench/related.yaml", "YAML file of the Deployment's related objects (PDB, HPA)")
	flag.StringVar(&o.Gator, "gator", "", "gator binary to run `gator bench` with (empty: fluxgate only)")
	flag.StringVar(&o.GatorPolicies, "gator-policies", "hack/benchcompare/gator", "folder of gator's ConstraintTemplates and Constraints")
	flag.Parse()
	if err := Run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
}

// Run measures fluxgate and, when o.Gator is set, gator on the same
// Deployment and writes the figures to w.
func Run(ctx context.Context, o Options, w io.Writer) error {
	if o.Iterations < 1 || o.Rounds < 1 || o.Warmup < 0 {
		return fmt.Errorf("need at least one iteration and round and no negative warm-up, got -n %d -rounds %d -warmup %d", o.Iterations, o.Rounds, o.Warmup)
	}
	eng, err := builtinEngine(ctx)
	if err != nil {
		return err
	}
	in, err := benchInput(o.Deployment, o.Related)
	if err != nil {
		return err
	}
	mode := "mutation then validation (Engine.Review)"
	if o.ValidateOnly {
		mode = "validation alone (Engine.Validate), on the mutated Deployment"
		if err := applyMutation(ctx, eng, in); err != nil {
			return err
		}
	}

	// The object carries a revision label from the start, so that gator
	// reviews the object fluxgate does, label for label. In each round
	// gator runs first, in its own process, so that neither side's garbage
	// lands in the other's timings; rounds alternate the two sides, so
	// that a burst of load from elsewhere on a shared machine weighs on
	// one round of each rather than on one side.
	labels(in.Request.Object)["revision"] = "0"
	var (
		gs     []*GatorResult
		fs     []*Result
		ratios []float64
		rev    int
	)
	for range o.Rounds {
		if o.Gator != "" {
			g, err := runGator(ctx, o, in.Request.Object)
			if err != nil {
				return err
			}
			gs = append(gs, g)
		}
		f, err := timeFluxgate(ctx, eng, in, o, &rev)
		if err != nil {
			return err
		}
		fs = append(fs, f)
		if o.Gator != "" {
			ratios = append(ratios, float64(gs[len(gs)-1].P50)/float64(f.P50))
		}
	}

	fmt.Fprintf(w, "Deployment %s/%s from %s, %d round(s) of %d timed reviews after %d warm-up on each side\n",
		in.Request.Namespace, in.Request.Name, o.Deployment, o.Rounds, o.Iterations, o.Warmup)
	if o.Rounds > 1 {
		fmt.Fprintln(w, "(each figure is the median over the rounds)")
	}
	fmt.Fprintln(w)
	row := func(name string, s Stats) {
		fmt.Fprintf(w, "%-62s %10s %10s %10s\n", name, duration(s.P50), duration(s.P99), duration(s.Mean))
	}
	fmt.Fprintf(w, "%-62s %10s %10s %10s\n", "", "P50", "P99", "mean")
	if len(gs) > 0 {
		g := gs[0]
		row(fmt.Sprintf("gator %s (Rego, %d templates, %d constraints, validation)", gatorVersion(o.Gator), g.Templates, g.Constraints),
			medianStats(gs, func(g *GatorResult) Stats { return g.Stats }))
	}
	f := fs[0]
	row(fmt.Sprintf("fluxgate (built-in set, %d policies, %s)", len(eng.Set().Policies()), shortMode(o.ValidateOnly)),
		medianStats(fs, func(f *Result) Stats { return f.Stats }))
	sent := "a new revision label on every review, so no earlier decision can be reused"
	if o.Repeated {
		sent = "the same object on every review (the engine may answer it from its decision cache)"
	}
	fmt.Fprintf(w, "\nfluxgate: %s; %s; one review gives %d patch operation(s), %d denial(s)\n", mode, sent, f.Patches, f.Denials)
	if len(gs) > 0 {
		fmt.Fprintf(w, "gator: %.0f violation(s) per review; no mutation\n", gs[0].Violations)
		ratio := median(ratios)
		fmt.Fprintf(w, "ratio gator P50 / fluxgate P50: %.2f (%s)", ratio, verdict(ratio))
		if len(ratios) > 1 {
			shown := make([]string, len(ratios))
			for i, r := range ratios {
				shown[i] = fmt.Sprintf("%.2f", r)
			}
			fmt.Fprintf(w, "; per round: %s", strings.Join(shown, ", "))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// medianStats is the median of each figure over the rounds.
func medianStats[T any](rounds []T, stats func(T) Stats) Stats {
	var p50, p99, mean []float64
	for _, r := range rounds {
		s := stats(r)
		p50 = append(p50, float64(s.P50))
		p99 = append(p99, float64(s.P99))
		mean = append(mean, float64(s.Mean))
	}
	return Stats{
		Samples: len(rounds) * stats(rounds[0]).Samples,
		P50:     time.Duration(median(p50)),
		P99:     time.Duration(median(p99)),
		Mean:    time.Duration(median(mean)),
	}
}

// median of xs, the mean of the middle two for an even count.
func median(xs []float64) float64 {
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func shortMode(validateOnly bool) string {
	if validateOnly {
		return "validation"
	}
	return "mutation + validation"
}

// verdict says the ratio in words: above 1 fluxgate is faster.
func verdict(ratio float64) string {
	if ratio >= 1 {
		return fmt.Sprintf("fluxgate %.2f× faster", ratio)
	}
	return fmt.Sprintf("fluxgate %.2f× slower", 1/ratio)
}

// gatorVersion reads the version from a binary named gator-<version>.
func gatorVersion(bin string) string {
	if _, v, ok := strings.Cut(filepath.Base(bin), "gator-"); ok {
		return v
	}
	return filepath.Base(bin)
}

// duration shows d in µs below 10 ms and in ms above.
func duration(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

// builtinEngine builds the engine as policy/bench_test.go does.
func builtinEngine(ctx context.Context) (*policy.Engine, error) {
	mods, err := policy.BuiltinModules()
	if err != nil {
		return nil, fmt.Errorf("reading the built-in policies: %w", err)
	}
	set, err := policy.Compile(ctx, mods)
	if err != nil {
		return nil, fmt.Errorf("compiling the built-in policies: %w", err)
	}
	eng, err := policy.NewEngine(set, nil)
	if err != nil {
		return nil, fmt.Errorf("building the engine: %w", err)
	}
	return eng, nil
}

// readObjects reads the documents of a YAML file, split as
// policy/bench_test.go splits them.
func readObjects(path string) ([]map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading objects: %w", err)
	}
	var objs []map[string]any
	for i, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("reading document %d of %s: %w", i+1, path, err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no objects in %s", path)
	}
	return objs, nil
}

// benchInput is a CREATE of the file's first object with the related
// objects, as benchInput in policy/bench_test.go builds it.
func benchInput(deployment, related string) (*policy.Input, error) {
	objs, err := readObjects(deployment)
	if err != nil {
		return nil, err
	}
	dep := objs[0]
	rel, err := readObjects(related)
	if err != nil {
		return nil, err
	}
	r, err := policy.NewRelated(rel...)
	if err != nil {
		return nil, fmt.Errorf("indexing the related objects of %s: %w", related, err)
	}
	meta, _ := dep["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	if kind, _ := dep["kind"].(string); kind != "Deployment" || name == "" {
		return nil, fmt.Errorf("the first object of %s is %s %q, want a named Deployment", deployment, kind, name)
	}
	return &policy.Input{Request: policy.Request{
		Operation: policy.OperationCreate,
		Kind:      policy.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
		Namespace: ns, Name: name, Object: dep,
	}, Related: r}, nil
}

// applyMutation replaces the object under review by the one mutation
// returns, as the validating webhook sees it after the mutating one.
func applyMutation(ctx context.Context, eng *policy.Engine, in *policy.Input) error {
	d, err := eng.Mutate(ctx, in)
	if err != nil {
		return fmt.Errorf("mutating the Deployment: %w", err)
	}
	if d.Mutated == nil {
		return nil
	}
	// A copy, so that the revision labels set later never reach what the
	// engine may keep of the decision.
	raw, err := json.Marshal(d.Mutated)
	if err != nil {
		return fmt.Errorf("copying the mutated Deployment: %w", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("copying the mutated Deployment: %w", err)
	}
	in.Request.Object = obj
	return nil
}

// labels returns the object's metadata.labels, made when missing.
func labels(obj map[string]any) map[string]any {
	meta, ok := obj["metadata"].(map[string]any)
	if !ok {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	l, ok := meta["labels"].(map[string]any)
	if !ok {
		l = map[string]any{}
		meta["labels"] = l
	}
	return l
}

// timeFluxgate times o.Iterations reviews of in after o.Warmup untimed
// ones. Unless o.Repeated, each review gets the next revision label,
// counted on from *revision.
func timeFluxgate(ctx context.Context, eng *policy.Engine, in *policy.Input, o Options, revision *int) (*Result, error) {
	review := eng.Review
	if o.ValidateOnly {
		review = eng.Validate
	}
	l := labels(in.Request.Object)
	next := func() {
		if !o.Repeated {
			*revision++
			l["revision"] = strconv.Itoa(*revision)
		}
	}
	next()
	first, err := review(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("reviewing the Deployment: %w", err)
	}
	res := &Result{Patches: len(first.Patch), Denials: len(denials(first))}
	for range o.Warmup {
		next()
		if _, err := review(ctx, in); err != nil {
			return nil, fmt.Errorf("reviewing the Deployment: %w", err)
		}
	}
	samples := make([]time.Duration, 0, o.Iterations)
	for range o.Iterations {
		next()
		start := time.Now()
		_, err := review(ctx, in)
		samples = append(samples, time.Since(start))
		if err != nil {
			return nil, fmt.Errorf("reviewing the Deployment: %w", err)
		}
	}
	res.Stats = stats(samples)
	return res, nil
}

func denials(d *policy.Decision) []string {
	if !d.Denied() {
		return nil
	}
	return d.Messages(policy.ActionDeny)
}

// stats computes P50, P99 and mean the way gator bench does (linear
// interpolation between the nearest ranks), so both sides are comparable.
func stats(samples []time.Duration) Stats {
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var total time.Duration
	for _, d := range sorted {
		total += d
	}
	return Stats{
		Samples: len(sorted),
		P50:     percentile(sorted, 50),
		P99:     percentile(sorted, 99),
		Mean:    total / time.Duration(len(sorted)),
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := p / 100 * float64(len(sorted)-1)
	lower := int(rank)
	if lower+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	weight := rank - float64(lower)
	return time.Duration(float64(sorted[lower])*(1-weight) + float64(sorted[lower+1])*weight)
}

// gatorJSON is the part of `gator bench -o json` read here: one entry per
// engine, durations as Go duration strings.
type gatorJSON struct {
	Engine          string `json:"engine"`
	TemplateCount   int    `json:"templateCount"`
	ConstraintCount int    `json:"constraintCount"`
	TotalReviews    int    `json:"totalReviews"`
	ViolationCount  int    `json:"violationCount"`
	Latencies       struct {
		Mean string `json:"mean"`
		P50  string `json:"p50"`
		P99  string `json:"p99"`
	} `json:"latencies"`
}

// runGator writes obj where gator reads it and runs `gator bench` on it
// with the Rego engine.
func runGator(ctx context.Context, o Options, obj map[string]any) (*GatorResult, error) {
	dir, err := os.MkdirTemp("", "benchcompare-")
	if err != nil {
		return nil, fmt.Errorf("making a folder for gator's object: %w", err)
	}
	defer os.RemoveAll(dir)
	raw, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("writing the Deployment for gator: %w", err)
	}
	objFile := filepath.Join(dir, "deployment.yaml")
	if err := os.WriteFile(objFile, raw, 0o600); err != nil {
		return nil, fmt.Errorf("writing the Deployment for gator: %w", err)
	}
	cmd := exec.CommandContext(ctx, o.Gator, "bench", "--engine", "rego",
		"--filename", o.GatorPolicies, "--filename", objFile,
		"--iterations", fmt.Sprint(o.Iterations), "--warmup", fmt.Sprint(o.Warmup), "--output", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("running %s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return parseGator(stdout.Bytes())
}

// parseGator reads the Rego entry of `gator bench -o json`.
func parseGator(out []byte) (*GatorResult, error) {
	var results []gatorJSON
	if err := json.Unmarshal(out, &results); err != nil {
		return nil, fmt.Errorf("reading gator's JSON output: %w", err)
	}
	i := slices.IndexFunc(results, func(r gatorJSON) bool { return r.Engine == "rego" })
	if i < 0 {
		return nil, errors.New("gator's output has no result for the Rego engine")
	}
	r := results[i]
	g := &GatorResult{Templates: r.TemplateCount, Constraints: r.ConstraintCount}
	for _, f := range []struct {
		s string
		d *time.Duration
	}{{r.Latencies.P50, &g.P50}, {r.Latencies.P99, &g.P99}, {r.Latencies.Mean, &g.Mean}} {
		d, err := time.ParseDuration(f.s)
		if err != nil {
			return nil, fmt.Errorf("reading gator's latency %q: %w", f.s, err)
		}
		*f.d = d
	}
	g.Samples = r.TotalReviews
	if r.TotalReviews > 0 {
		g.Violations = float64(r.ViolationCount) / float64(r.TotalReviews)
	}
	return g, nil
}
