package signals

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// windowCase checks one window at one instant: open or not, the detail
// when open, and NextTransition.
type windowCase struct {
	now      string // RFC 3339
	open     bool
	detail   string // checked when open
	nextTime string // RFC 3339; "" means zero
}

func checkWindow(t *testing.T, w Window, cases []windowCase) {
	t.Helper()
	cfg := Config{Windows: []Window{w}}
	for _, c := range cases {
		now := at(t, c.now)
		active, problems := Detect(cfg, Snapshot{Now: now})
		if len(problems) > 0 {
			t.Errorf("%s: problems %q", c.now, problems)
		}
		if c.open {
			if len(active) != 1 || active[0].Type != FreezeWindow {
				t.Errorf("%s: want open, got %+v", c.now, active)
			} else {
				if active[0].Detail != c.detail {
					t.Errorf("%s: detail\n got %q\nwant %q", c.now, active[0].Detail, c.detail)
				}
				assertEqual(t, c.now+": objects", active[0].Objects, []string{w.Name})
			}
		} else if len(active) != 0 {
			t.Errorf("%s: want closed, got %+v", c.now, active)
		}
		var want time.Time
		if c.nextTime != "" {
			want = at(t, c.nextTime)
		}
		if got := NextTransition(cfg, now); !got.Equal(want) {
			t.Errorf("%s: NextTransition = %s, want %s", c.now, got.UTC().Format(time.RFC3339), want.UTC().Format(time.RFC3339))
		}
	}
}

func TestWindowUTCAcrossMidnight(t *testing.T) {
	checkWindow(t, Window{Name: "nightly", Schedule: "0 22 * * *", Duration: 8 * time.Hour}, []windowCase{
		{now: "2026-03-02T21:59:59Z", nextTime: "2026-03-02T22:00:00Z"},
		{now: "2026-03-02T22:00:00Z", open: true, detail: `window "nightly" open until 2026-03-03 06:00 UTC`, nextTime: "2026-03-03T06:00:00Z"},
		{now: "2026-03-03T00:00:00Z", open: true, detail: `window "nightly" open until 2026-03-03 06:00 UTC`, nextTime: "2026-03-03T06:00:00Z"},
		{now: "2026-03-03T05:59:59.999Z", open: true, detail: `window "nightly" open until 2026-03-03 06:00 UTC`, nextTime: "2026-03-03T06:00:00Z"},
		{now: "2026-03-03T06:00:00Z", nextTime: "2026-03-03T22:00:00Z"},
	})
}

func TestWindowDescriptorAndOverlap(t *testing.T) {
	checkWindow(t, Window{Name: "daily", Schedule: "@daily", TimeZone: "UTC", Duration: time.Hour}, []windowCase{
		{now: "2026-03-02T00:30:00Z", open: true, detail: `window "daily" open until 2026-03-02 01:00 UTC`, nextTime: "2026-03-02T01:00:00Z"},
		{now: "2026-03-02T01:00:00Z", nextTime: "2026-03-03T00:00:00Z"},
	})
	// 09:00 and 10:00 activations of 90 minutes merge into 09:00-11:30.
	checkWindow(t, Window{Name: "overlap", Schedule: "0 9,10 * * *", Duration: 90 * time.Minute}, []windowCase{
		{now: "2026-03-02T09:30:00Z", open: true, detail: `window "overlap" open until 2026-03-02 11:30 UTC`, nextTime: "2026-03-02T11:30:00Z"},
		{now: "2026-03-02T10:29:59Z", open: true, detail: `window "overlap" open until 2026-03-02 11:30 UTC`, nextTime: "2026-03-02T11:30:00Z"},
		{now: "2026-03-02T11:30:00Z", nextTime: "2026-03-03T09:00:00Z"},
	})
	// Touching activations merge too: no transition at 01:00.
	checkWindow(t, Window{Name: "hourly", Schedule: "0 0,1 * * *", Duration: time.Hour}, []windowCase{
		{now: "2026-03-02T00:10:00Z", open: true, detail: `window "hourly" open until 2026-03-02 02:00 UTC`, nextTime: "2026-03-02T02:00:00Z"},
	})
}

