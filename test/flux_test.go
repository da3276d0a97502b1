package test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
)

// fluxRepo makes a Git repository (go-git) shaped like Flux's
// kustomize-helm example from ../fluxbuild/testdata/fleet: clusters/staging
// and clusters/production with their flux-system sync, apps.yaml and
// infrastructure.yaml (different postBuild.substitute, a substituteFrom
// ConfigMap, a SOPS-encrypted Secret, a foreign GitRepository), apps/base,
// apps/staging, apps/production, infrastructure/, and a loose directory no
// Kustomization reaches.
func fluxRepo(t *testing.T) string {
	t.Helper()
	dir, _ := gitRepo(t, filepath.Join("..", "fluxbuild", "testdata", "fleet"), "fleet")
	return dir
}

// fluxFindings renders results as "action policy cluster origin Kind ns/name".
func fluxFindings(rep jsonReport) []string {
	var out []string
	for _, r := range rep.Results {
		msg := ""
		if r.Policy == "fluxgate" {
			msg = ": " + r.Message
		}
		out = append(out, fmt.Sprintf("%s %s [%s] [%s] %s %s/%s%s", r.Action, r.Policy, r.Cluster, r.Origin, r.Kind, r.Namespace, r.Name, msg))
	}
	slices.Sort(out)
	return out
}

// wantFlux is what a reviewer expects of the repository: each cluster's
// podinfo budget is fine in its own cluster (not an overlap of two), the
// ${replicas} of staging (1) is evaluated, production's ingress gets 3
// replicas from postBuild.substitute and its namespace from the
// substituteFrom ConfigMap, and what cannot be resolved offline is warned.
var wantFlux = []string{
	"deny pdb-coverage [] [] Deployment loose/loose",
	"deny pdb-coverage [clusters/production] [Kustomization flux-system/infrastructure] Deployment infra-production/ingress",
	"mutate rollout-strategy [] [] Deployment loose/loose",
	"warn fluxgate [clusters/production] [Kustomization flux-system/flux-system] Kustomization flux-system/infrastructure: postBuild.substituteFrom: Secret flux-system/cluster-secrets is SOPS-encrypted and cannot be read offline; its variables are unresolved",
	"warn fluxgate [clusters/production] [Kustomization flux-system/flux-system] Kustomization flux-system/infrastructure: variable ${ingress_token} is not set by Kustomization flux-system/infrastructure (unresolved: Secret flux-system/cluster-secrets is SOPS-encrypted and cannot be read offline): Flux substitutes an empty string",
	"warn fluxgate [clusters/production] [Kustomization flux-system/flux-system] Kustomization flux-system/tenants: its sourceRef GitRepository flux-system/tenants (https://example.com/tenants.git) is not the repository being checked (ssh://git@example.com/fleet.git); not followed",
	"warn fluxgate [clusters/staging] [Kustomization flux-system/flux-system] Kustomization flux-system/infrastructure: variable ${ingress_token} is not set by Kustomization flux-system/infrastructure: Flux substitutes an empty string",
	"warn readiness-probe [] [] Deployment loose/loose",
	"warn replicas-ha [clusters/staging] [Kustomization flux-system/apps] Deployment podinfo/podinfo",
	"warn replicas-ha [clusters/staging] [Kustomization flux-system/infrastructure] Deployment infra-staging/ingress",
}

func TestCheckFluxClusters(t *testing.T) {
	dir := fluxRepo(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "work tree", args: []string{dir}, want: wantFlux},
		{name: "work tree with --root", args: []string{"--root", dir, dir}, want: wantFlux},
		{name: "git revision", args: []string{"--git", dir, "--ref", "HEAD"}, want: wantFlux},
		{name: "one cluster", args: []string{filepath.Join(dir, "clusters", "staging")}, want: []string{
			"warn fluxgate [clusters/staging] [Kustomization flux-system/flux-system] Kustomization flux-system/infrastructure: variable ${ingress_token} is not set by Kustomization flux-system/infrastructure: Flux substitutes an empty string",
			"warn replicas-ha [clusters/staging] [Kustomization flux-system/apps] Deployment podinfo/podinfo",
			"warn replicas-ha [clusters/staging] [Kustomization flux-system/infrastructure] Deployment infra-staging/ingress",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, res := checkJSON(t, tt.args...)
			wantDeny := slices.ContainsFunc(tt.want, func(s string) bool { return strings.HasPrefix(s, "deny ") })
			if (res.code == 1) != wantDeny || res.code > 1 {
				t.Errorf("exit %d (deny expected: %v): %s", res.code, wantDeny, res.stderr)
			}
			got := fluxFindings(rep)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestCheckFluxOutputFormats: every format names the cluster and the
// Kustomization an object came from.
func TestCheckFluxOutputFormats(t *testing.T) {
	dir := fluxRepo(t)
	const want = "Deployment infra-production/ingress (cluster clusters/production, Kustomization flux-system/infrastructure)"
	for _, format := range []string{"text", "junit", "sarif"} {
		t.Run(format, func(t *testing.T) {
			res := runFluxgate(t, "", "check", "-o", format, dir)
			if res.code != 1 {
				t.Fatalf("exit %d, want 1: %s", res.code, res.stderr)
			}
			if !strings.Contains(res.stdout, want) {
				t.Errorf("output does not name the cluster and Kustomization (%q):\n%s", want, res.stdout)
			}
		})
	}
}

// TestCheckChangedFrom: --changed-from reports only the findings a change
// introduces, per cluster and Kustomization, and exits on them alone.
func TestCheckChangedFrom(t *testing.T) {
	dir := fluxRepo(t)
	// Unchanged: the loose Deployment's denial is old, so nothing is new.
	rep, res := checkJSON(t, "--changed-from", "HEAD", dir)
	if res.code != 0 || len(rep.Results) != 0 {
		t.Fatalf("unchanged work tree: exit %d, results %v: %s", res.code, fluxFindings(rep), res.stderr)
	}
	// Dropping the podinfo budget from the base: production's four pods
	// lose it (staging runs one pod, which needs none, but the advice of
	// its replicas-ha warning now asks for a budget too: a new message).
	kust := filepath.Join(dir, "apps", "base", "podinfo", "kustomization.yaml")
	b, err := os.ReadFile(kust)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kust, []byte(strings.Replace(string(b), "  - pdb.yaml\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"deny pdb-coverage [clusters/production] [Kustomization flux-system/apps] Deployment podinfo/podinfo",
		"warn replicas-ha [clusters/staging] [Kustomization flux-system/apps] Deployment podinfo/podinfo",
	}
	rep, res = checkJSON(t, "--changed-from", "HEAD", dir)
	if got := fluxFindings(rep); res.code != 1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("work tree: exit %d, findings:\n%s\nwant exit 1 and:\n%s", res.code, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The same change committed, checked as a revision against its parent.
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	commitAll(t, repo, "apps: no budget")
	rep, res = checkJSON(t, "--git", dir, "--ref", "HEAD", "--changed-from", "HEAD~1")
	if got := fluxFindings(rep); res.code != 1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("revision: exit %d, findings:\n%s\nwant exit 1 and:\n%s", res.code, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
