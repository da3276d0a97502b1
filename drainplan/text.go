package drainplan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write the drain plan: %w", err)
	}
	return nil
}

// WriteText writes the report for a person: a table of nodes, what blocks
// each blocked one, and the sequence with each step's budgets.
func WriteText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("Drain modelled: %s\n\n", r.Semantics)
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tDRAIN NOW\tEVICT\tWAIT\tBLOCKED\tIGNORED\tSKIPPED")
	for _, n := range r.Nodes {
		var evict, wait, blocked, ignored, skipped int
		for _, p := range n.Pods {
			switch {
			case p.Drain == DrainIgnore:
				ignored++
			case p.Drain == DrainSkip:
				skipped++
			case p.Blocks():
				blocked++
			case p.Eviction == EvictionWaits:
				wait++
			default:
				evict++
			}
		}
		verdict := "ok"
		if !n.Drainable {
			verdict = "BLOCKED"
		}
		if n.Unschedulable {
			verdict += " (cordoned)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", n.Name, verdict, evict, wait, blocked, ignored, skipped)
	}
	_ = tw.Flush()
	for _, n := range r.Nodes {
		if n.Drainable && len(n.Warnings) == 0 {
			continue
		}
		if n.Drainable {
			ew.printf("\n%s can be drained now, with warnings:\n", n.Name)
		} else {
			ew.printf("\n%s cannot be drained now:\n", n.Name)
		}
		for _, b := range n.Blockers {
			ew.printf("  - %s\n    pods: %s\n", describe(b), strings.Join(b.Pods, ", "))
		}
		for _, warn := range n.Warnings {
			ew.printf("  warning: %s\n", warn)
		}
	}

	seq := r.Sequence
	ew.printf("\nDraining one node at a time (assumes %s):\n", seq.Assumption)
	tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tNODE\tRESULT\tBUDGETS (disruptions allowed before -> after; ready pods on the node)")
	for _, st := range seq.Steps {
		result := "drains"
		if !st.Drainable {
			var reasons []string
			for _, b := range st.Blockers {
				reasons = append(reasons, blockerShort(b))
			}
			result = "blocked: " + strings.Join(reasons, "; ")
		}
		var budgets []string
		for _, b := range st.Budgets {
			if st.Drainable {
				budgets = append(budgets, fmt.Sprintf("%s %d->%d (%d)", b.Budget, b.AllowedBefore, b.AllowedAfter, b.Healthy))
			} else {
				budgets = append(budgets, fmt.Sprintf("%s %d (%d)", b.Budget, b.AllowedBefore, b.Healthy))
			}
		}
		if len(budgets) == 0 {
			budgets = []string{"-"}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", st.Step, st.Node, result, strings.Join(budgets, ", "))
	}
	_ = tw.Flush()
	order := "none"
	if len(seq.Order) > 0 {
		order = strings.Join(seq.Order, ", ")
	}
	ew.printf("Order: %s", order)
	if len(seq.Blocked) > 0 {
		ew.printf("; blocked: %s", strings.Join(seq.Blocked, ", "))
	}
	ew.printf("\n")
	if ew.err != nil {
		return fmt.Errorf("write the drain plan: %w", ew.err)
	}
	return nil
}

// describe says what a blocker is, with the budget's counts.
func describe(b Blocker) string {
	switch b.Reason {
	case ReasonNoController:
		return "no controller: kubectl drain refuses to start without --force (which would delete them for good)"
	case ReasonMultipleBudgets:
		return fmt.Sprintf("selected by more than one budget (%s): the Eviction API refuses with %d", strings.Join(b.Budgets, ", "), b.Code)
	}
	bu := b.Budget
	notReady := "none"
	if len(bu.NotReady) > 0 {
		notReady = strings.Join(bu.NotReady, ", ")
	}
	counts := fmt.Sprintf("healthy %d, desired healthy %d, expected %d, disruptions allowed %d, %s; not ready: %s",
		bu.CurrentHealthy, bu.DesiredHealthy, bu.ExpectedPods, bu.DisruptionsAllowed, bu.UnhealthyPodEvictionPolicy, notReady)
	switch b.Reason {
	case ReasonBudgetAllowsNoDisruption:
		return fmt.Sprintf("budget %s allows no disruption (%d): %s", bu.Key(), b.Code, counts)
	case ReasonBudgetUsedUp:
		return fmt.Sprintf("budget %s is used up by earlier evictions (%d): %s", bu.Key(), b.Code, counts)
	case ReasonBudgetNotObserved:
		return fmt.Sprintf("budget %s is not yet processed by the disruption controller (%d, observedGeneration behind)", bu.Key(), b.Code)
	}
	return fmt.Sprintf("budget %s: %s (%d)", bu.Key(), b.Message, b.Code)
}

// blockerShort names a blocker in a few words.
func blockerShort(b Blocker) string {
	switch b.Reason {
	case ReasonNoController:
		return fmt.Sprintf("%d pods without controller", len(b.Pods))
	case ReasonMultipleBudgets:
		return fmt.Sprintf("%d pods under budgets %s", len(b.Pods), strings.Join(b.Budgets, "+"))
	}
	return fmt.Sprintf("%s %s (%d pods)", b.Budget.Key(), b.Reason, len(b.Pods))
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
