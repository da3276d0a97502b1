// Package chart tests the Helm chart in charts/fluxgate: it renders the
// chart with the Helm SDK for several value sets and checks what comes out.
package chart

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"

	"github.com/fluxgate/fluxgate/policy"
)

const (
	chartDir    = "../../charts/fluxgate"
	releaseName = "fluxgate"
	namespace   = "fluxgate-system"
)

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

// renderValues coalesces vals with the chart's defaults and validates them
// against values.schema.json, as helm install does.
func renderValues(c *chart.Chart, vals map[string]any) (chartutil.Values, error) {
	return chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{
		Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
}

// render renders the chart with vals and returns its objects, by
// "Kind/name"; it fails the test on any error.
func render(t *testing.T, vals map[string]any) map[string]*unstructured.Unstructured {
	t.Helper()
	return renderWithClient(t, vals, nil)
}

// renderWithClient renders like render; with cfg the chart's lookup calls
// read that cluster, as in helm install and upgrade.
func renderWithClient(t *testing.T, vals map[string]any, cfg *rest.Config) map[string]*unstructured.Unstructured {
	t.Helper()
	c := loadChart(t)
	rv, err := renderValues(c, vals)
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	var files map[string]string
	if cfg != nil {
		files, err = engine.RenderWithClient(c, rv, cfg)
	} else {
		files, err = engine.Engine{Strict: true}.Render(c, rv)
	}
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	objs := map[string]*unstructured.Unstructured{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if filepath.Base(name) == "NOTES.txt" || strings.HasPrefix(filepath.Base(name), "_") {
			continue
		}
		for _, doc := range releaseutil.SplitManifests(files[name]) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, doc)
			}
			if len(u.Object) == 0 {
				continue
			}
			key := u.GetKind() + "/" + u.GetName()
			if _, dup := objs[key]; dup {
				t.Fatalf("%s rendered twice", key)
			}
			objs[key] = u
		}
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// convert decodes u into a typed object.
func convert[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	if u == nil {
		t.Fatalf("object missing")
	}
	data, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		t.Fatalf("%s/%s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

func keys(objs map[string]*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for k := range objs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// valueSets are the configurations every structural test renders.
var valueSets = map[string]map[string]any{
	"defaults":    {},
	"certManager": {"certManager": map[string]any{"enabled": true}},
	"singleReplica": {
		"replicaCount": 1, "leaderElection": false,
	},
	"policyConfigMaps": {
		"policyConfigMaps": map[string]any{
			"team": map[string]any{"team.rego": "package fluxgate.team\n"},
		},
		"config": map[string]any{
			"exemptNamespaces": []any{"legacy-batch"},
			"policies":         map[string]any{"replicas-ha": map[string]any{"action": "off"}},
		},
	},
	"excludeNamespaces": {
		"webhook": map[string]any{"excludeNamespaces": []any{"flux-system", "monitoring"}},
	},
	// Flux elsewhere: excluded there, and passed to fluxgate.
	"fluxNamespace": {"fluxNamespace": "gitops"},
	// Flux's namespace judged like any other.
	"fluxNamespaceOff": {"fluxNamespace": ""},
	"everything": {
		"certManager":       map[string]any{"enabled": true},
		"metrics":           map[string]any{"serviceMonitor": map[string]any{"enabled": true}},
		"networkPolicy":     map[string]any{"enabled": true},
		"maintenanceGuard":  map[string]any{"create": true},
		"priorityClassName": "system-cluster-critical",
	},
	// Guards deleted by hand before helm uninstall.
	"noUninstallHook": {"uninstallHook": map[string]any{"enabled": false}},
}

func TestRenderedObjects(t *testing.T) {
	base := []string{
		"ClusterRole/fluxgate", "ClusterRoleBinding/fluxgate",
		"Deployment/fluxgate",
		"MutatingWebhookConfiguration/fluxgate", "ValidatingWebhookConfiguration/fluxgate",
		"Role/fluxgate", "RoleBinding/fluxgate",
		"Role/fluxgate-apiserver-pods", "RoleBinding/fluxgate-apiserver-pods",
		"Service/fluxgate-webhook", "ServiceAccount/fluxgate",
		// The pre-delete hook (uninstall-hook.yaml).
		"ServiceAccount/fluxgate-uninstall", "ClusterRole/fluxgate-uninstall", "ClusterRoleBinding/fluxgate-uninstall", "Job/fluxgate-uninstall",
	}
	withPDB := append(slices.Clone(base), "PodDisruptionBudget/fluxgate")
	certManager := append(slices.Clone(withPDB), "Certificate/fluxgate-webhook", "Issuer/fluxgate-selfsigned")
	// Without cert-manager the chart creates the (empty) Secret fluxgate
	// keeps its certificate in.
	generated := append(slices.Clone(withPDB), "Secret/fluxgate-webhook-tls")
	want := map[string][]string{
		"defaults":          generated,
		"certManager":       certManager,
		"singleReplica":     append(slices.Clone(base), "Secret/fluxgate-webhook-tls"),
		"policyConfigMaps":  append(slices.Clone(generated), "ConfigMap/fluxgate-config", "ConfigMap/fluxgate-policy-team"),
		"excludeNamespaces": generated,
		"fluxNamespace":     append(slices.Clone(generated), "ConfigMap/fluxgate-config"),
		"fluxNamespaceOff":  append(slices.Clone(generated), "ConfigMap/fluxgate-config"),
		"everything": append(slices.Clone(certManager),
			"ServiceMonitor/fluxgate", "NetworkPolicy/fluxgate", "MaintenanceGuard/default"),
		"noUninstallHook": slices.DeleteFunc(slices.Clone(generated), func(k string) bool { return strings.HasSuffix(k, "/fluxgate-uninstall") }),
	}
	for name, vals := range valueSets {
		t.Run(name, func(t *testing.T) {
			got := keys(render(t, vals))
			w := slices.Clone(want[name])
			sort.Strings(w)
			if !slices.Equal(got, w) {
				t.Errorf("rendered objects:\n got  %v\n want %v", got, w)
			}
		})
	}
}

func webhooks(t *testing.T, objs map[string]*unstructured.Unstructured) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	m := convert[admissionregistrationv1.MutatingWebhookConfiguration](t, objs["MutatingWebhookConfiguration/fluxgate"])
	v := convert[admissionregistrationv1.ValidatingWebhookConfiguration](t, objs["ValidatingWebhookConfiguration/fluxgate"])
	if len(m.Webhooks) != 1 || len(v.Webhooks) != 1 {
		t.Fatalf("want one webhook each, got %d mutating, %d validating", len(m.Webhooks), len(v.Webhooks))
	}
	return m, v
}

// common is what both kinds of webhook share.
type common struct {
	name     string
	rules    []admissionregistrationv1.RuleWithOperations
	selector *metav1.LabelSelector
	side     *admissionregistrationv1.SideEffectClass
	versions []string
	conds    []admissionregistrationv1.MatchCondition
	svc      *admissionregistrationv1.ServiceReference
	timeout  *int32
	failure  *admissionregistrationv1.FailurePolicyType
}

func both(t *testing.T, objs map[string]*unstructured.Unstructured) []common {
	m, v := webhooks(t, objs)
	mw, vw := m.Webhooks[0], v.Webhooks[0]
	return []common{
		{mw.Name, mw.Rules, mw.NamespaceSelector, mw.SideEffects, mw.AdmissionReviewVersions, mw.MatchConditions, mw.ClientConfig.Service, mw.TimeoutSeconds, mw.FailurePolicy},
		{vw.Name, vw.Rules, vw.NamespaceSelector, vw.SideEffects, vw.AdmissionReviewVersions, vw.MatchConditions, vw.ClientConfig.Service, vw.TimeoutSeconds, vw.FailurePolicy},
	}
}

func TestWebhookConfigurations(t *testing.T) {
	for name, vals := range valueSets {
		t.Run(name, func(t *testing.T) {
			objs := render(t, vals)
			svc := objs["Service/fluxgate-webhook"]
			for _, w := range both(t, objs) {
				validate := w.name == "validate.fluxgate.dev"
				if w.side == nil || *w.side != admissionregistrationv1.SideEffectClassNone {
					t.Errorf("%s: sideEffects %v, want None", w.name, w.side)
				}
				if !slices.Equal(w.versions, []string{"v1"}) {
					t.Errorf("%s: admissionReviewVersions %v, want [v1]", w.name, w.versions)
				}
				// Validation also skips the autoscaler's scales; mutation
				// is never sent a scale.
				wantConds := []string{"spec-changed"}
				if validate {
					wantConds = append(wantConds, "not-autoscaler")
				}
				var conds []string
				for _, c := range w.conds {
					conds = append(conds, c.Name)
				}
				if !slices.Equal(conds, wantConds) {
					t.Errorf("%s: matchConditions %v, want %v", w.name, conds, wantConds)
				}
				// `kubectl scale` goes through the scale subresource, which
				// only validation judges.
				var scales []string
				for _, r := range w.rules {
					for _, res := range r.Resources {
						if strings.HasSuffix(res, "/scale") {
							scales = append(scales, res)
							if !slices.Equal(r.Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Update}) {
								t.Errorf("%s: %s operations %v, want [UPDATE]", w.name, res, r.Operations)
							}
						}
					}
				}
				wantScales := []string(nil)
				if validate {
					wantScales = []string{"deployments/scale", "statefulsets/scale"}
				}
				if !slices.Equal(scales, wantScales) {
					t.Errorf("%s: scale rules %v, want %v", w.name, scales, wantScales)
				}
				if w.svc == nil || w.svc.Name != svc.GetName() || w.svc.Namespace != namespace {
					t.Errorf("%s: clientConfig.service %+v does not name the Service %s/%s", w.name, w.svc, namespace, svc.GetName())
				}
				for _, r := range w.rules {
					for _, list := range [][]string{r.APIGroups, r.APIVersions, r.Resources} {
						for _, s := range list {
							if strings.Contains(s, "*") {
								t.Errorf("%s: wildcard in rule %+v", w.name, r)
							}
						}
					}
					for _, op := range r.Operations {
						if op == admissionregistrationv1.OperationAll {
							t.Errorf("%s: wildcard operation in rule %+v", w.name, r)
						}
					}
				}
				excluded := excludedNamespaces(t, w.name, w.selector)
				want := []string{namespace, "kube-system", "kube-node-lease"}
				flux, set := vals["fluxNamespace"].(string)
				if !set {
					flux = policy.DefaultFluxNamespace
				}
				if flux != "" {
					want = append(want, flux)
				}
				if wh, ok := vals["webhook"].(map[string]any); ok {
					extra, _ := wh["excludeNamespaces"].([]any)
					for _, ns := range extra {
						want = append(want, ns.(string))
					}
				}
				slices.Sort(want)
				want = slices.Compact(want)
				got := slices.Sorted(slices.Values(excluded))
				if !slices.Equal(got, want) {
					t.Errorf("%s: excluded namespaces (NotIn) %v, want %v", w.name, got, want)
				}
			}
		})
	}
}

// excludedNamespaces returns the names in the selector's
// kubernetes.io/metadata.name NotIn expression.
func excludedNamespaces(t *testing.T, name string, sel *metav1.LabelSelector) []string {
	t.Helper()
	if sel == nil {
		t.Fatalf("%s: no namespaceSelector", name)
	}
	for _, e := range sel.MatchExpressions {
		if e.Key == "kubernetes.io/metadata.name" && e.Operator == metav1.LabelSelectorOpNotIn {
			return e.Values
		}
	}
	t.Fatalf("%s: namespaceSelector has no kubernetes.io/metadata.name NotIn expression", name)
	return nil
}

// The chart's webhooks match config/webhook/manifests.yaml apart from
// what the chart names itself (service, namespace).
func TestWebhooksMatchConfigWebhook(t *testing.T) {
	data, err := os.ReadFile("../../config/webhook/manifests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]*unstructured.Unstructured{}
	for _, doc := range releaseutil.SplitManifests(string(data)) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		ref[u.GetKind()+"/"+u.GetName()] = u
	}
	got := both(t, render(t, nil))
	want := both(t, ref)
	for i := range got {
		g, w := got[i], want[i]
		if g.name != w.name {
			t.Errorf("webhook name %s, config/webhook has %s", g.name, w.name)
		}
		if !reflect.DeepEqual(g.rules, w.rules) {
			t.Errorf("%s: rules\n chart  %v\n config %v", g.name, g.rules, w.rules)
		}
		if !reflect.DeepEqual(g.conds, w.conds) {
			t.Errorf("%s: matchConditions\n chart  %v\n config %v", g.name, g.conds, w.conds)
		}
		if *g.timeout != *w.timeout || *g.failure != *w.failure || *g.side != *w.side {
			t.Errorf("%s: timeout/failurePolicy/sideEffects %d/%s/%s, config/webhook has %d/%s/%s",
				g.name, *g.timeout, *g.failure, *g.side, *w.timeout, *w.failure, *w.side)
		}
		if g.svc.Path == nil || w.svc.Path == nil || *g.svc.Path != *w.svc.Path {
			t.Errorf("%s: path differs from config/webhook", g.name)
		}
		// The same namespaces are left out (the test's release namespace
		// is the one config/webhook names).
		ge, we := excludedNamespaces(t, g.name, g.selector), excludedNamespaces(t, w.name, w.selector)
		slices.Sort(ge)
		slices.Sort(we)
		if !slices.Equal(ge, we) {
			t.Errorf("%s: excluded namespaces\n chart  %v\n config %v", g.name, ge, we)
		}
	}
}

func TestWebhookValues(t *testing.T) {
	objs := render(t, map[string]any{"webhook": map[string]any{
		"mutate":   map[string]any{"failurePolicy": "Fail", "timeoutSeconds": 5},
		"validate": map[string]any{"failurePolicy": "Ignore", "timeoutSeconds": 10},
	}})
	m, v := webhooks(t, objs)
	if *m.Webhooks[0].FailurePolicy != admissionregistrationv1.Fail || *m.Webhooks[0].TimeoutSeconds != 5 {
		t.Errorf("mutate: failurePolicy %s timeout %d", *m.Webhooks[0].FailurePolicy, *m.Webhooks[0].TimeoutSeconds)
	}
	if *v.Webhooks[0].FailurePolicy != admissionregistrationv1.Ignore || *v.Webhooks[0].TimeoutSeconds != 10 {
		t.Errorf("validate: failurePolicy %s timeout %d", *v.Webhooks[0].FailurePolicy, *v.Webhooks[0].TimeoutSeconds)
	}
}

func TestCertManagerInjection(t *testing.T) {
	objs := render(t, valueSets["certManager"])
	for _, k := range []string{"MutatingWebhookConfiguration/fluxgate", "ValidatingWebhookConfiguration/fluxgate"} {
		if got := objs[k].GetAnnotations()["cert-manager.io/inject-ca-from"]; got != namespace+"/fluxgate-webhook" {
			t.Errorf("%s: inject-ca-from %q", k, got)
		}
	}
	cert := objs["Certificate/fluxgate-webhook"]
	secret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	d := convert[appsv1.Deployment](t, objs["Deployment/fluxgate"])
	if vol := volume(d, "serving-certs"); vol == nil || vol.Secret == nil || vol.Secret.SecretName != secret {
		t.Errorf("serving-certs volume %+v does not mount the Certificate's Secret %s", vol, secret)
	}
	args := d.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--webhook-cert-dir=/tmp/k8s-webhook-server/serving-certs") || slices.ContainsFunc(args, func(a string) bool {
		return strings.HasPrefix(a, "--cert-secret")
	}) {
		t.Errorf("with cert-manager, args %v should read the mounted Secret and run no rotator", args)
	}
	dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if !slices.Contains(dns, "fluxgate-webhook."+namespace+".svc") {
		t.Errorf("dnsNames %v lack the webhook Service", dns)
	}
	m, v := webhooks(t, objs)
	if m.Webhooks[0].ClientConfig.CABundle != nil || v.Webhooks[0].ClientConfig.CABundle != nil {
		t.Errorf("caBundle set although cert-manager injects it")
	}
	// Without cert-manager nothing is injected.
	for _, k := range []string{"MutatingWebhookConfiguration/fluxgate", "ValidatingWebhookConfiguration/fluxgate"} {
		if _, ok := render(t, nil)[k].GetAnnotations()["cert-manager.io/inject-ca-from"]; ok {
			t.Errorf("%s: inject-ca-from without certManager.enabled", k)
		}
	}
}

