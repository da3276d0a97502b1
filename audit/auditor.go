package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/policy"
)

// Defaults of the audit inside `fluxgate serve`.
const (
	// DefaultInterval is how often the whole cluster is audited again,
	// beside the audits that changes trigger.
	DefaultInterval = 10 * time.Minute
	// DefaultRate bounds the objects evaluated per second: at about a
	// millisecond of CPU each when not cached, at most a tenth of a core,
	// so admission keeps its cores; 10,000 workloads take under two
	// minutes.
	DefaultRate = 100
	// settle is how long changes to a namespace are gathered before it is
	// audited again, so that an apply of many objects costs one audit.
	settle = 2 * time.Second
)

// Auditor audits the cluster from inside `fluxgate serve`: every namespace
// at start, when the active policy set or configuration changes, and
// every Interval; one namespace a moment after one of its audited objects
// changes. It runs on one goroutine of its own at a bounded rate and
// publishes Reports (see Publish); add it to the manager, which runs it on
// the leader only.
type Auditor struct {
	// Client writes Reports; Reader lists the audited objects (the
	// manager's cache, whose informers the webhook already runs).
	Client client.Client
	Reader client.Reader
	// Informers, when set, is watched for changes of audited objects.
	Informers cache.Informers
	// Engine returns the active engine, nil while none is loaded.
	Engine func() *policy.Engine
	// Interval between whole-cluster audits (DefaultInterval when 0);
	// Rate bounds objects evaluated per second (DefaultRate when 0).
	Interval time.Duration
	Rate     float64
	Log      logr.Logger
	Metrics  *Metrics

	mu      sync.Mutex
	dirty   map[string]bool
	wake    chan struct{}
	noAPI   bool
	limiter *rate.Limiter
	// memo holds each namespace's last audit, for the engine memoEngine.
	memo       map[string]namespaceAudit
	memoEngine *policy.Engine
	evaluated  atomic.Int64
}

// NeedLeaderElection makes the manager run the audit on the leader only:
// one writer of Reports.
func (a *Auditor) NeedLeaderElection() bool { return true }

// Changed marks namespace ns for a new audit.
func (a *Auditor) Changed(ns string) {
	a.mu.Lock()
	if a.dirty == nil {
		a.dirty = map[string]bool{}
	}
	a.dirty[ns] = true
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Start runs the audit until ctx ends.
func (a *Auditor) Start(ctx context.Context) error {
	interval := a.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	r := a.Rate
	if r <= 0 {
		r = DefaultRate
	}
	a.limiter = rate.NewLimiter(rate.Limit(r), 1)
	a.wake = make(chan struct{}, 1)
	if a.Informers != nil {
		if err := a.watch(ctx); err != nil {
			return err
		}
		// A partial listing would delete the Reports of namespaces not
		// seen yet.
		if !a.Informers.WaitForCacheSync(ctx) {
			return errors.New("audit: the cache never synced")
		}
	}
	var audited *policy.Engine
	nextFull := time.Now()
	poll := time.NewTicker(settle)
	defer poll.Stop()
	for {
		eng := a.Engine()
		switch {
		case eng == nil:
		case eng != audited || !time.Now().Before(nextFull):
			a.takeDirty() // a whole audit covers them
			if err := a.auditScope(ctx, eng, ""); err != nil {
				a.Log.Error(err, "audit failed; retrying at the next tick")
			} else {
				audited, nextFull = eng, time.Now().Add(interval)
			}
		default:
			for _, ns := range a.takeDirty() {
				if err := a.auditScope(ctx, eng, ns); err != nil {
					a.Log.Error(err, "audit of a namespace failed; retrying", "namespace", ns)
					a.Changed(ns)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-a.wake:
			// Let the rest of an apply arrive before auditing.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(settle):
			}
		}
	}
}

func (a *Auditor) takeDirty() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.dirty))
	for ns := range a.dirty {
		out = append(out, ns)
	}
	a.dirty = nil
	return out
}

