package signals

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/version"
)

// detectCordoned implements NodeCordoned; see the package documentation
// for how IgnoreTaints discounts a cordon.
func detectCordoned(cfg NodesConfig, nodes []corev1.Node) *Signal {
	counted := make(map[string]bool, len(cfg.Taints))
	for _, k := range cfg.Taints {
		counted[k] = true
	}
	ignored := make(map[string]bool, len(cfg.IgnoreTaints))
	for _, k := range cfg.IgnoreTaints {
		ignored[k] = true
		delete(counted, k)
	}
	var names []string
	for i := range nodes {
		n := &nodes[i]
		if cfg.Selector != nil && !cfg.Selector.Matches(labels.Set(n.Labels)) {
			continue
		}
		if underMaintenance(n, counted, ignored) {
			names = append(names, n.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	names = sortedUnique(names)
	return &Signal{
		Type:    NodeCordoned,
		Detail:  fmt.Sprintf("%s cordoned: %s", plural(len(names), "node"), nameList(names)),
		Objects: names,
	}
}

// underMaintenance applies the NodeCordoned rule to one node: an ignored
// taint explains away the cordon (spec.unschedulable and its mirror taint)
// but not other counted taints.
func underMaintenance(n *corev1.Node, counted, ignored map[string]bool) bool {
	explained := false
	for _, t := range n.Spec.Taints {
		if ignored[t.Key] {
			explained = true
			break
		}
	}
	if n.Spec.Unschedulable && !explained {
		return true
	}
	for _, t := range n.Spec.Taints {
		if !counted[t.Key] {
			continue
		}
		if explained && t.Key == TaintUnschedulable {
			continue
		}
		return true
	}
	return false
}

// isControlPlane says whether a node carries a control-plane role label.
func isControlPlane(n *corev1.Node) bool {
	_, cp := n.Labels[LabelControlPlane]
	_, master := n.Labels[LabelMaster]
	return cp || master
}

// detectControlPlane implements ControlPlaneUpgrade: version skew across
// control-plane kubelets or kube-apiserver images.
func detectControlPlane(nodes []corev1.Node, pods []corev1.Pod) *Signal {
	var parts, objects []string

	kubelets := map[string][]string{}
	for i := range nodes {
		n := &nodes[i]
		if !isControlPlane(n) || n.Status.NodeInfo.KubeletVersion == "" {
			continue
		}
		v := n.Status.NodeInfo.KubeletVersion
		kubelets[v] = append(kubelets[v], n.Name)
	}
	if len(kubelets) > 1 {
		parts = append(parts, "kubelet versions differ across control-plane nodes: "+versionList(kubelets))
		for _, names := range kubelets {
			objects = append(objects, names...)
		}
	}

	images := map[string][]string{}
	for i := range pods {
		p := &pods[i]
		for _, c := range p.Spec.Containers {
			if c.Name != APIServerContainer || c.Image == "" {
				continue
			}
			where := p.Spec.NodeName
			if where == "" {
				where = p.Namespace + "/" + p.Name
			}
			tag := imageTag(c.Image)
			images[tag] = append(images[tag], where)
		}
	}
	if len(images) > 1 {
		parts = append(parts, "kube-apiserver images differ: "+versionList(images))
		for _, names := range images {
			for _, n := range names {
				if !strings.Contains(n, "/") {
					objects = append(objects, n)
				}
			}
		}
	}

	if len(parts) == 0 {
		return nil
	}
	return &Signal{Type: ControlPlaneUpgrade, Detail: strings.Join(parts, "; "), Objects: objects}
}

// versionList renders "v1.35.4 (cp-1), v1.36.3 (cp-2, cp-3)", versions in
// ascending order (semantic where they parse, else by text).
func versionList(byVersion map[string][]string) string {
	vs := make([]string, 0, len(byVersion))
	for v := range byVersion {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return versionLess(vs[i], vs[j]) })
	out := make([]string, 0, len(vs))
	for i, v := range vs {
		if i == maxNames {
			out = append(out, fmt.Sprintf("and %d more versions", len(vs)-maxNames))
			break
		}
		out = append(out, fmt.Sprintf("%s (%s)", v, nameList(byVersion[v])))
	}
	return strings.Join(out, ", ")
}

// versionLess orders Kubernetes-style versions semantically, falling back
// to text for ties (build metadata such as +k3s1) and unparsable ones.
func versionLess(a, b string) bool {
	va, errA := version.ParseGeneric(a)
	vb, errB := version.ParseGeneric(b)
	if errA == nil && errB == nil {
		if va.LessThan(vb) {
			return true
		}
		if vb.LessThan(va) {
			return false
		}
	}
	return a < b
}

// imageTag returns the tag of an image reference, else its digest, else
// the whole reference.
func imageTag(image string) string {
	ref, digest, hasDigest := strings.Cut(image, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	if hasDigest {
		return digest
	}
	return image
}

// detectManual implements Manual: the annotation on the guard or on any
// node, whatever the node selector says.
func detectManual(cfg ManualConfig, nodes []corev1.Node) *Signal {
	var parts, names []string
	if reason := strings.TrimSpace(cfg.GuardAnnotations[AnnotationManual]); reason != "" {
		parts = append(parts, fmt.Sprintf("on the guard: %q", reasonText(reason)))
	}
	reasons := map[string]string{}
	for i := range nodes {
		n := &nodes[i]
		if reason := strings.TrimSpace(n.Annotations[AnnotationManual]); reason != "" {
			names = append(names, n.Name)
			reasons[n.Name] = reasonText(reason)
		}
	}
	names = sortedUnique(names)
	if len(names) > 0 {
		shown := make([]string, 0, maxNames)
		for i, n := range names {
			if i == maxNames {
				shown = append(shown, fmt.Sprintf("and %d more", len(names)-maxNames))
				break
			}
			shown = append(shown, fmt.Sprintf("%s (%q)", n, reasons[n]))
		}
		parts = append(parts, fmt.Sprintf("on %s: %s", plural(len(names), "node"), strings.Join(shown, ", ")))
	}
	if len(parts) == 0 {
		return nil
	}
	return &Signal{Type: Manual, Detail: "maintenance declared " + strings.Join(parts, "; "), Objects: names}
}
