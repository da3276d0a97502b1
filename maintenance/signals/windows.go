package signals

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Window is a scheduled change freeze, modelled on Argo CD deny sync
// windows and Flux Operator schedules.
//
// The window opens at every activation of Schedule, read as wall-clock
// time in TimeZone, and stays open for Duration of elapsed time; it is open
// at now when an activation lies in (now-Duration, now], so it is open from
// its activation inclusive to activation+Duration exclusive. Activations
// that overlap or touch merge into one open period.
//
// Daylight saving time: when the clock jumps forward over times the
// schedule names (02:30 on the night clocks go from 02:00 to 03:00), the
// window opens at the jump, as classic cron runs skipped jobs; a window is
// never lost to a DST change. When the clock falls back, a repeated
// wall-clock time activates twice, which can lengthen that one window by
// the repeated hour (erring towards the freeze). Duration is elapsed time,
// so a 6h window that spans a DST change ends 6 real hours later (at 07:00
// rather than 06:00 local on a spring-forward night).
//
// A window that cannot be evaluated fails closed: a Schedule that does not
// parse, an unknown TimeZone or a Duration that is not positive makes the
// window count as open (the FreezeWindow signal says why) and adds a
// problem, for as long as the window stays broken. "Closed" here means
// closed for deploys: maintenance is active. A schedule that parses but
// never fires (February 30th) is only a problem: it never opens.
type Window struct {
	// Name identifies the window in details, problems and
	// Signal.Objects; windows without a name are called windows[i].
	Name string
	// Schedule is a standard five-field cron expression (minute, hour,
	// day of month, month, day of week; names such as MON and JAN, ranges,
	// lists and steps allowed) or one of @yearly, @annually, @monthly,
	// @weekly, @daily, @midnight, @hourly. @every and TZ=/CRON_TZ=
	// prefixes are rejected: the zone belongs in TimeZone.
	Schedule string
	// TimeZone is an IANA zone name such as Europe/Berlin; empty means
	// UTC. "Local" is rejected: it would depend on the controller's
	// environment.
	TimeZone string
	// Duration is how long the window stays open after each activation.
	Duration time.Duration
}

// cronParser accepts what Window.Schedule documents (robfig/cron's
// standard parser, which Argo CD and Flux Operator also use).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Bounds on the searches below. maxSteps bounds how many activations
// windowState follows to find where merged activations end; past it the
// end it returns is a lower bound. maxTransitions bounds how many zone
// transitions nextSkipped looks at (a zone has about two a year; cron
// itself searches five years).
const (
	maxSteps       = 4096
	maxTransitions = 64
)

// schedule is a parsed Window.Schedule in its zone.
type schedule struct {
	// local activates on wall-clock times in loc, as robfig/cron does:
	// times a forward DST jump skips never match.
	local cron.SpecSchedule
	// wall is the same expression in UTC, which has no DST: it matches
	// wall-clock times written as UTC times.
	wall cron.SpecSchedule
	loc  *time.Location
}

// window is a Window ready to evaluate: either sched is set or broken says
// why the window cannot be evaluated.
type window struct {
	label    string // `window "name"`
	name     string
	sched    *schedule
	duration time.Duration
	broken   string
}

// compileWindow validates w (the i-th window) and parses its schedule.
func compileWindow(w Window, i int) window {
	name := w.Name
	if name == "" {
		name = fmt.Sprintf("windows[%d]", i)
	}
	out := window{label: fmt.Sprintf("window %q", name), name: name, duration: w.Duration}
	fail := func(format string, args ...any) window {
		out.broken = fmt.Sprintf("%s: %s; treated as closed for deploys", out.label, fmt.Sprintf(format, args...))
		return out
	}

	var loc *time.Location
	switch w.TimeZone {
	case "", "UTC":
		loc = time.UTC
	case "Local":
		return fail("time zone %q is not allowed: name a zone such as Europe/Berlin", w.TimeZone)
	default:
		var err error
		if loc, err = time.LoadLocation(w.TimeZone); err != nil {
			return fail("unknown time zone %q: %v", w.TimeZone, err)
		}
	}

	spec, err := parseSchedule(w.Schedule)
	if err != nil {
		return fail("invalid schedule %q: %v", w.Schedule, err)
	}
	if w.Duration <= 0 {
		return fail("duration must be positive, got %s", w.Duration)
	}
	s := &schedule{local: *spec, wall: *spec, loc: loc}
	s.local.Location = loc
	s.wall.Location = time.UTC
	out.sched = s
	return out
}

