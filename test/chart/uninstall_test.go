package chart

import (
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// hookAnnotation marks a Helm hook resource.
const hookAnnotation = "helm.sh/hook"

// splitHooks separates the rendered hook resources from the release's own.
func splitHooks(objs map[string]*unstructured.Unstructured) (release, hooks map[string]*unstructured.Unstructured) {
	release, hooks = map[string]*unstructured.Unstructured{}, map[string]*unstructured.Unstructured{}
	for k, o := range objs {
		if _, ok := o.GetAnnotations()[hookAnnotation]; ok {
			hooks[k] = o
		} else {
			release[k] = o
		}
	}
	return release, hooks
}

// The pre-delete hook: four hook resources, RBAC before the Job, all
// deleted once it succeeds; the Job runs `fluxgate maintenance uninstall`
// with uninstallHook.timeout under its own ServiceAccount, in the pod
// security settings of the Deployment, and its pods are not selected as
// fluxgate's.
func TestUninstallHook(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vals    map[string]any
		timeout string
	}{
		{name: "defaults", vals: map[string]any{}, timeout: "2m"},
		{name: "timeout", vals: map[string]any{"uninstallHook": map[string]any{"timeout": "4m30s"}}, timeout: "4m30s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, hooks := splitHooks(render(t, tc.vals))
			want := []string{"ClusterRole/fluxgate-uninstall", "ClusterRoleBinding/fluxgate-uninstall", "Job/fluxgate-uninstall", "ServiceAccount/fluxgate-uninstall"}
			if got := keys(hooks); !slices.Equal(got, want) {
				t.Fatalf("hook resources %v, want %v", got, want)
			}
			for k, o := range hooks {
				a := o.GetAnnotations()
				weight := "-10"
				if o.GetKind() == "Job" {
					weight = "-5"
				}
				if a[hookAnnotation] != "pre-delete" || a["helm.sh/hook-weight"] != weight ||
					a["helm.sh/hook-delete-policy"] != "before-hook-creation,hook-succeeded" {
					t.Errorf("%s: hook annotations %v", k, a)
				}
			}
			job := convert[batchv1.Job](t, hooks["Job/fluxgate-uninstall"])
			pod := job.Spec.Template.Spec
			c := pod.Containers[0]
			if args := strings.Join(c.Args, " "); args != "maintenance uninstall --timeout="+tc.timeout {
				t.Errorf("Job args %q", args)
			}
			if pod.ServiceAccountName != "fluxgate-uninstall" || pod.RestartPolicy != corev1.RestartPolicyNever ||
				job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 {
				t.Errorf("Job: serviceAccount %q, restartPolicy %q, backoffLimit %v", pod.ServiceAccountName, pod.RestartPolicy, job.Spec.BackoffLimit)
			}
			if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
				c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("Job pod security: %+v, container %+v", pod.SecurityContext, c.SecurityContext)
			}
			if comp := job.Spec.Template.Labels["app.kubernetes.io/component"]; comp != "uninstall-hook" {
				t.Errorf("Job pods labelled component %q: the Deployment's selector, PDB and Service must not select them", comp)
			}
			role := convert[rbacv1.ClusterRole](t, hooks["ClusterRole/fluxgate-uninstall"])
			if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"maintenanceguards"}) || !slices.Equal(role.Rules[0].Verbs, []string{"list", "delete"}) {
				t.Errorf("hook ClusterRole rules %+v, want list and delete on maintenanceguards", role.Rules)
			}
			binding := convert[rbacv1.ClusterRoleBinding](t, hooks["ClusterRoleBinding/fluxgate-uninstall"])
			if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 ||
				binding.Subjects[0].Name != pod.ServiceAccountName || binding.Subjects[0].Namespace != namespace {
				t.Errorf("hook ClusterRoleBinding %+v", binding)
			}
		})
	}
}
