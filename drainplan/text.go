package drainplan

import (
	"bytes"
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
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
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
	writeTrimmed(ew, &table)
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
	table.Reset()
	tw = tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tNODE\tRESULT\tBUDGET\tALLOWED\tREADY PODS ON NODE\tBLOCKS")
	for _, st := range seq.Steps {
		result := "drains"
		if !st.Drainable {
			result = "BLOCKED"
		}
		blocks := map[string]Reason{}
		var others []string
		for _, b := range st.Blockers {
			switch {
			case b.Budget != nil:
				blocks[b.Budget.Key()] = b.Reason
			case b.Reason == ReasonNoController:
				others = append(others, "no controller: "+strings.Join(b.Pods, ", "))
			default:
				others = append(others, fmt.Sprintf("under %s: %s", strings.Join(b.Budgets, " and "), strings.Join(b.Pods, ", ")))
			}
		}
		lead := fmt.Sprintf("%d\t%s\t%s", st.Step, st.Node, result)
		rows := 0
		for _, b := range st.Budgets {
			reason, blocking := blocks[b.Budget]
			if b.Healthy == 0 && b.AllowedBefore == b.AllowedAfter && !blocking {
				continue // no disruption needed, nothing changed
			}
			allowed := fmt.Sprint(b.AllowedBefore)
			if st.Drainable {
				allowed = fmt.Sprintf("%d -> %d", b.AllowedBefore, b.AllowedAfter)
			}
			why := ""
			if blocking {
				why = string(reason)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", lead, b.Budget, allowed, b.Healthy, why)
			lead, rows = "\t\t", rows+1
		}
		for _, o := range others {
			fmt.Fprintf(tw, "%s\t-\t\t\t%s\n", lead, o)
			lead, rows = "\t\t", rows+1
		}
		if rows == 0 {
			fmt.Fprintf(tw, "%s\t-\t\t\t\n", lead)
		}
	}
	_ = tw.Flush()
	writeTrimmed(ew, &table)
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

// String says what the blocker is, with the budget's counts, and the
// pods it holds: a sentence for a condition or an Event.
func (b Blocker) String() string {
	return describe(b) + "; pods: " + strings.Join(b.Pods, ", ")
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

// writeTrimmed writes a table without the spaces tabwriter leaves at the
// end of lines whose last cells are empty.
func writeTrimmed(w io.Writer, table *bytes.Buffer) {
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		if line == "" {
			continue
		}
		fmt.Fprintln(w, strings.TrimRight(line, " \n"))
	}
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
