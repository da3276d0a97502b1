package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/signals"
)

// targetGVKs are the Flux kinds a guard pauses, at the versions the guard
// writes.
var targetGVKs = map[v1alpha1.TargetKind]schema.GroupVersionKind{
	v1alpha1.KustomizationKind: {Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"},
	v1alpha1.HelmReleaseKind:   {Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"},
}

func newMaintenanceCommand() *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "Show what the maintenance guards hold paused, and declare maintenance by hand",
		Long: `Work with the cluster's MaintenanceGuards from a workstation.

  status    each guard's phase, active signals (since when), the Flux objects
            it holds paused and why, and its conditions
  start     set the manual signal (the fluxgate.dev/maintenance annotation,
            with --reason as its value) on guards
  stop      clear the manual signal
  uninstall delete every guard and wait until fluxgate has resumed what they
            hold (the chart's pre-delete hook runs it)

Without GUARD arguments, start, stop and status act on every guard in the
cluster. See docs/maintenance.md.

Exit status: 0 done, 1 uninstall timed out with objects still paused,
2 usage or cluster error (an unknown guard, no access).`,
		Example: `  fluxgate maintenance status --kubeconfig ~/.kube/config
  fluxgate maintenance start --reason "kernel patch CHG-1234" default
  fluxgate maintenance stop default`,
	}
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	connect := func() (client.Client, error) {
		cfg, err := restConfig(kubeconfig, apiRate{qps: -1})
		if err != nil {
			return nil, usageError(err)
		}
		scheme := runtime.NewScheme()
		if err := v1alpha1.AddToScheme(scheme); err != nil {
			return nil, usageError(fmt.Errorf("scheme: %w", err))
		}
		c, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return nil, usageError(fmt.Errorf("connect to the cluster: %w", err))
		}
		return c, nil
	}
	cmd.AddCommand(
		newMaintenanceStatusCommand(connect),
		newMaintenanceStartCommand(connect),
		newMaintenanceStopCommand(connect),
		newMaintenanceUninstallCommand(connect),
	)
	return cmd
}

func newMaintenanceStatusCommand(connect func() (client.Client, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "status [GUARD...]",
		Short: "Show each guard's phase, signals, paused objects and conditions",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, guards, err := selectGuards(cmd.Context(), connect, args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(guards) == 0 {
				fmt.Fprintln(out, "No MaintenanceGuard in the cluster: nothing pauses Flux (docs/maintenance.md).")
				return nil
			}
			for i := range guards {
				if i > 0 {
					fmt.Fprintln(out)
				}
				if err := writeGuardStatus(cmd.Context(), c, out, &guards[i]); err != nil {
					return usageError(err)
				}
			}
			return nil
		},
	}
}

func newMaintenanceStartCommand(connect func() (client.Client, error)) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "start --reason TEXT [GUARD...]",
		Short: "Declare maintenance by hand: set the manual signal on guards (all of them without GUARD)",
		Long: `Set the annotation ` + signals.AnnotationManual + `: "<reason>" on each GUARD,
or on every guard when none is named. Each guard with the manual signal
enabled pauses its targets once the signal has lasted its debounce, and
keeps them paused until "fluxgate maintenance stop" and its settle period.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			reason = strings.TrimSpace(reason)
			if reason == "" {
				return usageError(errors.New("--reason is required: say why (it is shown on the guard and on every paused object)"))
			}
			c, guards, err := selectGuards(cmd.Context(), connect, args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := sayAll(out, args, guards, "starting maintenance on"); err != nil {
				return err
			}
			for i := range guards {
				g := &guards[i]
				if err := setManual(cmd.Context(), c, g, &reason); err != nil {
					return usageError(err)
				}
				msg := fmt.Sprintf("MaintenanceGuard %s: manual maintenance started (%q); it pauses its targets after its debounce (%s)", g.Name, reason, durationOr(g.Spec.Debounce, "30s"))
				if g.Spec.Signals.Manual.Enabled != nil && !*g.Spec.Signals.Manual.Enabled {
					msg = fmt.Sprintf("MaintenanceGuard %s: annotation set, but its manual signal is off (spec.signals.manual.enabled: false): it will not pause for it", g.Name)
				}
				fmt.Fprintln(out, msg)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why maintenance is declared (required; shown in the guard's status and on the paused objects)")
	return cmd
}

func newMaintenanceStopCommand(connect func() (client.Client, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "stop [GUARD...]",
		Short: "Clear the manual signal on guards (all of them without GUARD)",
		Long: `Remove the annotation ` + signals.AnnotationManual + ` from each GUARD, or from
