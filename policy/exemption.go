package policy

import (
	"fmt"
	"sort"
	"strings"
)

// The annotations that exempt one object from named policies. The reason
// is required so that every exemption explains itself in review.
const (
	ExemptAnnotation       = "fluxgate.dev/exempt"
	ExemptReasonAnnotation = "fluxgate.dev/exempt-reason"
)

type exemptions struct {
	ids      map[string]bool
	valid    bool
	findings []Finding
}

// parseExemptions reads the exemption annotations of obj. An exemption
// without a reason is not honoured, and unknown ids are reported, both as
// warnings, so a typo never silently disables or fails to disable a rule.
func parseExemptions(obj map[string]any, set *Set) exemptions {
	meta, _ := obj["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	raw, _ := annotations[ExemptAnnotation].(string)
	if strings.TrimSpace(raw) == "" {
		return exemptions{}
	}
	ex := exemptions{ids: map[string]bool{}}
	var unknown []string
	for _, id := range strings.Split(raw, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if _, ok := set.byID[id]; !ok {
			unknown = append(unknown, id)
			continue
		}
		ex.ids[id] = true
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		ex.findings = append(ex.findings, Finding{Policy: EngineID, Action: ActionWarn, Message: fmt.Sprintf(
			"annotation %s names unknown policies %s; known policies: %s",
			ExemptAnnotation, strings.Join(unknown, ", "), strings.Join(policyIDs(set), ", "))})
	}
	reason, _ := annotations[ExemptReasonAnnotation].(string)
	if strings.TrimSpace(reason) == "" {
		ex.findings = append(ex.findings, Finding{Policy: EngineID, Action: ActionWarn, Message: fmt.Sprintf(
			"annotation %s is ignored: add %s explaining why the object is exempt", ExemptAnnotation, ExemptReasonAnnotation)})
		return ex
	}
	ex.valid = true
	return ex
}