// parseSchedule parses a Window.Schedule, refusing what cron would accept
// but Window does not, and turning a parser panic into an error.
func parseSchedule(expr string) (spec *cron.SpecSchedule, err error) {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, fmt.Errorf("time zone prefixes are not supported: set timeZone instead")
	}
	defer func() {
		if r := recover(); r != nil {
			spec, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	parsed, err := cronParser.Parse(expr)
	if err != nil {
		return nil, err
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("@every is not supported: use a cron expression")
	}
	return spec, nil
}

// next returns the first activation strictly after t: the earlier of
// cron's next match and the next forward DST jump that skips a matching
// wall-clock time. Zero means none within cron's five-year search.
func (s *schedule) next(t time.Time) time.Time {
	n := s.local.Next(t)
	for i := 0; i < maxTransitions && !n.IsZero() && !n.After(t); i++ {
		n = s.local.Next(n) // defensive: cron must move forward
	}
	limit := n
	if limit.IsZero() {
		limit = t.AddDate(5, 0, 0)
	}
	if g := s.nextSkipped(t, limit); !g.IsZero() {
		return g
	}
	return n
}

// nextSkipped returns the first zone transition in (t, limit) at which the
// clock jumps forward over a wall-clock time the schedule matches, or zero.
func (s *schedule) nextSkipped(t, limit time.Time) time.Time {
	at := t.In(s.loc)
	for i := 0; i < maxTransitions; i++ {
		_, end := at.ZoneBounds()
		if end.IsZero() || !end.Before(limit) {
			return time.Time{}
		}
		_, before := end.Add(-time.Nanosecond).Zone()
		_, after := end.Zone()
		if after > before {
			// Wall-clock times [from, to) do not exist in s.loc.
			from := wallClock(end, before)
			to := wallClock(end, after)
			if m := s.wall.Next(from.Add(-time.Second)); !m.IsZero() && m.Before(to) {
				return end
			}
		}
		at = end
	}
	return time.Time{}
}

// wallClock returns the wall-clock reading of t at a UTC offset (seconds),
// written as a UTC time.
func wallClock(t time.Time, offset int) time.Time {
	return t.UTC().Add(time.Duration(offset) * time.Second)
}

// windowState reports whether w is open at now and when that next
// changes: when it closes if open, when it opens if closed (zero: never).
// exact is false when the search for the end of an open window hit
// maxSteps; change is then a lower bound.
func (w *window) state(now time.Time) (open bool, change time.Time, exact bool) {
	a := w.sched.next(now.Add(-w.duration))
	if a.IsZero() || a.After(now) {
		return false, a, true
	}
	end := a.Add(w.duration)
	for i := 0; i < maxSteps; i++ {
		n := w.sched.next(a)
		if n.IsZero() || n.After(end) {
			return true, end, true
		}
		a, end = n, n.Add(w.duration)
	}
	return true, end, false
}

// compileWindows compiles all windows, sorted by name, and reports
// duplicate names.
func compileWindows(ws []Window) ([]window, []string) {
	out := make([]window, 0, len(ws))
	seen := map[string]int{}
	for i, w := range ws {
		c := compileWindow(w, i)
		seen[c.name]++
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	var problems []string
	for name, n := range seen {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("window name %q is used by %d windows", name, n))
		}
	}
	return out, problems
}

// detectWindows implements FreezeWindow.
func detectWindows(ws []Window, now time.Time) (*Signal, []string) {
	compiled, problems := compileWindows(ws)
	var entries, names []string
	for i := range compiled {
		w := &compiled[i]
		switch {
		case w.broken != "":
			problems = append(problems, w.broken)
			entries = append(entries, w.broken)
			names = append(names, w.name)
		case now.IsZero():
			why := fmt.Sprintf("%s: the snapshot has no time; treated as closed for deploys", w.label)
			problems = append(problems, why)
			entries = append(entries, why)
			names = append(names, w.name)
		default:
			open, until, exact := w.state(now)
			if !open {
				if until.IsZero() {
					problems = append(problems, fmt.Sprintf("%s: schedule does not fire within five years; it never opens", w.label))
				}
				continue
			}
			at := "until"
			if !exact {
				at = "until at least"
			}
			entries = append(entries, fmt.Sprintf("%s open %s %s", w.label, at, until.In(w.sched.loc).Format("2006-01-02 15:04 MST")))
			names = append(names, w.name)
		}
	}
	if len(entries) == 0 {
		return nil, problems
	}
	detail := entries[0]
	if len(entries) > 1 {
		detail = fmt.Sprintf("%d freeze windows: %s", len(entries), strings.Join(entries, "; "))
	}
	return &Signal{Type: FreezeWindow, Detail: detail, Objects: names}, problems
}

// NextTransition returns the earliest time after now at which a freeze
// window opens or closes, so the controller can requeue exactly then; zero
// when there are no windows or none will change (broken windows stay open
// until the guard changes). It never returns a time later than the next
// change of the FreezeWindow signal: it may return an earlier one, when
// one window's change is hidden by another open window, or when a window
// stays open for more than a few thousand activations in a row (then the
// caller simply asks again at the returned time).
func NextTransition(cfg Config, now time.Time) time.Time {
	compiled, _ := compileWindows(cfg.Windows)
	var earliest time.Time
	for i := range compiled {
		w := &compiled[i]
		if w.broken != "" {
			continue
		}
		_, change, _ := w.state(now)
		if !change.IsZero() && (earliest.IsZero() || change.Before(earliest)) {
			earliest = change
		}
	}
	return earliest
}
