package scenario

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/test/e2e/recorder"
)

// ZeroDowntimeOptions size scenario 1.
type ZeroDowntimeOptions struct {
	// Teams × AppsPerTeam apps, one Kustomization per team.
	Teams, AppsPerTeam int
	// Debounce and Settle of the MaintenanceGuard.
	Debounce, Settle time.Duration
	// Reboot is how long each node stays NotReady after its drain.
	Reboot time.Duration
	// Narrate receives the story as it happens (nil: silent).
	Narrate io.Writer
}

// ZeroDowntimeResult is what scenario 1 observed.
type ZeroDowntimeResult struct {
	// Recorder holds the timeline, watched through the whole run.
	Recorder *recorder.Recorder
	// Kustomizations are the guarded ones, "namespace/name".
	Kustomizations []string
	// Before and After are the revisions applied before the maintenance
	// and pushed in its middle.
	Before, After string
	// FirstCordon, Pushed and LastUncordon mark the maintenance.
	FirstCordon, Pushed, LastUncordon time.Time
	// ToAllPaused is from the first cordon to every Kustomization
	// suspended; ToAllResumed and ToAllApplied from the last uncordon to
	// every one resumed and to every one having applied After; ToRolledOut
	// from the last uncordon to every Deployment running After, all ready.
	ToAllPaused, ToAllResumed, ToAllApplied, ToRolledOut time.Duration
	// AppliedDuringMaintenance lists applies between the first cordon and
	// the resume (must be empty).
	AppliedDuringMaintenance []recorder.Event
	// Apps summarises each Deployment: desired, PDB floor, minimum ready.
	Apps []recorder.AppSummary
	// RolloutDips lists moments after the resume when a Deployment had
	// fewer ready replicas than desired (must be empty: maxUnavailable 0).
	RolloutDips []recorder.Event
}

