package chart

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Guards of remote clusters may read Secrets only in the namespaces the
// values list, with get only; none by default.
func TestKubeConfigSecretNamespaces(t *testing.T) {
	if objs := render(t, nil); len(kubeconfigRoles(t, objs)) != 0 {
		t.Errorf("Roles on Secrets by default: %v", kubeconfigRoles(t, objs))
	}
	objs := render(t, map[string]any{"maintenanceGuard": map[string]any{"kubeConfigSecretNamespaces": []any{"clusters", "fleet"}}})
	roles := kubeconfigRoles(t, objs)
	if len(roles) != 2 {
		t.Fatalf("Roles %v, want one in clusters and one in fleet", roles)
	}
	for _, r := range roles {
		if len(r.Rules) != 1 || !slices.Equal(r.Rules[0].Verbs, []string{"get"}) || !slices.Equal(r.Rules[0].Resources, []string{"secrets"}) {
			t.Errorf("Role %s/%s rules %+v, want get on secrets", r.Namespace, r.Name, r.Rules)
		}
	}
	for _, ns := range []string{"clusters", "fleet"} {
		b, ok := objs["RoleBinding/"+releaseName+"-kubeconfigs-"+ns]
		if !ok {
			t.Errorf("no RoleBinding in %s", ns)
			continue
		}
		rb := convert[rbacv1.RoleBinding](t, b)
		if rb.Namespace != ns || rb.RoleRef.Name != releaseName+"-kubeconfigs-"+ns || len(rb.Subjects) != 1 || rb.Subjects[0].Namespace != namespace {
			t.Errorf("RoleBinding %+v", rb)
		}
	}
}

func kubeconfigRoles(t *testing.T, objs map[string]*unstructured.Unstructured) []*rbacv1.Role {
	t.Helper()
	var out []*rbacv1.Role
	for key, u := range objs {
		if u.GetKind() == "Role" && strings.HasPrefix(key, "Role/"+releaseName+"-kubeconfigs-") {
			out = append(out, convert[rbacv1.Role](t, u))
		}
	}
	return out
}

// Reading Cluster API objects is granted only when asked.
func TestClusterAPIValue(t *testing.T) {
	for _, on := range []bool{false, true} {
		role := convert[rbacv1.ClusterRole](t, render(t, map[string]any{"maintenanceGuard": map[string]any{"clusterAPI": on}})["ClusterRole/"+releaseName])
		granted := slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, "cluster.x-k8s.io") && slices.Equal(r.Verbs, []string{"get"})
		})
		if granted != on {
			t.Errorf("clusterAPI %v: Cluster API rule granted %v", on, granted)
		}
	}
}

// Guards reaching a cluster by workload identity (a kubeConfig
// ConfigMap) may read ConfigMaps and ServiceAccounts and request
// ServiceAccount tokens only
// in the namespaces the values list, and their own token in the release
// namespace; none of it by default.
func TestKubeConfigConfigMapNamespaces(t *testing.T) {
	identityRoles := func(objs map[string]*unstructured.Unstructured) []*rbacv1.Role {
		var out []*rbacv1.Role
		for key, u := range objs {
			if u.GetKind() == "Role" && (strings.HasPrefix(key, "Role/"+releaseName+"-workload-identity-") || key == "Role/"+releaseName+"-own-token") {
				out = append(out, convert[rbacv1.Role](t, u))
			}
		}
		return out
	}
	if roles := identityRoles(render(t, nil)); len(roles) != 0 {
		t.Errorf("workload identity Roles by default: %v", roles)
	}
	objs := render(t, map[string]any{"maintenanceGuard": map[string]any{"kubeConfigConfigMapNamespaces": []any{"clusters", "fleet"}}})
	if len(identityRoles(objs)) != 3 {
		t.Fatalf("Roles %v, want one in clusters, one in fleet and the own-token one", identityRoles(objs))
	}
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
	}
	for _, ns := range []string{"clusters", "fleet"} {
		name := releaseName + "-workload-identity-" + ns
		u, ok := objs["Role/"+name]
		if !ok {
			t.Errorf("no Role %s", name)
			continue
		}
		if r := convert[rbacv1.Role](t, u); r.Namespace != ns || !slices.EqualFunc(r.Rules, want, samePolicyRule) {
			t.Errorf("Role %s/%s rules %+v, want %+v", r.Namespace, r.Name, r.Rules, want)
		}
		rb := convert[rbacv1.RoleBinding](t, objs["RoleBinding/"+name])
		if rb.Namespace != ns || rb.RoleRef.Name != name || len(rb.Subjects) != 1 || rb.Subjects[0].Namespace != namespace || rb.Subjects[0].Name != releaseName {
			t.Errorf("RoleBinding %+v", rb)
		}
	}
	own := convert[rbacv1.Role](t, objs["Role/"+releaseName+"-own-token"])
	wantOwn := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, ResourceNames: []string{releaseName}, Verbs: []string{"create"}}}
	if own.Namespace != namespace || !slices.EqualFunc(own.Rules, wantOwn, samePolicyRule) {
		t.Errorf("own-token Role %s/%s rules %+v, want %+v", own.Namespace, own.Name, own.Rules, wantOwn)
	}
	if rb := convert[rbacv1.RoleBinding](t, objs["RoleBinding/"+releaseName+"-own-token"]); rb.Namespace != namespace || len(rb.Subjects) != 1 || rb.Subjects[0].Name != releaseName {
		t.Errorf("own-token RoleBinding %+v", rb)
	}
	// Secrets stay out of it.
	if roles := kubeconfigRoles(t, objs); len(roles) != 0 {
		t.Errorf("Roles on Secrets: %v", roles)
	}
}

func samePolicyRule(a, b rbacv1.PolicyRule) bool {
	return slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) &&
		slices.Equal(a.ResourceNames, b.ResourceNames) && slices.Equal(a.Verbs, b.Verbs)
}