// Without cert-manager fluxgate keeps its own certificate: the chart
// renders no key material, only an empty Secret, the flags that name it,
// the Service's DNS names and both webhook configurations, and the
// permissions for exactly those objects.
func TestSelfManagedCertificate(t *testing.T) {
	tests := map[string]struct {
		values                      map[string]any
		wantMutatingArg, wantValArg bool
	}{
		"both webhooks": {values: nil, wantMutatingArg: true, wantValArg: true},
		"validate only": {values: map[string]any{"webhook": map[string]any{"mutate": map[string]any{"enabled": false}}}, wantValArg: true},
		"mutate only":   {values: map[string]any{"webhook": map[string]any{"validate": map[string]any{"enabled": false}}}, wantMutatingArg: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			objs := render(t, tt.values)
			secret := convert[corev1.Secret](t, objs["Secret/fluxgate-webhook-tls"])
			if len(secret.Data) != 0 || len(secret.StringData) != 0 {
				t.Errorf("the chart rendered key material into %s", secret.Name)
			}
			d := convert[appsv1.Deployment](t, objs["Deployment/fluxgate"])
			args := d.Spec.Template.Spec.Containers[0].Args
			want := map[string]bool{
				"--cert-secret=fluxgate-webhook-tls": true,
				"--cert-hosts=fluxgate-webhook." + namespace + ".svc,fluxgate-webhook." + namespace + ".svc.cluster.local": true,
				"--mutating-webhook-configuration=fluxgate":                                                                tt.wantMutatingArg,
				"--validating-webhook-configuration=fluxgate":                                                              tt.wantValArg,
			}
			for arg, wanted := range want {
				if slices.Contains(args, arg) != wanted {
					t.Errorf("arg %s present = %v, want %v (args %v)", arg, !wanted, wanted, args)
				}
			}
			if vol := volume(d, "serving-certs"); vol != nil {
				t.Errorf("a serving-certs volume %+v, though fluxgate serves from memory", vol)
			}
			for _, k := range []string{"MutatingWebhookConfiguration/fluxgate", "ValidatingWebhookConfiguration/fluxgate"} {
				if obj := objs[k]; obj != nil {
					if _, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "webhooks"); !found {
						t.Fatalf("%s has no webhooks", k)
					}
					for _, w := range obj.Object["webhooks"].([]any) {
						if _, found, _ := unstructured.NestedFieldNoCopy(w.(map[string]any), "clientConfig", "caBundle"); found {
							t.Errorf("%s renders a caBundle; fluxgate injects it", k)
						}
					}
				}
			}
		})
	}
}

