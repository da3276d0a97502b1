package recorder

import (
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Options tunes a Recorder.
type Options struct {
	// Namespaces are watched for Deployments, PodDisruptionBudgets and
	// Kustomizations; empty means every namespace. Nodes are always
	// watched.
	Namespaces []string
	// Kustomizations are the "namespace/name"s of the Kustomizations the
	// maintenance targets, those TimeToAll* wait for; empty means every
	// Kustomization seen.
	Kustomizations []string
	// Now is the clock that timestamps what the watches see; nil means
	// time.Now.
	Now func() time.Time
}

// Recorder keeps the timeline. It is safe for concurrent use.
type Recorder struct {
	opts Options

	mu     sync.Mutex
	origin time.Time
	events []Event
	nodes  map[string]NodeState
	deps   map[string]deployment
	ks     map[string]KustomizationState
	pdbs   map[string]*policyv1.PodDisruptionBudget
}

// deployment is what the recorder keeps of a Deployment between events.
type deployment struct {
	DeploymentState
	namespace string
	pods      labels.Set // the pod template's labels
}

// New returns an empty Recorder; feed it with Start or ObserveAt.
func New(opts Options) *Recorder {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Recorder{
		opts:  opts,
		nodes: map[string]NodeState{},
		deps:  map[string]deployment{},
		ks:    map[string]KustomizationState{},
		pdbs:  map[string]*policyv1.PodDisruptionBudget{},
	}
}

// Timeline returns a copy of the events recorded, in time order.
func (r *Recorder) Timeline() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Origin returns the instant relative times count from: when Start was
// called, else the first event's time.
func (r *Recorder) Origin() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.originLocked()
}

func (r *Recorder) originLocked() time.Time {
	if r.origin.IsZero() && len(r.events) > 0 {
		return r.events[0].At
	}
	return r.origin
}

// Observe records obj's state as seen now (by Options.Now).
func (r *Recorder) Observe(obj any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observeLocked(r.opts.Now(), obj)
}

// ObserveAt records obj's state (a *corev1.Node, *appsv1.Deployment,
// *policyv1.PodDisruptionBudget, *kustomizev1.Kustomization, or an
// unstructured Kustomization) as seen at the given time, appending events
// for what changed since the object was last observed. Other types are
// ignored. Calls are expected in time order.
func (r *Recorder) ObserveAt(at time.Time, obj any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observeLocked(at, obj)
}

// Forget records the deletion of obj, seen now.
func (r *Recorder) Forget(obj any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgetLocked(r.opts.Now(), obj)
}

// ForgetAt records the deletion of obj at the given time.
func (r *Recorder) ForgetAt(at time.Time, obj any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgetLocked(at, obj)
}

func (r *Recorder) observeLocked(at time.Time, obj any) {
	switch o := obj.(type) {
	case *corev1.Node:
		r.observeNode(at, o)
	case *appsv1.Deployment:
		r.observeDeployment(at, o)
	case *policyv1.PodDisruptionBudget:
		r.observePDB(at, o)
	default:
		if k, ok := asKustomization(obj); ok {
			r.observeKustomization(at, k)
		}
	}
}

func (r *Recorder) forgetLocked(at time.Time, obj any) {
	var kind Kind
	var key string
	switch o := obj.(type) {
	case *corev1.Node:
		kind, key = NodeDeleted, o.Name
		delete(r.nodes, key)
	case *appsv1.Deployment:
		kind, key = DeploymentDeleted, o.Namespace+"/"+o.Name
		delete(r.deps, key)
	case *policyv1.PodDisruptionBudget:
		kind, key = PDBDeleted, o.Namespace+"/"+o.Name
		delete(r.pdbs, key)
	default:
		k, ok := asKustomization(obj)
		if !ok {
			return
		}
		kind, key = KustomizationDeleted, k.Namespace+"/"+k.Name
		delete(r.ks, key)
	}
	r.add(Event{At: at, Kind: kind, Object: key})
}

// add appends an event, keeping the timeline in time order.
func (r *Recorder) add(e Event) {
	i := sort.Search(len(r.events), func(i int) bool { return r.events[i].At.After(e.At) })
	r.events = append(r.events, Event{})
	copy(r.events[i+1:], r.events[i:])
	r.events[i] = e
}

// targets returns the targeted Kustomizations in a state.
func (r *Recorder) targets(s State) []string {
	if len(r.opts.Kustomizations) > 0 {
		return r.opts.Kustomizations
	}
	keys := make([]string, 0, len(s.Kustomizations))
	for k := range s.Kustomizations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
