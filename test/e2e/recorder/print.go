package recorder

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Print writes the timeline, one event a line with its time relative to
// Origin ("+3.2s  node node-2 cordoned"), then the summary table.
func (r *Recorder) Print(w io.Writer) error {
	origin := r.Origin()
	for _, e := range r.Timeline() {
		if _, err := fmt.Fprintf(w, "%8s  %s\n", relative(e.At.Sub(origin)), e.Describe()); err != nil {
			return fmt.Errorf("print the timeline: %w", err)
		}
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return fmt.Errorf("print the timeline: %w", err)
	}
	return PrintSummary(w, r.Summary(), origin)
}

// PrintSummary writes a table of summaries: per Deployment, desired
// replicas, PDB floor, fewest ready, lowest ready ratio, and the
// intervals below the floor with times relative to origin.
func PrintSummary(w io.Writer, apps []AppSummary, origin time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tDESIRED\tPDB FLOOR\tMIN READY\tMIN RATIO\tBELOW FLOOR")
	for _, a := range apps {
		floor := "-"
		if a.PDB != "" {
			floor = fmt.Sprintf("%d (%s)", a.Floor, a.PDB)
		}
		minReady, ratio := "never ready", "-"
		if a.MinReady >= 0 {
			minReady = fmt.Sprintf("%d at %s", a.MinReady, relative(a.MinReadyAt.Sub(origin)))
			ratio = fmt.Sprintf("%.2f", a.MinRatio)
		}
		below := "no"
		for i, b := range a.Breaches {
			if i == 0 {
				below = ""
			} else {
				below += ", "
			}
			end := "end"
			if !b.To.IsZero() {
				end = relative(b.To.Sub(origin))
			}
			below += fmt.Sprintf("%d<%d %s..%s", b.Ready, b.Floor, relative(b.From.Sub(origin)), end)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", a.Deployment, a.Desired, floor, minReady, ratio, below)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print the summary: %w", err)
	}
	return nil
}

// relative renders a duration as signed seconds: "+3.2s".
func relative(d time.Duration) string {
	return fmt.Sprintf("%+.1fs", d.Seconds())
}
