package audit

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrNoReportsAPI is returned by Publish when the cluster does not serve
// openreports.io/v1alpha1 Reports (the CRD is not installed) or fluxgate
// may not list them (the Helm value audit.reports.enabled=false).
var ErrNoReportsAPI = errors.New("openreports.io/v1alpha1 Reports are not available: install the CRD (Helm value audit.reports.installCRD=true) and grant access (audit.reports.enabled=true) to publish audit results")

// PublishStats counts what Publish wrote.
type PublishStats struct {
	Created, Updated, Unchanged, Deleted int
}

// Publish makes the cluster's fluxgate Reports match reports: it creates
// or updates each (a Report whose results are unchanged, timestamps
// aside, is left alone so that a periodic audit does not rewrite every
// namespace's Report), and deletes fluxgate's Reports of namespaces in
// scope that have none any more. scope is the namespace audited, or ""
// for the whole cluster.
func Publish(ctx context.Context, c client.Client, scope string, reports map[string]*reportsv1alpha1.Report) (PublishStats, error) {
	var stats PublishStats
	var existing reportsv1alpha1.ReportList
	opts := []client.ListOption{client.MatchingLabels{ManagedByLabel: ReportSource}}
	if scope != "" {
		opts = append(opts, client.InNamespace(scope))
	}
	if err := c.List(ctx, &existing, opts...); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return stats, fmt.Errorf("%w (%v)", ErrNoReportsAPI, err)
		}
		return stats, fmt.Errorf("list fluxgate Reports: %w", err)
	}
	current := map[string]*reportsv1alpha1.Report{}
	for i := range existing.Items {
		r := &existing.Items[i]
		if r.Name == ReportName {
			current[r.Namespace] = r
		}
	}
	for ns, want := range reports {
		have, ok := current[ns]
		if !ok {
			if err := c.Create(ctx, want.DeepCopy()); err != nil {
				if apierrors.IsAlreadyExists(err) {
					// Listed from a stale cache: next round updates it.
					continue
				}
				return stats, fmt.Errorf("create Report %s/%s: %w", ns, ReportName, err)
			}
			stats.Created++
			continue
		}
		if sameReport(have, want) {
			stats.Unchanged++
			continue
		}
		updated := have.DeepCopy()
		updated.Labels, updated.Annotations = want.Labels, want.Annotations
		updated.Source, updated.Summary, updated.Results = want.Source, want.Summary, want.Results
		if err := c.Update(ctx, updated); err != nil {
			return stats, fmt.Errorf("update Report %s/%s: %w", ns, ReportName, err)
		}
		stats.Updated++
	}
	for ns, have := range current {
		if _, ok := reports[ns]; ok {
			continue
		}
		if err := c.Delete(ctx, have); client.IgnoreNotFound(err) != nil {
			return stats, fmt.Errorf("delete Report %s/%s: %w", ns, ReportName, err)
		}
		stats.Deleted++
	}
	return stats, nil
}

// sameReport compares what an audit writes, result timestamps aside.
func sameReport(have, want *reportsv1alpha1.Report) bool {
	if have.Source != want.Source || have.Summary != want.Summary || len(have.Results) != len(want.Results) ||
		have.Annotations[TruncatedAnnotation] != want.Annotations[TruncatedAnnotation] {
		return false
	}
	for i := range have.Results {
		a, b := have.Results[i], want.Results[i]
		a.Timestamp = b.Timestamp
		if !reflect.DeepEqual(a, b) {
			return false
		}
	}
	return true
}
