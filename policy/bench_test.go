package policy

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

func readObjects(b testing.TB, path string) []map[string]any {
	b.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var objs []map[string]any
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			b.Fatal(err)
		}
		objs = append(objs, obj)
	}
	return objs
}

func builtinEngine(b testing.TB) *Engine {
	b.Helper()
	mods, err := BuiltinModules()
	if err != nil {
		b.Fatal(err)
	}
	set, err := Compile(context.Background(), mods)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := NewEngine(set, nil)
	if err != nil {
		b.Fatal(err)
	}
	return eng
}

// BenchmarkReviewDeployment measures the whole built-in set (mutation,
// then validation) on one typical Deployment with its PDB and HPA as
// related objects: the work the webhook does per admission request.
// "new" changes a label on every iteration, so every review is evaluated;
// "repeated" sends the same object again, as kustomize-controller's
// dry-run does for every unchanged object on every interval, and is
// answered from the decision cache.
func BenchmarkReviewDeployment(b *testing.B) {
	benchDeployment(b, nil, func(eng *Engine, ctx context.Context, in *Input) (*Decision, error) { return eng.Review(ctx, in) })
}

// BenchmarkReviewCompliantDeployment is BenchmarkReviewDeployment on a
// Deployment no policy patches (maxUnavailable already 0), as most
// objects of a repository that fluxgate checks in its pipeline: one query
// is the whole review.
func BenchmarkReviewCompliantDeployment(b *testing.B) {
	compliant := func(dep map[string]any) {
		dep["spec"].(map[string]any)["strategy"].(map[string]any)["rollingUpdate"].(map[string]any)["maxUnavailable"] = 0
	}
	benchDeployment(b, compliant, func(eng *Engine, ctx context.Context, in *Input) (*Decision, error) { return eng.Review(ctx, in) })
}

// BenchmarkValidateDeployment measures validation alone, the work of the
// validating webhook once mutation has happened.
func BenchmarkValidateDeployment(b *testing.B) {
	mutated := func(dep map[string]any) {
		dep["spec"].(map[string]any)["strategy"].(map[string]any)["rollingUpdate"].(map[string]any)["maxUnavailable"] = 0
	}
	benchDeployment(b, mutated, func(eng *Engine, ctx context.Context, in *Input) (*Decision, error) { return eng.Validate(ctx, in) })
}

func benchDeployment(b *testing.B, edit func(map[string]any), review func(*Engine, context.Context, *Input) (*Decision, error)) {
	for _, mode := range []string{"new", "repeated"} {
		b.Run(mode, func(b *testing.B) {
			eng := builtinEngine(b)
			dep := readObjects(b, "testdata/bench/deployment.yaml")[0]
			if edit != nil {
				edit(dep)
			}
			labels := dep["metadata"].(map[string]any)["labels"].(map[string]any)
			in := benchInput(b, dep)
			ctx := context.Background()
			d, err := review(eng, ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			if d.Denied() {
				b.Fatalf("want no denial, got %+v", d.Findings)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			i := 0
			for b.Loop() {
				if mode == "new" {
					i++
					labels["revision"] = strconv.Itoa(i)
				}
				if _, err := review(eng, ctx, in); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
			if hits, _ := eng.CacheStats(); (hits > 0) != (mode == "repeated") {
				b.Fatalf("%d cache hits in mode %s", hits, mode)
			}
		})
	}
}

// benchInput is a CREATE of dep with the bench PDB and HPA as related
// objects.
func benchInput(b *testing.B, dep map[string]any) *Input {
	b.Helper()
	related, err := NewRelated(readObjects(b, "testdata/bench/related.yaml")...)
	if err != nil {
		b.Fatal(err)
	}
	return &Input{Request: Request{
		Operation: OperationCreate,
		Kind:      GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
		Namespace: "apps", Name: "podinfo", Object: dep,
	}, Related: related}
}

// cpuClock measures the process's CPU time (user and system, every
// thread, the garbage collector's included) across a benchmark loop. On a
// machine shared with other work, wall-clock ns/op grows with the load;
// CPU time per operation does not, so the benchmarks report both.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{start: testenv.ProcessCPU()} }

// report adds cpu-ns/op to the benchmark's results.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(testenv.ProcessCPU()-c.start)/float64(b.N), "cpu-ns/op")
}