func TestDeployment(t *testing.T) {
	d := convert[appsv1.Deployment](t, render(t, nil)["Deployment/fluxgate"])
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *d.Spec.Replicas)
	}
	if len(d.Spec.Template.Spec.TopologySpreadConstraints) != 1 ||
		d.Spec.Template.Spec.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" ||
		d.Spec.Template.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable != "ScheduleAnyway" {
		t.Errorf("topologySpreadConstraints %+v", d.Spec.Template.Spec.TopologySpreadConstraints)
	}
	c := d.Spec.Template.Spec.Containers[0]
	for _, arg := range []string{
		"serve", "--namespace=$(POD_NAMESPACE)", "--leader-elect=true",
		"--kube-api-qps=500", "--kube-api-burst=2000",
		"--cert-secret=fluxgate-webhook-tls",
		"--health-probe-bind-address=:8081", "--metrics-bind-address=:8080",
		"--service-account=system:serviceaccount:" + namespace + ":fluxgate",
	} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %v lack %s", c.Args, arg)
		}
	}
	if c.Env[0].Name != "POD_NAMESPACE" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("POD_NAMESPACE env %+v", c.Env)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes %s %s", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container securityContext %+v", sc)
	}
	psc := d.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("pod securityContext %+v", psc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("no resource requests: %+v", c.Resources)
	}
	if v := volume(d, "tmp"); v == nil || v.EmptyDir == nil {
		t.Errorf("no /tmp emptyDir")
	}
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--config") }) {
		t.Errorf("--config without .Values.config: %v", c.Args)
	}

	// The service account the chart tells fluxgate about is the one it runs as.
	if d.Spec.Template.Spec.ServiceAccountName != "fluxgate" {
		t.Errorf("serviceAccountName %s", d.Spec.Template.Spec.ServiceAccountName)
	}

	single := convert[appsv1.Deployment](t, render(t, valueSets["singleReplica"])["Deployment/fluxgate"])
	if *single.Spec.Replicas != 1 || len(single.Spec.Template.Spec.TopologySpreadConstraints) != 0 {
		t.Errorf("single replica: replicas %d, spread %v", *single.Spec.Replicas, single.Spec.Template.Spec.TopologySpreadConstraints)
	}
	if !slices.Contains(single.Spec.Template.Spec.Containers[0].Args, "--leader-elect=false") {
		t.Errorf("single replica: args %v", single.Spec.Template.Spec.Containers[0].Args)
	}

	withConfig := convert[appsv1.Deployment](t, render(t, valueSets["policyConfigMaps"])["Deployment/fluxgate"])
	if !slices.Contains(withConfig.Spec.Template.Spec.Containers[0].Args, "--config=/etc/fluxgate/config.yaml") {
		t.Errorf("config: args %v lack --config", withConfig.Spec.Template.Spec.Containers[0].Args)
	}
	if v := volume(withConfig, "config"); v == nil || v.ConfigMap == nil || v.ConfigMap.Name != "fluxgate-config" {
		t.Errorf("config volume %+v", v)
	}

	everything := convert[appsv1.Deployment](t, render(t, valueSets["everything"])["Deployment/fluxgate"])
	if everything.Spec.Template.Spec.PriorityClassName != "system-cluster-critical" {
		t.Errorf("priorityClassName %q", everything.Spec.Template.Spec.PriorityClassName)
	}
}