every guard when none is named. A guard resumes what it paused once no
signal at all (a cordoned node, a Node's own ` + signals.AnnotationManual + `
annotation, ...) has been active for its settle period.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, guards, err := selectGuards(cmd.Context(), connect, args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := sayAll(out, args, guards, "stopping maintenance on"); err != nil {
				return err
			}
			for i := range guards {
				g := &guards[i]
				if _, ok := g.Annotations[signals.AnnotationManual]; !ok {
					fmt.Fprintf(out, "MaintenanceGuard %s: no manual signal was set\n", g.Name)
					continue
				}
				if err := setManual(cmd.Context(), c, g, nil); err != nil {
					return usageError(err)
				}
				var others []string
				for _, s := range g.Status.ActiveSignals {
					switch {
					case s.Type != v1alpha1.SignalManual:
						others = append(others, string(s.Type))
					case manualOnNodes.MatchString(s.Detail):
						others = append(others, "Manual on Nodes")
					}
				}
				msg := fmt.Sprintf("MaintenanceGuard %s: manual signal cleared; it resumes what it holds after its settle period (%s)", g.Name, durationOr(g.Spec.Settle, "5m"))
				if len(others) > 0 {
					msg += fmt.Sprintf(" once these signals clear too: %s", strings.Join(others, ", "))
				}
				fmt.Fprintln(out, msg)
			}
			return nil
		},
	}
}