// watch marks the namespace of every changed audited object.
func (a *Auditor) watch(ctx context.Context) error {
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.changedObject(obj) },
		UpdateFunc: func(_, obj any) { a.changedObject(obj) },
		DeleteFunc: func(obj any) { a.changedObject(obj) },
	}
	for _, obj := range []client.Object{&appsv1.Deployment{}, &appsv1.StatefulSet{}, &appsv1.DaemonSet{}, &policyv1.PodDisruptionBudget{}, &autoscalingv2.HorizontalPodAutoscaler{}, &corev1.Service{}} {
		inf, err := a.Informers.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watch %T for the audit: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watch %T for the audit: %w", obj, err)
		}
	}
	return nil
}

func (a *Auditor) changedObject(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if o, ok := obj.(client.Object); ok {
		a.Changed(o.GetNamespace())
	}
}

// auditScope audits namespace ns, or the whole cluster when ns is "".
// A namespace whose objects (by uid and resourceVersion) are those of its
// previous audit with the same engine keeps that audit's results without
// evaluating anything: the periodic audit of a large, quiet cluster costs
// a listing of the cache.
func (a *Auditor) auditScope(ctx context.Context, eng *policy.Engine, ns string) error {
	start := time.Now()
	objs, err := Collect(ctx, a.Reader, ns)
	if err != nil {
		return err
	}
	byNamespace := map[string][]Object{}
	var order []string
	for _, o := range objs {
		n := o.Namespace()
		if _, ok := byNamespace[n]; !ok {
			order = append(order, n)
		}
		byNamespace[n] = append(byNamespace[n], o)
	}
	if a.memo == nil || a.memoEngine != eng {
		a.memo, a.memoEngine = map[string]namespaceAudit{}, eng
	}
	rep := &check.Report{}
	evaluated := 0
	for _, n := range order {
		members := byNamespace[n]
		fp := fingerprint(members)
		m, ok := a.memo[n]
		if !ok || m.fingerprint != fp {
			r, err := check.RunWith(ctx, eng, Manifests(members), check.Options{Workers: 1, Pace: a.limiter.Wait})
			if err != nil {
				return fmt.Errorf("evaluate namespace %s: %w", n, err)
			}
			m = namespaceAudit{fingerprint: fp, results: r.Results}
			a.memo[n] = m
			evaluated += len(members)
		}
		rep.Results = append(rep.Results, m.results...)
	}
	if ns == "" {
		for n := range a.memo {
			if _, ok := byNamespace[n]; !ok {
				delete(a.memo, n)
			}
		}
	} else if len(byNamespace[ns]) == 0 {
		delete(a.memo, ns)
	}
	reports := Reports(eng, objs, rep, time.Now())
	if a.Metrics != nil {
		a.Metrics.record(ns, rep, time.Since(start))
	}
	stats, err := Publish(ctx, a.Client, ns, reports)
	switch {
	case errors.Is(err, ErrNoReportsAPI):
		if !a.noAPI {
			a.Log.Info("audit results go to metrics only", "reason", err.Error())
			a.noAPI = true
		}
	case err != nil:
		return err
	default:
		a.noAPI = false
	}
	a.Log.V(1).Info("audited", "namespace", ns, "objects", len(objs), "evaluated", evaluated, "findings", len(rep.Results),
		"created", stats.Created, "updated", stats.Updated, "unchanged", stats.Unchanged, "deleted", stats.Deleted, "duration", time.Since(start))
	a.evaluated.Add(int64(evaluated))
	return nil
}

// namespaceAudit is the last audit of one namespace.
type namespaceAudit struct {
	fingerprint [sha256.Size]byte
	results     []check.Result
}

// fingerprint identifies a namespace's audited objects as read.
func fingerprint(objs []Object) [sha256.Size]byte {
	h := sha256.New()
	for _, o := range objs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", o.Kind(), o.Name(), o.UID, o.ResourceVersion)
	}
	var fp [sha256.Size]byte
	h.Sum(fp[:0])
	return fp
}

// Evaluated returns how many objects the auditor has evaluated so far
// (objects of unchanged namespaces are not evaluated again).
func (a *Auditor) Evaluated() int64 { return a.evaluated.Load() }