func TestPolicyConfigMaps(t *testing.T) {
	objs := render(t, valueSets["policyConfigMaps"])
	cm := objs["ConfigMap/fluxgate-policy-team"]
	if cm.GetLabels()["fluxgate.dev/policy"] != "true" || cm.GetNamespace() != namespace {
		t.Errorf("policy ConfigMap labels %v namespace %s", cm.GetLabels(), cm.GetNamespace())
	}
	cfg, _, _ := unstructured.NestedString(objs["ConfigMap/fluxgate-config"].Object, "data", "config.yaml")
	if !strings.Contains(cfg, "legacy-batch") || !strings.Contains(cfg, "replicas-ha") {
		t.Errorf("config.yaml:\n%s", cfg)
	}
}

// Flux's namespace is excluded from both webhooks (TestWebhookConfigurations)
// and passed to fluxgate, which reads the rendered configuration as the
// chart means it; the default needs no configuration at all.
func TestFluxNamespace(t *testing.T) {
	legacy := map[string]any{"exemptNamespaces": []any{"legacy"}}
	tests := []struct {
		name       string
		vals       map[string]any
		wantConfig bool   // a ConfigMap, --config and the checksum
		want       string // what fluxgate exempts as Flux's namespace
		wantErr    string
	}{
		{name: "default", want: "flux-system"},
		{name: "elsewhere", vals: map[string]any{"fluxNamespace": "gitops"}, wantConfig: true, want: "gitops"},
		{name: "judged like any other", vals: map[string]any{"fluxNamespace": ""}, wantConfig: true, want: ""},
		{name: "default beside other configuration", vals: map[string]any{"config": legacy}, wantConfig: true, want: "flux-system"},
		{name: "elsewhere beside other configuration", vals: map[string]any{"fluxNamespace": "gitops", "config": legacy}, wantConfig: true, want: "gitops"},
		{name: "the same under config", vals: map[string]any{"fluxNamespace": "gitops", "config": map[string]any{"fluxNamespace": "gitops"}}, wantConfig: true, want: "gitops"},
		{name: "a different one under config", vals: map[string]any{"config": map[string]any{"fluxNamespace": "gitops"}},
			wantErr: "config.fluxNamespace differs from fluxNamespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr != "" {
				c := loadChart(t)
				rv, err := renderValues(c, tt.vals)
				if err == nil {
					_, err = engine.Engine{Strict: true}.Render(c, rv)
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("render error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			objs := render(t, tt.vals)
			d := convert[appsv1.Deployment](t, objs["Deployment/fluxgate"])
			hasArg := slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--config=/etc/fluxgate/config.yaml")
			_, hasChecksum := d.Spec.Template.Annotations["checksum/config"]
			cm := objs["ConfigMap/fluxgate-config"]
			if hasArg != tt.wantConfig || hasChecksum != tt.wantConfig || (cm != nil) != tt.wantConfig {
				t.Fatalf("--config %v, checksum %v, ConfigMap %v; want all %v", hasArg, hasChecksum, cm != nil, tt.wantConfig)
			}
			// No configuration is what `fluxgate serve` without --config reads.
			cfg, data := &policy.Config{}, ""
			if cm != nil {
				data, _, _ = unstructured.NestedString(cm.Object, "data", "config.yaml")
				var err error
				if cfg, err = policy.ParseConfig([]byte(data)); err != nil {
					t.Fatalf("fluxgate refuses the rendered configuration: %v\n%s", err, data)
				}
			}
			if got := cfg.FluxNamespaceOrDefault(); got != tt.want {
				t.Fatalf("fluxgate exempts %q as Flux's namespace, want %q; config.yaml:\n%s", got, tt.want, data)
			}
		})
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	pdb := render(t, nil)["PodDisruptionBudget/fluxgate"]
	spec, _, _ := unstructured.NestedMap(pdb.Object, "spec")
	if fmt.Sprint(spec["maxUnavailable"]) != "1" || spec["unhealthyPodEvictionPolicy"] != "AlwaysAllow" {
		t.Errorf("PDB spec %v", spec)
	}
	if _, ok := spec["minAvailable"]; ok {
		t.Errorf("PDB has minAvailable: %v", spec)
	}
}

func TestSchemaRejectsMistypedValues(t *testing.T) {
	c := loadChart(t)
	for name, vals := range map[string]map[string]any{
		"replicaCount string":   {"replicaCount": "two"},
		"failurePolicy enum":    {"webhook": map[string]any{"validate": map[string]any{"failurePolicy": "Sometimes"}}},
		"mutate failurePolicy":  {"webhook": map[string]any{"mutate": map[string]any{"failurePolicy": "fail"}}},
		"unknown top-level":     {"replicas": 3},
		"unknown nested":        {"webhook": map[string]any{"excludeNamespace": []any{"x"}}},
		"timeout too long":      {"webhook": map[string]any{"validate": map[string]any{"timeoutSeconds": 60}}},
		"bool as string":        {"certManager": map[string]any{"enabled": "yes"}},
		"fluxNamespace a list":  {"fluxNamespace": []any{"flux-system"}},
		"fluxNamespace no name": {"fluxNamespace": "Flux System"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := renderValues(c, vals); err == nil {
				t.Errorf("values %v accepted", vals)
			}
		})
	}
	for name, vals := range valueSets {
		if _, err := renderValues(c, vals); err != nil {
			t.Errorf("value set %s rejected: %v", name, err)
		}
	}
}

func TestLint(t *testing.T) {
	for name, vals := range valueSets {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Namespace = namespace
			lint.Strict = true
			res := lint.Run([]string{chartDir}, vals)
			for _, msg := range res.Messages {
				// INFO is advice (an icon, say), not a defect.
				if msg.Severity > support.InfoSev {
					t.Errorf("lint: %s", msg)
				}
			}
			for _, err := range res.Errors {
				t.Errorf("lint error: %v", err)
			}
		})
	}
}

// The chart's CRD is a copy of the generated one, byte for byte.
func TestCRDsMatchGenerated(t *testing.T) {
	gen, err := filepath.Glob("../../config/crd/bases/*.yaml")
	if err != nil || len(gen) == 0 {
		t.Fatalf("no generated CRDs: %v", err)
	}
	copies, _ := filepath.Glob(chartDir + "/crds/*.yaml")
	if len(copies) != len(gen) {
		t.Errorf("charts/fluxgate/crds has %d files, config/crd/bases %d", len(copies), len(gen))
	}
	for _, g := range gen {
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(g)))
		if err != nil {
			t.Errorf("%v (copy it: cp %s charts/fluxgate/crds/)", err, g)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("charts/fluxgate/crds/%s differs from %s: cp %s charts/fluxgate/crds/", filepath.Base(g), g, g)
		}
	}
}

func volume(d *appsv1.Deployment, name string) *corev1.Volume {
	for i := range d.Spec.Template.Spec.Volumes {
		if d.Spec.Template.Spec.Volumes[i].Name == name {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}