func newMaintenanceUninstallCommand(connect func() (client.Client, error)) *cobra.Command {
	var timeout, interval time.Duration
	cmd := &cobra.Command{
		Use:   "uninstall [--timeout 2m]",
		Short: "Delete every MaintenanceGuard and wait until fluxgate has resumed what they hold",
		Long: `Delete every MaintenanceGuard in the cluster and wait until all are gone.
A guard's finalizer resumes the Flux objects it holds before it lets the
guard go, so this needs fluxgate serve running: the chart's pre-delete hook
runs this command before Helm deletes anything.

If guards remain after --timeout, it exits 1 and names what is still
paused; docs/install.md says how to recover.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 || interval <= 0 {
				return usageError(fmt.Errorf("--timeout %s and --interval %s: both must be positive", timeout, interval))
			}
			c, err := connect()
			if err != nil {
				return err
			}
			return uninstallGuards(cmd.Context(), c, cmd.OutOrStdout(), timeout, interval)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the guards to resume what they hold and go")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often to look whether the guards are gone")
	_ = cmd.Flags().MarkHidden("interval")
	return cmd
}

// manualOnNodes matches the part of a Manual signal's detail that names
// Nodes annotated by hand (maintenance/signals' detectManual), which stop
// leaves alone.
var manualOnNodes = regexp.MustCompile(`(^maintenance declared |; )on [0-9]+ nodes?: `)

// selectGuards connects and reads the named guards, or lists every guard
// when names is empty. An unknown name is a usage error.
func selectGuards(ctx context.Context, connect func() (client.Client, error), names []string) (client.Client, []v1alpha1.MaintenanceGuard, error) {
	c, err := connect()
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 {
		var list v1alpha1.MaintenanceGuardList
		if err := c.List(ctx, &list); err != nil {
			return nil, nil, usageError(fmt.Errorf("list MaintenanceGuards: %w", err))
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
		return c, list.Items, nil
	}
	out := make([]v1alpha1.MaintenanceGuard, 0, len(names))
	for _, name := range names {
		var g v1alpha1.MaintenanceGuard
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &g); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil, usageError(fmt.Errorf("MaintenanceGuard %q: not found (kubectl get maintenanceguards lists them)", name))
			}
			return nil, nil, usageError(fmt.Errorf("read MaintenanceGuard %s: %w", name, err))
		}
		out = append(out, g)
	}
	return c, out, nil
}

// sayAll says, when no guard was named, that every guard is meant, and
// refuses a cluster without guards.
func sayAll(out io.Writer, names []string, guards []v1alpha1.MaintenanceGuard, doing string) error {
	if len(names) > 0 {
		return nil
	}
	if len(guards) == 0 {
		return usageError(errors.New("no MaintenanceGuard in the cluster: create one first (docs/maintenance.md)"))
	}
	all := make([]string, len(guards))
	for i := range guards {
		all[i] = guards[i].Name
	}
	_, err := fmt.Fprintf(out, "No GUARD named: %s all %d guards (%s)\n", doing, len(guards), strings.Join(all, ", "))
	return err
}

// setManual sets the manual signal's annotation to *reason, or removes it
// when reason is nil, with a merge patch that touches nothing else.
func setManual(ctx context.Context, c client.Client, g *v1alpha1.MaintenanceGuard, reason *string) error {
	var value any // JSON null removes the key
	if reason != nil {
		value = *reason
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]any{signals.AnnotationManual: value}}}
	raw, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("annotate MaintenanceGuard %s: %w", g.Name, err)
	}
	if err := c.Patch(ctx, g, client.RawPatch(types.MergePatchType, raw)); err != nil {
		return fmt.Errorf("annotate MaintenanceGuard %s: %w", g.Name, err)
	}
	return nil
}

// writeGuardStatus prints one guard: phase, signals, what it holds and
// why, conditions.
func writeGuardStatus(ctx context.Context, c client.Client, out io.Writer, g *v1alpha1.MaintenanceGuard) error {
	st := &g.Status
	phase := string(st.Phase)
	if phase == "" {
		phase = "(not reconciled yet: is fluxgate serve running?)"
	}
	if g.DeletionTimestamp != nil {
		phase += ", being deleted (resuming what it holds)"
	}
	fmt.Fprintf(out, "MaintenanceGuard %s\n  Phase:    %s\n", g.Name, phase)
	if reason, ok := g.Annotations[signals.AnnotationManual]; ok {
		fmt.Fprintf(out, "  Manual:   %q (fluxgate maintenance stop %s clears it)\n", reason, g.Name)
	}
	if st.LastPauseTime != nil && len(st.Paused) > 0 {
		fmt.Fprintf(out, "  Paused at: %s\n", timestamp(st.LastPauseTime.Time))
	}
	if st.LastSignalClearTime != nil && st.Phase == v1alpha1.PhaseSettling {
		fmt.Fprintf(out, "  Signals cleared at: %s (resumes after the settle period, %s)\n", timestamp(st.LastSignalClearTime.Time), durationOr(g.Spec.Settle, "5m"))
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if len(st.ActiveSignals) == 0 {
		fmt.Fprintln(tw, "  Signals:\tnone")
	} else {
		fmt.Fprintln(tw, "  Signals:")
		for _, s := range st.ActiveSignals {
			fmt.Fprintf(tw, "    %s\tsince %s\t%s\n", s.Type, timestamp(s.Since.Time), s.Detail)
		}
	}
	fmt.Fprintf(tw, "  Paused:\t%d Flux objects\n", st.PausedCount)
	for _, p := range st.Paused {
		fmt.Fprintf(tw, "    %s %s/%s\tsince %s\t%s\n", p.Kind, p.Namespace, p.Name, timestamp(p.PausedAt.Time), pauseReason(ctx, c, p))
	}
	if more := int(st.PausedCount) - len(st.Paused); more > 0 {
		fmt.Fprintf(tw, "    ... and %d more\t\t(every one carries %s naming %s)\n", more, v1alpha1.PausedByAnnotation, g.Name)
	}
	if len(st.Conditions) == 0 {
		fmt.Fprintln(tw, "  Conditions:\tnone")
	} else {
		fmt.Fprintln(tw, "  Conditions:")
		for _, cond := range st.Conditions {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write the status of %s: %w", g.Name, err)
	}
	return nil
}

// pauseReason is the reason the guard wrote on the paused object. It is
// best effort: a user who may read guards but not Flux objects, or an
// object deleted since, still gets the rest of the status.
func pauseReason(ctx context.Context, c client.Client, p v1alpha1.PausedObject) string {
	gvk, ok := targetGVKs[p.Kind]
	if !ok {
		return ""
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	if err := c.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Name}, obj); err != nil {
		return ""
	}
	return obj.GetAnnotations()[v1alpha1.PauseReasonAnnotation]
}

// uninstallGuards deletes every guard and waits until all are gone. It
// returns an exitError with code 1 naming what is still paused when the
// timeout passes.
func uninstallGuards(ctx context.Context, c client.Client, out io.Writer, timeout, interval time.Duration) error {
	var list v1alpha1.MaintenanceGuardList
	if err := c.List(ctx, &list); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			fmt.Fprintln(out, "No MaintenanceGuard CRD in the cluster: nothing is paused by fluxgate.")
			return nil
		}
		return usageError(fmt.Errorf("list MaintenanceGuards: %w", err))
	}
	if len(list.Items) == 0 {
		fmt.Fprintln(out, "No MaintenanceGuard in the cluster: nothing is paused by fluxgate.")
		return nil
	}
	for i := range list.Items {
		g := &list.Items[i]
		fmt.Fprintf(out, "Deleting MaintenanceGuard %s (phase %s, holding %d Flux objects)\n", g.Name, orNone(string(g.Status.Phase)), g.Status.PausedCount)
		if g.DeletionTimestamp != nil {
			continue
		}
		if err := c.Delete(ctx, g); err != nil && !apierrors.IsNotFound(err) {
			return usageError(fmt.Errorf("delete MaintenanceGuard %s: %w", g.Name, err))
		}
	}
	fmt.Fprintf(out, "Waiting up to %s for fluxgate to resume what they hold\n", timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		var left v1alpha1.MaintenanceGuardList
		if lastErr = c.List(ctx, &left); lastErr == nil {
			if len(left.Items) == 0 {
				fmt.Fprintln(out, "Every MaintenanceGuard is gone and has resumed what it held.")
				return nil
			}
			list = left
		}
		select {
		case <-ctx.Done():
			return &exitError{code: exitDenied, err: stillPaused(timeout, list.Items, lastErr)}
		case <-time.After(interval):
		}
	}
}

// stillPaused is the message of an uninstall that timed out: each guard
// left, what it holds and why it is stuck, and where recovery is written.
func stillPaused(timeout time.Duration, guards []v1alpha1.MaintenanceGuard, lastErr error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "after %s, %d MaintenanceGuard(s) still hold Flux objects paused (is fluxgate serve running? its finalizer resumes them):", timeout, len(guards))
	for i := range guards {
		g := &guards[i]
		fmt.Fprintf(&b, "\n  %s: %d paused", g.Name, g.Status.PausedCount)
		names := make([]string, 0, len(g.Status.Paused))
		for _, p := range g.Status.Paused {
			names = append(names, fmt.Sprintf("%s %s/%s", p.Kind, p.Namespace, p.Name))
		}
		if len(names) > 0 {
			if more := int(g.Status.PausedCount) - len(names); more > 0 {
				names = append(names, fmt.Sprintf("and %d more", more))
			}
			fmt.Fprintf(&b, " (%s)", strings.Join(names, ", "))
		}
		if cond := meta.FindStatusCondition(g.Status.Conditions, v1alpha1.ReadyCondition); cond != nil && cond.Status != metav1.ConditionTrue {
			fmt.Fprintf(&b, "; Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message)
		}
	}
	if lastErr != nil {
		fmt.Fprintf(&b, "\n  last error: %v", lastErr)
	}
	b.WriteString("\nRecover: see docs/install.md, \"Uninstall\" (start fluxgate again and rerun, or resume by hand and remove the finalizer)")
	return errors.New(b.String())
}

func durationOr(d *metav1.Duration, def string) string {
	if d == nil {
		return def
	}
	return d.Duration.String()
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
