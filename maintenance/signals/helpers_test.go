package signals

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	_ "time/tzdata" // windows tests need Europe/Berlin and America/New_York everywhere

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Node builders.

type nodeOpt func(*corev1.Node)

func node(name string, opts ...nodeOpt) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, o := range opts {
		o(&n)
	}
	return n
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func taint(key string) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
	}
}

func label(k, v string) nodeOpt {
	return func(n *corev1.Node) {
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[k] = v
	}
}

func annotate(k, v string) nodeOpt {
	return func(n *corev1.Node) {
		if n.Annotations == nil {
			n.Annotations = map[string]string{}
		}
		n.Annotations[k] = v
	}
}

func kubelet(v string) nodeOpt {
	return func(n *corev1.Node) { n.Status.NodeInfo.KubeletVersion = v }
}

// controlPlane labels a node as kubeadm does and gives it a kubelet
// version.
func controlPlane(version string) nodeOpt {
	return func(n *corev1.Node) {
		label(LabelControlPlane, "")(n)
		kubelet(version)(n)
	}
}

// apiServerPod is a kube-apiserver mirror pod on a node.
func apiServerPod(nodeName, image string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: APIServerNamespace,
			Name:      "kube-apiserver-" + nodeName,
			Labels:    map[string]string{APIServerComponentLabel: APIServerComponent},
		},
		Spec: corev1.PodSpec{
			NodeName:   nodeName,
			Containers: []corev1.Container{{Name: APIServerContainer, Image: image}},
		},
	}
}

// kuredDS is kured's DaemonSet with the given lock annotation; "-" means
// no annotation.
func kuredDS(lock string) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: DefaultKuredNamespace, Name: DefaultKuredDaemonSet}}
	if lock != "-" {
		ds.Annotations = map[string]string{AnnotationKuredLock: lock}
	}
	return ds
}

// fixtures reads the objects of a multi-document YAML file under testdata.
func fixtures(t *testing.T, name string) []unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if obj != nil {
			out = append(out, unstructured.Unstructured{Object: obj})
		}
	}
}

// fixture returns the object called name from a fixture file.
func fixture(t *testing.T, file, name string) unstructured.Unstructured {
	t.Helper()
	for _, u := range fixtures(t, file) {
		if u.GetName() == name {
			return u
		}
	}
	t.Fatalf("%s: no object %q", file, name)
	return unstructured.Unstructured{}
}

// at parses an RFC 3339 time.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// only returns the signal of type typ among active, failing the test if
// there are others.
func only(t *testing.T, active []Signal, typ Type) Signal {
	t.Helper()
	if len(active) != 1 || active[0].Type != typ {
		t.Fatalf("want exactly one %s signal, got %+v", typ, active)
	}
	return active[0]
}

// expectSignal checks that active holds exactly one signal of typ with
// the wanted detail and objects, or no signal at all when wantDetail is
// empty; it returns the signal and whether there was one.
func expectSignal(t *testing.T, active []Signal, typ Type, wantDetail string, wantObjects []string) (Signal, bool) {
	t.Helper()
	if wantDetail == "" {
		if len(active) > 0 {
			t.Fatalf("want no signal, got %+v", active)
		}
		return Signal{}, false
	}
	sig := only(t, active, typ)
	assertEqual(t, "detail", sig.Detail, wantDetail)
	assertEqual(t, "objects", sig.Objects, wantObjects)
	return sig, true
}

func assertEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}