func TestWindowBerlinWeekend(t *testing.T) {
	weekend := Window{Name: "weekend", Schedule: "0 0 * * SAT", TimeZone: "Europe/Berlin", Duration: 48 * time.Hour}
	checkWindow(t, weekend, []windowCase{
		// Saturday 00:00 CET is Friday 23:00 UTC.
		{now: "2026-03-06T22:59:59Z", nextTime: "2026-03-06T23:00:00Z"},
		{now: "2026-03-06T23:00:00Z", open: true, detail: `window "weekend" open until 2026-03-09 00:00 CET`, nextTime: "2026-03-08T23:00:00Z"},
		{now: "2026-03-08T22:59:59Z", open: true, detail: `window "weekend" open until 2026-03-09 00:00 CET`, nextTime: "2026-03-08T23:00:00Z"},
		{now: "2026-03-08T23:00:00Z", nextTime: "2026-03-13T23:00:00Z"},
		// Across the spring-forward night: 48 hours of elapsed time from
		// Saturday 00:00 CET end on Monday 01:00 CEST.
		{now: "2026-03-28T12:00:00Z", open: true, detail: `window "weekend" open until 2026-03-30 01:00 CEST`, nextTime: "2026-03-29T23:00:00Z"},
		{now: "2026-03-29T23:00:00Z", nextTime: "2026-04-03T22:00:00Z"},
	})
}

func TestWindowBerlinSpringForward(t *testing.T) {
	// Opens 01:00 CET (00:00 UTC); three hours later it is 05:00 CEST.
	checkWindow(t, Window{Name: "early", Schedule: "0 1 * * *", TimeZone: "Europe/Berlin", Duration: 3 * time.Hour}, []windowCase{
		{now: "2026-03-28T23:59:59Z", nextTime: "2026-03-29T00:00:00Z"},
		{now: "2026-03-29T00:30:00Z", open: true, detail: `window "early" open until 2026-03-29 05:00 CEST`, nextTime: "2026-03-29T03:00:00Z"},
		{now: "2026-03-29T02:59:59Z", open: true, detail: `window "early" open until 2026-03-29 05:00 CEST`, nextTime: "2026-03-29T03:00:00Z"},
		{now: "2026-03-29T03:00:00Z", nextTime: "2026-03-29T23:00:00Z"},
	})
	// 02:30 does not exist on 29 March: the window opens when the clock
	// jumps to 03:00 CEST (01:00 UTC) instead of being skipped.
	checkWindow(t, Window{Name: "gap", Schedule: "30 2 * * *", TimeZone: "Europe/Berlin", Duration: time.Hour}, []windowCase{
		{now: "2026-03-28T01:30:00Z", open: true, detail: `window "gap" open until 2026-03-28 03:30 CET`, nextTime: "2026-03-28T02:30:00Z"},
		{now: "2026-03-29T00:59:59Z", nextTime: "2026-03-29T01:00:00Z"},
		{now: "2026-03-29T01:00:00Z", open: true, detail: `window "gap" open until 2026-03-29 04:00 CEST`, nextTime: "2026-03-29T02:00:00Z"},
		{now: "2026-03-29T02:00:00Z", nextTime: "2026-03-30T00:30:00Z"},
		{now: "2026-03-30T00:30:00Z", open: true, detail: `window "gap" open until 2026-03-30 03:30 CEST`, nextTime: "2026-03-30T01:30:00Z"},
	})
}

func TestWindowBerlinFallBack(t *testing.T) {
	// 02:30 happens twice on 25 October (CEST at 00:30 UTC, CET at 01:30
	// UTC): the two activations touch and the window lasts two hours.
	checkWindow(t, Window{Name: "twice", Schedule: "30 2 * * *", TimeZone: "Europe/Berlin", Duration: time.Hour}, []windowCase{
		{now: "2026-10-25T00:29:59Z", nextTime: "2026-10-25T00:30:00Z"},
		{now: "2026-10-25T00:45:00Z", open: true, detail: `window "twice" open until 2026-10-25 03:30 CET`, nextTime: "2026-10-25T02:30:00Z"},
		{now: "2026-10-25T02:29:00Z", open: true, detail: `window "twice" open until 2026-10-25 03:30 CET`, nextTime: "2026-10-25T02:30:00Z"},
		{now: "2026-10-25T02:30:00Z", nextTime: "2026-10-26T01:30:00Z"},
	})
}