// ZeroDowntime is scenario 1: Flux delivers a fleet from Git; every node
// is drained, rebooted and uncordoned in turn while a new revision is
// pushed in the middle. The guard must pause every team's Kustomization,
// Flux must apply nothing until the maintenance is over, PDBs must hold,
// and the new revision must roll out after the settle period without a
// ready replica lost.
func ZeroDowntime(ctx context.Context, e *Env, o ZeroDowntimeOptions) (*ZeroDowntimeResult, error) {
	const ns, artifact = "zero-downtime", "zero-downtime"
	say := narrator(o.Narrate)
	fleet := NewFleet(o.Teams, o.AppsPerTeam)
	res := &ZeroDowntimeResult{}

	// 1. The fleet at 1.0.0, delivered by one Kustomization per team.
	if err := e.CreateNamespace(ctx, ns, map[string]string{"fluxgate.dev/e2e": ns}); err != nil {
		return nil, err
	}
	var err error
	if res.Before, err = e.Repo.Commit(fleet.Files("1.0.0"), "fleet 1.0.0"); err != nil {
		return nil, err
	}
	if err := e.PublishAs(ctx, artifact, res.Before); err != nil {
		return nil, err
	}
	var keys []types.NamespacedName
	namespaces := []string{ns}
	for _, t := range fleet {
		ks := KustomizationOf(artifact, ns, "team-"+t.Name, "./"+t.Path())
		if err := e.Client.Create(ctx, ks); err != nil {
			return nil, fmt.Errorf("create Kustomization: %w", err)
		}
		keys = append(keys, types.NamespacedName{Namespace: ns, Name: ks.GetName()})
		res.Kustomizations = append(res.Kustomizations, ns+"/"+ks.GetName())
		namespaces = append(namespaces, t.Namespace())
	}
	say("Git revision %s (every app at 1.0.0): %d apps in %d teams, one Flux Kustomization per team", short(res.Before), fleet.Apps(), len(fleet))
	if err := e.WaitKustomizations(ctx, keys, 2*time.Minute, func(st KustomizationState) bool {
		return st.LastAppliedRevision == res.Before && st.Ready == "True"
	}); err != nil {
		return nil, fmt.Errorf("first revision not applied: %w", err)
	}
	if err := e.waitRolledOut(ctx, namespaces[1:], "1.0.0", 2*time.Minute); err != nil {
		return nil, err
	}
	say("Flux applied it; every Deployment is ready")

	// 2. The guard, and a recorder watching everything from now on.
	if err := e.Guard(ctx, ns, GuardSpec(map[string]string{"fluxgate.dev/e2e": ns}, o.Debounce.String(), o.Settle.String())); err != nil {
		return nil, err
	}
	res.Recorder = recorder.New(recorder.Options{Namespaces: namespaces, Kustomizations: res.Kustomizations})
	if err := res.Recorder.Start(ctx, e.Cluster.RESTConfig()); err != nil {
		return nil, fmt.Errorf("start the recorder: %w", err)
	}
	say("MaintenanceGuard %q watches the nodes (debounce %s, settle %s)", ns, o.Debounce, o.Settle)

	// 3. Node after node: drain, reboot, uncordon; the new revision is
	// pushed half-way.
	for i, node := range e.Cluster.Nodes {
		if i == len(e.Cluster.Nodes)/2 {
			if res.After, err = e.Repo.Commit(fleet.Files("2.0.0"), "fleet 2.0.0"); err != nil {
				return nil, err
			}
			if err := e.PublishAs(ctx, artifact, res.After); err != nil {
				return nil, err
			}
			res.Pushed = time.Now()
			say("pushed Git revision %s (every app to 2.0.0) in the middle of the maintenance", short(res.After))
		}
		if err := e.Cluster.Cordon(ctx, node); err != nil {
			return nil, err
		}
		if i == 0 {
			res.FirstCordon = time.Now()
			say("%s cordoned: maintenance begins", node)
			if err := e.WaitKustomizations(ctx, keys, o.Debounce+30*time.Second, func(st KustomizationState) bool { return st.Suspended }); err != nil {
				return nil, fmt.Errorf("not paused: %w", err)
			}
			say("guard paused %d Kustomizations after %.1fs: %s", len(keys), time.Since(res.FirstCordon).Seconds(), strings.Join(res.Kustomizations, ", "))
		} else {
			say("%s cordoned", node)
		}
		evicted, err := e.podsOn(ctx, node)
		if err != nil {
			return nil, err
		}
		if err := e.Cluster.Drain(ctx, node); err != nil {
			return nil, fmt.Errorf("drain %s: %w", node, err)
		}
		say("%s drained: %d pods evicted through the Eviction API, PDBs respected (lowest ready so far: %s)", node, evicted, lowest(res.Recorder.Summary()))
		if err := e.Cluster.SetNodeReady(ctx, node, false); err != nil {
			return nil, err
		}
		if err := e.Cluster.WaitNodeReady(ctx, node, false); err != nil {
			return nil, err
		}
		time.Sleep(o.Reboot)
		if err := e.Cluster.SetNodeReady(ctx, node, true); err != nil {
			return nil, err
		}
		if err := e.Cluster.WaitNodeReady(ctx, node, true); err != nil {
			return nil, err
		}
		if err := e.Cluster.Uncordon(ctx, node); err != nil {
			return nil, err
		}
		res.LastUncordon = time.Now()
		say("%s rebooted (NotReady for %s), Ready again and uncordoned", node, o.Reboot)
	}

	// 4. After the settle period the guard resumes, Flux applies the new
	// revision and the Deployments roll.
	say("last node back: the guard waits %s for the cluster to settle", o.Settle)
	if err := e.WaitKustomizations(ctx, keys, o.Settle+time.Minute, func(st KustomizationState) bool {
		return !st.Suspended && st.LastAppliedRevision == res.After
	}); err != nil {
		return nil, fmt.Errorf("not resumed and applied: %w", err)
	}
	if err := e.waitRolledOut(ctx, namespaces[1:], "2.0.0", 2*time.Minute); err != nil {
		return nil, err
	}
	res.ToRolledOut = time.Since(res.LastUncordon)
	// The last watch events may trail the API by a moment.
	time.Sleep(time.Second)

	rec := res.Recorder
	res.ToAllPaused, _ = rec.TimeToAllSuspended(res.FirstCordon)
	res.ToAllResumed, _ = rec.TimeToAllResumed(res.LastUncordon)
	res.ToAllApplied, _ = rec.TimeToAllApplied(res.LastUncordon, res.After)
	resumed := res.LastUncordon.Add(res.ToAllResumed)
	firstResume, _ := rec.TimeUntil(res.LastUncordon, func(s recorder.State) bool {
		return !rec.AllKustomizations(s, func(k recorder.KustomizationState) bool { return k.Suspended })
	})
	res.AppliedDuringMaintenance = rec.AppliedBetween(res.FirstCordon, res.LastUncordon.Add(firstResume).Add(-time.Millisecond))
	res.Apps = rec.Summary()
	for _, ev := range rec.Timeline() {
		if ev.Kind == recorder.DeploymentReady && ev.At.After(resumed) && ev.ReadyReplicas < ev.Replicas {
			res.RolloutDips = append(res.RolloutDips, ev)
		}
	}
	say("guard resumed every Kustomization %.1fs after the last uncordon (reconcile.fluxcd.io/requestedAt); Flux applied %s; rollout done %.1fs after the last uncordon",
		res.ToAllResumed.Seconds(), short(res.After), res.ToRolledOut.Seconds())
	return res, e.DeleteGuard(ctx, ns)
}

