package chart

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// auditPolicy records every request's metadata once, when it completes.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`

// auditEvent is the part of an audit.k8s.io/v1 Event the RBAC checks read.
type auditEvent struct {
	Stage            string    `json:"stage"`
	Received         time.Time `json:"requestReceivedTimestamp"`
	Verb             string    `json:"verb"`
	RequestURI       string    `json:"requestURI"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	ObjectRef *struct {
		APIGroup    string `json:"apiGroup"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// permission is one verb on one resource ("deployments", "x/status") of
// one API group, in one namespace ("" cluster-wide).
type permission struct {
	group, resource, verb, namespace string
}

func (p permission) String() string {
	where := "cluster-wide"
	if p.namespace != "" {
		where = "in " + p.namespace
	}
	group := p.group
	if group == "" {
		group = "core"
	}
	return fmt.Sprintf("%s %s.%s %s", p.verb, p.resource, group, where)
}

// auditFiles writes the audit policy and returns it with the log's path.
func auditFiles(t *testing.T) (policyPath, logPath string) {
	t.Helper()
	dir := t.TempDir()
	policyPath = filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policyPath, []byte(auditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	return policyPath, filepath.Join(dir, "audit.log")
}

// readAudit returns the completed requests made as user before until.
func readAudit(t *testing.T, path, user string, until time.Time) []auditEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("read audit log: %v", err)
	}
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line: %v", err)
		}
		if e.Stage == "ResponseComplete" && e.ImpersonatedUser != nil && e.ImpersonatedUser.Username == user &&
			e.ObjectRef != nil && e.Received.Before(until) {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// granted lists every permission the rendered (Cluster)Roles give; a
// RoleBinding's Role grants in its namespace only.
func granted(t *testing.T, objs map[string]*unstructured.Unstructured) []permission {
	t.Helper()
	var out []permission
	for _, k := range keys(objs) {
		var rules []rbacv1.PolicyRule
		ns := ""
		switch objs[k].GetKind() {
		case "ClusterRole":
			rules = convert[rbacv1.ClusterRole](t, objs[k]).Rules
		case "Role":
			role := convert[rbacv1.Role](t, objs[k])
			rules, ns = role.Rules, role.Namespace
		default:
			continue
		}
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out = append(out, permission{group: g, resource: res, verb: v, namespace: ns})
					}
				}
			}
		}
	}
	return out
}

// used is the set of permissions the audited requests exercised. An
// informer's initial listing is a watch with sendInitialEvents (client-go's
// WatchListClient) where the API server supports it, and a list where it
// does not: such a watch counts as that list.
func used(events []auditEvent) map[permission]bool {
	out := map[permission]bool{}
	for _, e := range events {
		res := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			res += "/" + e.ObjectRef.Subresource
		}
		verbs := []string{e.Verb}
		if e.Verb == "watch" && strings.Contains(e.RequestURI, "sendInitialEvents=true") {
			verbs = append(verbs, "list")
		}
		for _, v := range verbs {
			p := permission{group: e.ObjectRef.APIGroup, resource: res, verb: v}
			out[p] = true
			p.namespace = e.ObjectRef.Namespace
			out[p] = true
		}
	}
	return out
}

// forbidden lists the audited requests the API server refused with 403.
func forbidden(events []auditEvent) []string {
	var out []string
	for _, e := range events {
		if e.ResponseStatus != nil && e.ResponseStatus.Code == 403 {
			out = append(out, e.Verb+" "+e.RequestURI)
		}
	}
	sort.Strings(out)
	return out
}
