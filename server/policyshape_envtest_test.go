package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A live policy that would load and never act (a result rule that is not
// a set), or whose answer would change from one evaluation to the next or
// wait on the network (a nondeterministic or host-reaching built-in), is
// refused when its ConfigMap arrives: a PolicyRejected Event on the
// ConfigMap names the file, the line and why, and the set in force keeps
// answering.
func TestPolicyConfigMapsRefuseMisshapenAndImpurePolicies(t *testing.T) {
	ctx := context.Background()
	// The rule starts on line 8 of every file, its body on line 9.
	const header = "# METADATA\n# title: Team rule\n# custom:\n#   id: team-rule\n#   kinds: [Deployment]\npackage acme.team\n\n"
	call := func(expr string) string {
		return "deny contains msg if {\n\tx := " + expr + "\n\tmsg := sprintf(\"%v\", [x])\n}\n"
	}
	tests := []struct {
		name string
		rule string
		line int
		want string
	}{
		{"deny-single-value", "deny := msg if {\n\tinput.request.kind.kind == \"Deployment\"\n\tmsg := \"always\"\n}\n", 8,
			"rule deny is a single value, but the engine reads deny as a set of results"},
		{"warn-object", "warn[name] := msg if {\n\tname := input.request.name\n\tmsg := \"always\"\n}\n", 8,
			"rule warn is an object, but the engine reads warn as a set of results"},
		{"patch-single-value", "patch := {\"op\": \"add\", \"path\": \"/metadata/labels/team\", \"value\": \"a\"}\n", 8,
			"rule patch is a single value, but the engine reads patch as a set of results"},
		{"time-now", call("time.now_ns()"), 9, "undefined function time.now_ns (refused: policies must be pure"},
		{"rand-intn", call(`rand.intn("seed", 10)`), 9, "undefined function rand.intn (refused"},
		{"uuid", call(`uuid.rfc4122("seed")`), 9, "undefined function uuid.rfc4122 (refused"},
		{"http-send", call(`http.send({"method": "GET", "url": "http://127.0.0.1:1/"})`), 9, "undefined function http.send (refused"},
		{"net-lookup", call(`net.lookup_ip_addr("localhost")`), 9, "undefined function net.lookup_ip_addr (refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := readyz()
			if err != nil {
				t.Fatal(err)
			}
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "team-" + tt.name, Namespace: ownNamespace, Labels: map[string]string{"fluxgate.dev/policy": "true"}},
				Data:       map[string]string{"team.rego": header + tt.rule},
			}
			if err := k8s.Create(ctx, cm); err != nil {
				t.Fatal(err)
			}
			// Once the ConfigMap is gone, the set is loaded again (a new
			// generation, the same policies): the next test starts from a
			// settled set.
			t.Cleanup(func() {
				if err := k8s.Delete(context.Background(), cm); err != nil {
					t.Errorf("delete ConfigMap %s: %v", cm.Name, err)
					return
				}
				eventually(t, 30*time.Second, func() error {
					st, err := readyz()
					if err != nil {
						return err
					}
					if !st.Ready || st.PolicySet.Generation <= before.PolicySet.Generation {
						return fmt.Errorf("policy set not reloaded after ConfigMap %s was deleted: readyz %+v", cm.Name, st)
					}
					return nil
				})
			})
			at := fmt.Sprintf("configmap/%s/%s/team.rego:%d:", ownNamespace, cm.Name, tt.line)
			eventually(t, 30*time.Second, func() error {
				var notes []string
				for _, e := range events(t, ownNamespace, "PolicyRejected") {
					if e.InvolvedObject.Name != cm.Name {
						continue
					}
					if strings.Contains(e.Message, at) && strings.Contains(e.Message, tt.want) {
						return nil
					}
					notes = append(notes, e.Message)
				}
				return fmt.Errorf("no PolicyRejected Event on ConfigMap %s naming %s with %q; Events: %q", cm.Name, at, tt.want, notes)
			})
			st, err := readyz()
			if err != nil {
				t.Fatal(err)
			}
			if !st.Ready || st.PolicySet.Generation != before.PolicySet.Generation {
				t.Fatalf("after a refused policy: readyz %+v, want ready at generation %d", st, before.PolicySet.Generation)
			}
			for _, id := range st.PolicySet.Policies {
				if id == "team-rule" {
					t.Fatal(errors.New("the refused policy team-rule is active"))
				}
			}
		})
	}
}