func TestWindowNewYork(t *testing.T) {
	// Sunday 02:00 does not exist on 8 March 2026: the maintenance window
	// opens at the jump to 03:00 EDT (07:00 UTC) and lasts four hours.
	checkWindow(t, Window{Name: "sunday", Schedule: "0 2 * * 0", TimeZone: "America/New_York", Duration: 4 * time.Hour}, []windowCase{
		{now: "2026-03-01T07:00:00Z", open: true, detail: `window "sunday" open until 2026-03-01 06:00 EST`, nextTime: "2026-03-01T11:00:00Z"},
		{now: "2026-03-07T12:00:00Z", nextTime: "2026-03-08T07:00:00Z"},
		{now: "2026-03-08T06:59:59Z", nextTime: "2026-03-08T07:00:00Z"},
		{now: "2026-03-08T07:00:00Z", open: true, detail: `window "sunday" open until 2026-03-08 07:00 EDT`, nextTime: "2026-03-08T11:00:00Z"},
		{now: "2026-03-08T11:00:00Z", nextTime: "2026-03-15T06:00:00Z"},
	})
	// Business hours, across the change: the next Monday opens at 09:00
	// EDT, an hour earlier in UTC.
	checkWindow(t, Window{Name: "business", Schedule: "0 9 * * MON-FRI", TimeZone: "America/New_York", Duration: 8 * time.Hour}, []windowCase{
		{now: "2026-03-02T13:59:59Z", nextTime: "2026-03-02T14:00:00Z"},
		{now: "2026-03-02T21:59:00Z", open: true, detail: `window "business" open until 2026-03-02 17:00 EST`, nextTime: "2026-03-02T22:00:00Z"},
		{now: "2026-03-07T15:00:00Z", nextTime: "2026-03-09T13:00:00Z"},
		{now: "2026-03-09T13:00:00Z", open: true, detail: `window "business" open until 2026-03-09 17:00 EDT`, nextTime: "2026-03-09T21:00:00Z"},
	})
	// 01:00 happens twice on 1 November (EDT at 05:00 UTC, EST at 06:00
	// UTC): the two-hour activations overlap into 01:00 EDT-03:00 EST.
	checkWindow(t, Window{Name: "fall", Schedule: "0 1 * * *", TimeZone: "America/New_York", Duration: 2 * time.Hour}, []windowCase{
		{now: "2026-11-01T05:30:00Z", open: true, detail: `window "fall" open until 2026-11-01 03:00 EST`, nextTime: "2026-11-01T08:00:00Z"},
		{now: "2026-11-01T07:30:00Z", open: true, detail: `window "fall" open until 2026-11-01 03:00 EST`, nextTime: "2026-11-01T08:00:00Z"},
		{now: "2026-11-01T08:00:00Z", nextTime: "2026-11-02T06:00:00Z"},
	})
}

func TestWindowLordHoweHalfHourShift(t *testing.T) {
	// Lord Howe Island moves its clocks by 30 minutes: on 4 October 2026
	// 02:00 jumps to 02:30 (+10:30 to +11, at 15:30 UTC the day before).
	checkWindow(t, Window{Name: "lhi", Schedule: "15 2 * * *", TimeZone: "Australia/Lord_Howe", Duration: time.Hour}, []windowCase{
		{now: "2026-10-03T15:29:59Z", nextTime: "2026-10-03T15:30:00Z"},
		{now: "2026-10-03T15:30:00Z", open: true, detail: `window "lhi" open until 2026-10-04 03:30 +11`, nextTime: "2026-10-03T16:30:00Z"},
	})
}

