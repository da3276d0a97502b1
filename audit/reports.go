package audit

import (
	"fmt"
	"sort"
	"strings"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/policy"
)

// The Report fields fluxgate sets, as report consumers filter on them.
const (
	// ReportSource is each Report's and each result's source.
	ReportSource = "fluxgate"
	// ReportName is the name of the one Report per namespace.
	ReportName = "fluxgate"
	// ManagedByLabel marks the Reports fluxgate owns (and may delete).
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// TruncatedAnnotation says how many results a Report left out.
	TruncatedAnnotation = "fluxgate.dev/results-truncated"
)

// MaxResults bounds the results of one Report, so that a namespace of
// thousands of workloads never makes an object larger than etcd accepts
// (1.5 MiB): failures are kept first, then warnings, passes and skips;
// the summary still counts every result.
const MaxResults = 1000

// Results of OpenReports, as fluxgate uses them.
const (
	ResultPass reportsv1alpha1.Result = "pass"
	ResultFail reportsv1alpha1.Result = "fail"
	ResultWarn reportsv1alpha1.Result = "warn"
	ResultSkip reportsv1alpha1.Result = "skip"
)

// Severity by action: a denial blocks the next apply, a warning does not,
// and a mutation is made by the webhook on the next apply.
var severity = map[policy.Action]reportsv1alpha1.ResultSeverity{
	policy.ActionDeny:   "high",
	policy.ActionWarn:   "medium",
	policy.ActionMutate: "low",
}

// Reports renders an audit as one Report per namespace that holds an
// audited object, keyed by namespace. Every policy that applies to an
// object yields results for it: one per finding (deny: fail, warn: warn, a
// mutation the webhook would make on the next apply: warn), else pass, or
// skip when the object's exemption annotation names the policy. Objects of
// namespaces the engine never evaluates are left out, as are objects of
// kinds no enabled policy applies to.
func Reports(eng *policy.Engine, objs []Object, rep *check.Report, now time.Time) map[string]*reportsv1alpha1.Report {
	type objectKey struct{ kind, namespace, name string }
	findings := map[objectKey][]check.Result{}
	for _, r := range rep.Results {
		k := objectKey{r.Kind, r.Namespace, r.Name}
		findings[k] = append(findings[k], r)
	}
	stamp := metav1.Timestamp{Seconds: now.Unix()}
	out := map[string]*reportsv1alpha1.Report{}
	for i := range objs {
		obj := &objs[i]
		ns := obj.Namespace()
		if eng.ExemptNamespace(ns) {
			continue
		}
		applicable := applicablePolicies(eng, obj.Kind())
		if len(applicable) == 0 {
			continue
		}
		subject := corev1.ObjectReference{APIVersion: obj.APIVersion(), Kind: obj.Kind(), Namespace: ns, Name: obj.Name(), UID: obj.UID}
		result := func(policyID string, res reportsv1alpha1.Result, sev reportsv1alpha1.ResultSeverity, msg string, props map[string]string) reportsv1alpha1.ReportResult {
			return reportsv1alpha1.ReportResult{
				Source: ReportSource, Policy: policyID, Result: res, Severity: sev, Scored: true,
				Timestamp: stamp, Subjects: []corev1.ObjectReference{subject}, Description: msg, Properties: props,
			}
		}
		r := out[ns]
		if r == nil {
			r = newReport(ns)
			out[ns] = r
		}
		got := findings[objectKey{obj.Kind(), ns, obj.Name()}]
		exempt := exemptPolicies(obj.Data)
		for _, id := range applicable {
			found := false
			for _, f := range got {
				if f.Policy != id {
					continue
				}
				found = true
				action := policy.Action(f.Action)
				res := ResultWarn
				if action == policy.ActionDeny {
					res = ResultFail
				}
				r.Results = append(r.Results, result(id, res, severity[action], f.Message, map[string]string{"action": f.Action}))
			}
			switch {
			case found:
			case exempt[id]:
				r.Results = append(r.Results, result(id, ResultSkip, "", "exempt by the "+policy.ExemptAnnotation+" annotation", nil))
			default:
				r.Results = append(r.Results, result(id, ResultPass, "", "", nil))
			}
		}
		for _, f := range got {
			if f.Policy == policy.EngineID {
				r.Results = append(r.Results, result(f.Policy, ResultWarn, severity[policy.Action(f.Action)], f.Message, map[string]string{"action": f.Action}))
			}
		}
	}
	for _, r := range out {
		finish(r)
	}
	return out
}

func newReport(ns string) *reportsv1alpha1.Report {
	return &reportsv1alpha1.Report{
		TypeMeta:   metav1.TypeMeta{APIVersion: reportsv1alpha1.SchemeGroupVersion.String(), Kind: "Report"},
		ObjectMeta: metav1.ObjectMeta{Name: ReportName, Namespace: ns, Labels: map[string]string{ManagedByLabel: ReportSource}},
		Source:     ReportSource,
	}
}

// finish counts the results and keeps the most severe MaxResults.
func finish(r *reportsv1alpha1.Report) {
	for _, res := range r.Results {
		switch res.Result {
		case ResultPass:
			r.Summary.Pass++
		case ResultFail:
			r.Summary.Fail++
		case ResultWarn:
			r.Summary.Warn++
		case ResultSkip:
			r.Summary.Skip++
		}
	}
	rank := map[reportsv1alpha1.Result]int{ResultFail: 0, ResultWarn: 1, ResultPass: 2, ResultSkip: 3}
	sort.SliceStable(r.Results, func(i, j int) bool { return rank[r.Results[i].Result] < rank[r.Results[j].Result] })
	if n := len(r.Results) - MaxResults; n > 0 {
		r.Results = r.Results[:MaxResults]
		r.Annotations = map[string]string{TruncatedAnnotation: fmt.Sprintf("%d", n)}
	}
}

// applicablePolicies are the ids of the enabled policies that evaluate
// objects of kind.
func applicablePolicies(eng *policy.Engine, kind string) []string {
	var ids []string
	for _, md := range eng.Set().Policies() {
		if md.AppliesTo(kind) && eng.Action(md.ID) != policy.ActionOff {
			ids = append(ids, md.ID)
		}
	}
	return ids
}

// exemptPolicies reads the ids an object's exemption annotation names, if
// it gives a reason (the engine ignores it otherwise).
func exemptPolicies(obj map[string]any) map[string]bool {
	meta, _ := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	raw, _ := ann[policy.ExemptAnnotation].(string)
	reason, _ := ann[policy.ExemptReasonAnnotation].(string)
	if strings.TrimSpace(reason) == "" {
		return nil
	}
	out := map[string]bool{}
	for _, id := range strings.Split(raw, ",") {
		out[strings.TrimSpace(id)] = true
	}
	return out
}