// podsOn counts the pods a drain of node will evict.
func (e *Env) podsOn(ctx context.Context, node string) (int, error) {
	var pods corev1.PodList
	if err := e.Client.List(ctx, &pods, client.MatchingFields{"spec.nodeName": node}); err != nil {
		return 0, fmt.Errorf("list pods on %s: %w", node, err)
	}
	return len(pods.Items), nil
}

// waitRolledOut waits until every Deployment of namespaces runs version
// with all replicas updated, ready and available.
func (e *Env) waitRolledOut(ctx context.Context, namespaces []string, version string, timeout time.Duration) error {
	return poll(ctx, timeout, func(ctx context.Context) error {
		for _, ns := range namespaces {
			var deps appsv1.DeploymentList
			if err := e.Client.List(ctx, &deps, client.InNamespace(ns)); err != nil {
				return fmt.Errorf("list Deployments: %w", err)
			}
			for _, d := range deps.Items {
				want := *d.Spec.Replicas
				st := d.Status
				if !strings.HasSuffix(d.Spec.Template.Spec.Containers[0].Image, ":"+version) || st.ObservedGeneration < d.Generation ||
					st.UpdatedReplicas != want || st.ReadyReplicas != want || st.AvailableReplicas != want || st.Replicas != want {
					return fmt.Errorf("%s/%s not rolled out to %s: %+v", ns, d.Name, version, st)
				}
			}
		}
		return nil
	})
}

// lowest names the app with the lowest ready ratio seen.
func lowest(apps []recorder.AppSummary) string {
	var low *recorder.AppSummary
	for i := range apps {
		if apps[i].FullyReadyAt.IsZero() {
			continue
		}
		if low == nil || apps[i].MinRatio < low.MinRatio {
			low = &apps[i]
		}
	}
	if low == nil {
		return "none yet"
	}
	return fmt.Sprintf("%s %d/%d, PDB floor %d", low.Deployment, low.MinReady, low.Desired, low.Floor)
}

// narrator prints timestamped lines to w, or nothing when w is nil.
func narrator(w io.Writer) func(format string, args ...any) {
	start := time.Now()
	return func(format string, args ...any) {
		if w != nil {
			fmt.Fprintf(w, "%7.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
		}
	}
}

// short abbreviates a Flux revision, main@sha1:<hash>, to its first 7
// hex digits.
func short(rev string) string {
	if i := strings.LastIndex(rev, ":"); i >= 0 && len(rev) > i+8 {
		return rev[:i+8]
	}
	return rev
}