func TestBrokenWindowsFailClosed(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		window Window
		want   string // the whole problem, or a prefix ending in ": " when cron words the rest
	}{
		{"bad minute", Window{Name: "w", Schedule: "61 * * * *", Duration: time.Hour},
			`window "w": invalid schedule "61 * * * *": end of range (61) above maximum (59): 61; treated as closed for deploys`},
		{"six fields", Window{Name: "w", Schedule: "0 0 1 * * *", Duration: time.Hour},
			`window "w": invalid schedule "0 0 1 * * *": `},
		{"empty schedule", Window{Name: "w", Duration: time.Hour},
			`window "w": invalid schedule "": empty spec string; treated as closed for deploys`},
		{"@every", Window{Name: "w", Schedule: "@every 1h", Duration: time.Hour},
			`window "w": invalid schedule "@every 1h": @every is not supported: use a cron expression; treated as closed for deploys`},
		{"zone prefix that would crash cron", Window{Name: "w", Schedule: "TZ=UTC", Duration: time.Hour},
			`window "w": invalid schedule "TZ=UTC": time zone prefixes are not supported: set timeZone instead; treated as closed for deploys`},
		{"CRON_TZ prefix", Window{Name: "w", Schedule: "CRON_TZ=Europe/Berlin 0 1 * * *", Duration: time.Hour},
			`window "w": invalid schedule "CRON_TZ=Europe/Berlin 0 1 * * *": time zone prefixes are not supported: set timeZone instead; treated as closed for deploys`},
		{"unknown zone", Window{Name: "w", Schedule: "0 1 * * *", TimeZone: "Mars/Olympus_Mons", Duration: time.Hour},
			`window "w": unknown time zone "Mars/Olympus_Mons": `},
		{"Local zone", Window{Name: "w", Schedule: "0 1 * * *", TimeZone: "Local", Duration: time.Hour},
			`window "w": time zone "Local" is not allowed: name a zone such as Europe/Berlin; treated as closed for deploys`},
		{"zero duration", Window{Name: "w", Schedule: "0 1 * * *"},
			`window "w": duration must be positive, got 0s; treated as closed for deploys`},
		{"negative duration", Window{Name: "w", Schedule: "0 1 * * *", Duration: -time.Hour},
			`window "w": duration must be positive, got -1h0m0s; treated as closed for deploys`},
		{"unnamed", Window{Schedule: "0 1 * * *"},
			`window "windows[0]": duration must be positive, got 0s; treated as closed for deploys`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Windows: []Window{tt.window}}
			active, problems := Detect(cfg, Snapshot{Now: now})
			if len(problems) != 1 {
				t.Fatalf("problems: %q", problems)
			}
			if p := problems[0]; p != tt.want && !(strings.HasSuffix(tt.want, ": ") && strings.HasPrefix(p, tt.want) && strings.HasSuffix(p, "; treated as closed for deploys")) {
				t.Errorf("problem\n got %q\nwant %q", p, tt.want)
			}
			sig := only(t, active, FreezeWindow)
			assertEqual(t, "detail", sig.Detail, bound(problems[0], maxDetail))
			name := tt.window.Name
			if name == "" {
				name = "windows[0]"
			}
			assertEqual(t, "objects", sig.Objects, []string{name})
			if next := NextTransition(cfg, now); !next.IsZero() {
				t.Errorf("NextTransition = %s, want zero: a broken window stays closed for deploys", next)
			}
		})
	}
}

func TestWindowThatNeverFires(t *testing.T) {
	cfg := Config{Windows: []Window{{Name: "feb30", Schedule: "0 0 30 2 *", Duration: time.Hour}}}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	active, problems := Detect(cfg, Snapshot{Now: now})
	if len(active) != 0 {
		t.Errorf("signals: %+v", active)
	}
	assertEqual(t, "problems", problems, []string{`window "feb30": schedule does not fire within five years; it never opens`})
	if next := NextTransition(cfg, now); !next.IsZero() {
		t.Errorf("NextTransition = %s", next)
	}
}

func TestSeveralWindows(t *testing.T) {
	now := time.Date(2026, 3, 2, 22, 30, 0, 0, time.UTC)
	nightly := Window{Name: "nightly", Schedule: "0 22 * * *", Duration: 8 * time.Hour}
	evening := Window{Name: "evening", Schedule: "0 22 * * *", Duration: time.Hour}
	morning := Window{Name: "morning", Schedule: "0 8 * * *", Duration: time.Hour}
	broken := Window{Name: "broken", Schedule: "0 1 * * *", TimeZone: "Nowhere/Special"}

	active, problems := Detect(Config{Windows: []Window{nightly, morning}}, Snapshot{Now: now})
	if len(problems) > 0 {
		t.Errorf("problems: %q", problems)
	}
	sig := only(t, active, FreezeWindow)
	assertEqual(t, "objects", sig.Objects, []string{"nightly"})

	active, _ = Detect(Config{Windows: []Window{nightly, morning, evening}}, Snapshot{Now: now})
	sig = only(t, active, FreezeWindow)
	assertEqual(t, "objects", sig.Objects, []string{"evening", "nightly"})
	assertEqual(t, "detail", sig.Detail, `2 freeze windows: window "evening" open until 2026-03-02 23:00 UTC; window "nightly" open until 2026-03-03 06:00 UTC`)

	// The earliest change of any window, even one hidden by another.
	assertEqual(t, "next", NextTransition(Config{Windows: []Window{nightly, morning, evening, broken}}, now), at(t, "2026-03-02T23:00:00Z"))
	assertEqual(t, "next without evening", NextTransition(Config{Windows: []Window{broken, morning, nightly}}, now), at(t, "2026-03-03T06:00:00Z"))
	assertEqual(t, "no windows", NextTransition(Config{}, now), time.Time{})
	assertEqual(t, "only broken", NextTransition(Config{Windows: []Window{broken}}, now), time.Time{})

	_, problems = Detect(Config{Windows: []Window{morning, morning}}, Snapshot{Now: now})
	assertEqual(t, "duplicate names", problems, []string{`window name "morning" is used by 2 windows`})
}

func TestAlwaysOpenWindowIsBounded(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	cfg := Config{Windows: []Window{{Name: "always", Schedule: "* * * * *", Duration: time.Hour}}}
	start := time.Now()
	active, _ := Detect(cfg, Snapshot{Now: now})
	next := NextTransition(cfg, now)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %s", elapsed)
	}
	sig := only(t, active, FreezeWindow)
	if !strings.Contains(sig.Detail, "open until at least") {
		t.Errorf("detail %q", sig.Detail)
	}
	if !next.After(now.Add(24 * time.Hour)) {
		t.Errorf("NextTransition = %s: a lower bound, but well ahead", next)
	}
}

func TestZeroNowFailsClosed(t *testing.T) {
	cfg := Config{Windows: []Window{{Name: "w", Schedule: "0 1 * * *", Duration: time.Hour}}}
	active, problems := Detect(cfg, Snapshot{})
	only(t, active, FreezeWindow)
	assertEqual(t, "problems", problems, []string{`window "w": the snapshot has no time; treated as closed for deploys`})
}

// TestWindowTransitionsAreExact checks, for many windows, zones and
// instants around DST changes, that the state holds until the change
// windowState reports and flips exactly there.
func TestWindowTransitionsAreExact(t *testing.T) {
	schedules := []struct {
		expr string
		dur  time.Duration
	}{
		{"30 2 * * *", time.Hour},
		{"0 2 * * 0", 4 * time.Hour},
		{"*/20 1-3 * * *", 15 * time.Minute},
		{"0 * * * *", 30 * time.Minute},
		{"15 1 * * *", 2 * time.Hour},
		{"0 0 * * SAT", 48 * time.Hour},
	}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"}
	days := []string{"2026-03-08", "2026-03-29", "2026-04-05", "2026-10-04", "2026-10-25", "2026-11-01", "2026-06-15"}
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for _, sc := range schedules {
		for _, zone := range zones {
			w := compileWindow(Window{Name: "p", Schedule: sc.expr, TimeZone: zone, Duration: sc.dur}, 0)
			if w.broken != "" {
				t.Fatalf("%s in %s: %s", sc.expr, zone, w.broken)
			}
			for _, day := range days {
				base := at(t, day+"T00:00:00Z").Add(-12 * time.Hour)
				for i := 0; i < 40; i++ {
					now := base.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
					open, change, exact := w.state(now)
					if !exact || change.IsZero() {
						t.Fatalf("%s in %s at %s: change %s exact %v", sc.expr, zone, now, change, exact)
					}
					if !change.After(now) {
						t.Fatalf("%s in %s at %s: change %s not after now", sc.expr, zone, now, change)
					}
					for _, probe := range []time.Time{change.Add(-time.Nanosecond), now.Add(change.Sub(now) / 2), now.Add(change.Sub(now) / 3)} {
						if o, _, _ := w.state(probe); o != open {
							t.Fatalf("%s in %s: open=%v at %s but %v at %s, before the change at %s", sc.expr, zone, open, now, o, probe, change)
						}
					}
					if o, _, _ := w.state(change); o == open {
						t.Fatalf("%s in %s: still open=%v at the change %s (from %s)", sc.expr, zone, o, change, now)
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d instants checked", checked)
}
