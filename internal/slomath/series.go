package slomath

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Comparison says when a value is good compared with a threshold.
type Comparison uint8

const (
	LessOrEqual Comparison = iota
	Less
	GreaterOrEqual
	Greater
)

// ParseComparison reads "<=", "<", ">=" or ">".
func ParseComparison(s string) (Comparison, error) {
	switch s {
	case "<=":
		return LessOrEqual, nil
	case "<":
		return Less, nil
	case ">=":
		return GreaterOrEqual, nil
	case ">":
		return Greater, nil
	}
	return 0, fmt.Errorf(`must be one of "<=", "<", ">=", ">", got %q`, s)
}

// String is the operator.
func (c Comparison) String() string {
	return [...]string{"<=", "<", ">=", ">"}[c&3]
}

// Good reports whether v is good against threshold t. NaN is never good.
func (c Comparison) Good(v, t float64) bool {
	switch c {
	case LessOrEqual:
		return v <= t
	case Less:
		return v < t
	case GreaterOrEqual:
		return v >= t
	case Greater:
		return v > t
	}
	return false
}

// Timeslices turns events into one event per slice of time: a slice is bad when the share of
// bad events in it exceeds MaxBadRatio (p95 ≤ 1.5 s is "at most 5% of the slice's spans slower
// than 1.5 s", so MaxBadRatio 0.05), or, for a ratio SLI, when numerator/denominator of the slice
// is not good against Threshold.
//
// A slice with no events (or a zero denominator) is a good slice: a window of w holds w/Slice
// slices, or as many as have elapsed since the series saw its first event when that is fewer.
// A quiet night followed by one slow request is then 1 bad slice of the 360 in 6h, not 1 of 1,
// for burn rates, the budget and compliance alike (the budget is measured against time: a minute
// in which nothing ran did not break the objective). The ring stores the slices that saw events;
// Model.Evaluate adds the empty ones to each window's total.
type Timeslices struct {
	Slice       time.Duration
	MaxBadRatio float64
	Ratio       bool
	Threshold   float64
	Comparison  Comparison
}

// Validate checks the slice length and the ratio.
func (ts Timeslices) Validate() error {
	var errs []error
	if ts.Slice < time.Second || ts.Slice%time.Second != 0 {
		errs = append(errs, fmt.Errorf("slice: must be a whole number of seconds ≥ 1s, got %s", ts.Slice))
	}
	if !(ts.MaxBadRatio >= 0 && ts.MaxBadRatio < 1) {
		errs = append(errs, fmt.Errorf("max_bad_ratio: must be in [0,1), got %v", ts.MaxBadRatio))
	}
	if math.IsNaN(ts.Threshold) || math.IsInf(ts.Threshold, 0) {
		errs = append(errs, fmt.Errorf("threshold: must be a finite number, got %v", ts.Threshold))
	}
	return errors.Join(errs...)
}

// Spec is one SLO as the math sees it.
type Spec struct {
	Objective float64
	Window    time.Duration
	// Timeslices is nil for occurrences budgeting.
	Timeslices *Timeslices
	Rules      []BurnRule
	Budget     BudgetThresholds
	// BudgetMinEvents is the least number of events in the SLO window before budget thresholds
	// can fire.
	BudgetMinEvents   uint64
	NoData            NoData
	ResolvedRetention time.Duration
}

// Validate checks every field; messages name the field as the config does.
func (s Spec) Validate() error {
	var errs []error
	if !(s.Objective > 0 && s.Objective < 1) {
		errs = append(errs, fmt.Errorf("objective: must be in (0,1), got %v", s.Objective))
	}
	if s.Window < MinWindow || s.Window%time.Second != 0 {
		errs = append(errs, fmt.Errorf("window: must be a whole number of seconds ≥ %s, got %s", MinWindow, s.Window))
	}
	if s.Timeslices != nil {
		if err := s.Timeslices.Validate(); err != nil {
			errs = append(errs, prefix("budgeting", err))
		}
		if s.Timeslices.Slice > s.Window {
			errs = append(errs, fmt.Errorf("budgeting.slice: must not exceed the window %s, got %s", s.Window, s.Timeslices.Slice))
		}
	}
	var slice time.Duration
	if s.Timeslices != nil {
		slice = s.Timeslices.Slice
	}
	for i, r := range s.Rules {
		err := r.Validate(s.Window)
		if err == nil && s.Objective > 0 && s.Objective < 1 && slice >= 0 {
			err = r.ValidateFor(s.Objective, s.Window, slice)
		}
		if err != nil {
			errs = append(errs, prefix(fmt.Sprintf("burn_rate_rules[%d]", i), err))
		}
	}
	if err := s.Budget.Validate(); err != nil {
		errs = append(errs, prefix("budget_thresholds", err))
	}
	if err := s.NoData.Validate(); err != nil {
		errs = append(errs, prefix("no_data", err))
	}
	if s.ResolvedRetention < 0 {
		errs = append(errs, fmt.Errorf("resolved_retention: must be ≥ 0, got %s", s.ResolvedRetention))
	}
	return errors.Join(errs...)
}

// prefix puts path in front of each line of err.
func prefix(path string, err error) error {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, prefix(path, e))
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s.%w", path, err)
}

// Alert slots of a series: one per burn rule, then the three budget thresholds, then no-data.
const (
	BudgetCritical = iota
	BudgetHigh
	BudgetWarning
	numBudget
)

// Model is a validated Spec with its layout: shared by all series of one SLO.
type Model struct {
	Spec
	Layout    *Layout
	windowIdx int
	longIdx   []int
	shortIdx  []int
}

// NewModel validates spec and builds its layout.
func NewModel(spec Spec) (*Model, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	ws := []time.Duration{spec.Window}
	for _, r := range spec.Rules {
		ws = append(ws, r.LongWindow, r.ShortWindow)
	}
	l, err := NewLayout(ws)
	if err != nil {
		return nil, err
	}
	m := &Model{Spec: spec, Layout: l, windowIdx: l.WindowIndex(spec.Window)}
	for _, r := range spec.Rules {
		m.longIdx = append(m.longIdx, l.WindowIndex(r.LongWindow))
		m.shortIdx = append(m.shortIdx, l.WindowIndex(r.ShortWindow))
	}
	return m, nil
}

// NumAlerts is the number of alert slots of a series.
func (m *Model) NumAlerts() int { return len(m.Rules) + numBudget + 1 }

// BudgetSlot is the alert slot of budget threshold i (BudgetCritical...).
func (m *Model) BudgetSlot(i int) int { return len(m.Rules) + i }

// NoDataSlot is the alert slot of the no-data alert.
func (m *Model) NoDataSlot() int { return len(m.Rules) + numBudget }

// WindowIndex is the index of the SLO window in Layout.Windows.
func (m *Model) WindowIndex() int { return m.windowIdx }

// Series is the state of one SLO series (one group). Not safe for concurrent use.
type Series struct {
	Ring *Ring
	// pending holds the events of one whole second (pendingSec) before they go into the ring:
	// every bucket width is a whole number of seconds aligned to the epoch, so this changes no
	// sum, and a burst touches one cache line instead of one per tier.
	pending    Counts
	pendingSec int64
	slice      sliceAcc
	LastEvent  int64
	HadData    bool
	// Since is the start of the first slice the series saw events in (timeslices only; 0 before
	// then): the empty slices since then are good slices. A series restored from a checkpoint
	// that does not carry it has Since 1, so all of its windows count as elapsed.
	Since int64
	// resumes are the latest times the series was restored (Resume), newest first: silence
	// counts from no earlier than resumes[0], and a gap in the ring that spans one is the
	// collector's downtime, not the traffic's.
	resumes    [numResumes]int64
	Alerts     []Alert
	Violations []uint64 // per alert slot, times it started firing
	// Recorded counts what this series has put into its ring since it was made here (events,
	// or closed slices that saw events): the processor exports it as counters, which a
	// bootstrap reads back from Prometheus. History merged by Bootstrap is not in it, so a
	// counter never counts an event twice across replicas. Not checkpointed: a restart is a
	// counter reset, which increase() handles.
	Recorded Counts
	// HoldNoData keeps the no-data alert from stepping while its condition holds: the processor
	// sets it while it asks elsewhere whether the silence has another explanation (the group
	// moved to another replica), so the alert never goes pending only to be retracted. The
	// condition is still reported in Evaluation.NoDataDue. Not checkpointed.
	HoldNoData bool
}

type sliceAcc struct {
	start    int64
	open     bool
	total    uint64
	bad      uint64
	num, den float64
}

// NewSeries returns an empty series; all of its memory is allocated here.
func (m *Model) NewSeries() *Series {
	return &Series{
		Ring:       NewRing(m.Layout),
		Alerts:     make([]Alert, m.NumAlerts()),
		Violations: make([]uint64, m.NumAlerts()),
	}
}

// Record counts one event at time t.
func (m *Model) Record(s *Series, t int64, bad bool) {
	var b uint64
	if bad {
		b = 1
	}
	m.RecordN(s, t, Counts{Total: 1, Bad: b})
}

// RecordN counts c at time t.
func (m *Model) RecordN(s *Series, t int64, c Counts) {
	if c.Total == 0 {
		return
	}
	s.LastEvent = max(s.LastEvent, t)
	s.HadData = true
	if m.Timeslices == nil {
		if t < 0 {
			return
		}
		sec := t / int64(time.Second)
		if sec != s.pendingSec && s.pending.Total > 0 {
			s.flushPending()
		}
		s.pendingSec = sec
		s.pending.Total += c.Total
		s.pending.Bad += c.Bad
		return
	}
	m.roll(s, t)
	s.slice.total += c.Total
	s.slice.bad += c.Bad
}

func (s *Series) flushPending() {
	if s.pending.Total > 0 {
		s.Ring.Add(s.pendingSec*int64(time.Second), s.pending)
		s.Recorded.Add(s.pending)
		s.pending = Counts{}
	}
}

// RecordRatio adds num and den to the current slice of a ratio SLI. Negative or NaN parts are
// the caller's to filter.
func (m *Model) RecordRatio(s *Series, t int64, num, den float64) {
	if m.Timeslices == nil {
		return
	}
	s.LastEvent = max(s.LastEvent, t)
	s.HadData = true
	m.roll(s, t)
	s.slice.num += num
	s.slice.den += den
}

// roll closes the open slice when t is past it and opens the slice that holds t.
func (m *Model) roll(s *Series, t int64) {
	l := int64(m.Timeslices.Slice)
	if s.slice.open && t >= s.slice.start && t < s.slice.start+l {
		return
	}
	if s.slice.open && t < s.slice.start {
		return // clock went back: keep counting into the open slice
	}
	m.flush(s)
	s.slice = sliceAcc{start: t - t%l, open: true}
	if s.Since == 0 {
		s.Since = s.slice.start
	}
}

// flush turns the open slice into one event of the ring.
func (m *Model) flush(s *Series) {
	if !s.slice.open {
		return
	}
	ts := m.Timeslices
	end := s.slice.start + int64(ts.Slice) - 1
	var bad, have bool
	if ts.Ratio {
		if s.slice.den > 0 {
			have = true
			bad = !ts.Comparison.Good(s.slice.num/s.slice.den, ts.Threshold)
		}
	} else if s.slice.total > 0 {
		have = true
		bad = float64(s.slice.bad)/float64(s.slice.total) > ts.MaxBadRatio+1e-12
	}
	if have {
		var b uint64
		if bad {
			b = 1
		}
		s.Ring.Add(end, Counts{Total: 1, Bad: b})
		s.Recorded.Add(Counts{Total: 1, Bad: b})
	}
	s.slice = sliceAcc{}
}

// Evaluation is what one evaluation of a series found.
type Evaluation struct {
	Now int64
	// Counts per window of the layout (Layout.Windows order).
	Counts []Counts
	// BudgetRemaining over the SLO window, a fraction (1 = untouched, may go negative).
	BudgetRemaining float64
	Compliant       bool
	// Fired lists the alert slots that started firing at this evaluation.
	Fired []int
	// NoDataDue: the no-data condition held at this evaluation, whether or not HoldNoData kept
	// the alert from stepping.
	NoDataDue bool
}

// Evaluate brings the series to time now: closes a finished slice, reads every window, and steps
// every alert. out's slices are reused.
func (m *Model) Evaluate(s *Series, now int64, out *Evaluation) {
	s.flushPending()
	if m.Timeslices != nil && s.slice.open && now >= s.slice.start+int64(m.Timeslices.Slice) {
		m.flush(s)
	}
	out.Now = now
	out.Fired = out.Fired[:0]
	if cap(out.Counts) < len(m.Layout.Windows) {
		out.Counts = make([]Counts, len(m.Layout.Windows))
	}
	out.Counts = out.Counts[:len(m.Layout.Windows)]
	s.Ring.SumAll(now, out.Counts)
	if m.Timeslices != nil && s.Since != 0 {
		m.countEmptySlices(now-s.Since, out.Counts)
	}
	win := out.Counts[m.windowIdx]
	out.BudgetRemaining = BudgetRemaining(win, m.Objective)
	out.Compliant = Compliant(win, m.Objective)

	step := func(slot int, cond bool, forDur time.Duration) {
		if s.Alerts[slot].Step(now, cond, forDur, m.ResolvedRetention) {
			s.Violations[slot]++
			out.Fired = append(out.Fired, slot)
		}
	}
	// Pages first: an active page suppresses the tickets of the same series.
	paging := false
	for i, r := range m.Rules {
		if r.Severity != Page {
			continue
		}
		step(i, r.Condition(out.Counts[m.longIdx[i]], out.Counts[m.shortIdx[i]], m.Objective, m.Window), r.For)
		paging = paging || s.Alerts[i].Active()
	}
	for i, r := range m.Rules {
		if r.Severity != Ticket {
			continue
		}
		cond := !paging && r.Condition(out.Counts[m.longIdx[i]], out.Counts[m.shortIdx[i]], m.Objective, m.Window)
		step(i, cond, r.For)
	}
	breached := -1
	if win.Total > 0 && win.Total >= m.BudgetMinEvents {
		breached = m.Budget.Breached(out.BudgetRemaining)
	}
	for i := range numBudget {
		step(m.BudgetSlot(i), i == breached, 0)
	}
	out.NoDataDue = m.noData(s, now)
	step(m.NoDataSlot(), out.NoDataDue && !s.HoldNoData, m.NoData.For)
}

// Silence is how long the series has been silent at now, as the no-data rule counts it: since
// its last event or the collector's last restart, whichever is later.
func (s *Series) Silence(now int64) time.Duration {
	return time.Duration(now - max(s.LastEvent, s.resumes[0]))
}

// countEmptySlices raises each window's total to the number of slices it spans, or of slices
// closed in the elapsed time since the series began when fewer: the slices without events are
// good slices.
func (m *Model) countEmptySlices(elapsed int64, counts []Counts) {
	sl := int64(m.Timeslices.Slice)
	closed := elapsed / sl
	for i, w := range m.Layout.Windows {
		n := uint64(max(min(int64(w)/sl, closed), 0))
		if n > counts[i].Total {
			counts[i].Total = n
		}
	}
}

// Idle reports whether the series holds nothing worth keeping at now: no events in the SLO window,
// no open slice and no alert other than inactive. Idle series may be evicted.
func (m *Model) Idle(s *Series, now int64) bool {
	if s.slice.open || now-s.LastEvent < int64(m.Window) {
		return false
	}
	for _, a := range s.Alerts {
		if a.Phase != Inactive {
			return false
		}
	}
	return true
}

// MergeHistory adds c, the counts of [from, to) read from elsewhere at the resolution of layout
// tier i, to the series: into that tier only, in the bucket that holds to−1. The events are not
// added to Recorded (they were recorded where they happened). For timeslices, Since moves back
// to the slice that holds from, so the empty slices since then count as good slices.
func (m *Model) MergeHistory(s *Series, tier int, from, to int64, c Counts) bool {
	if c.Total == 0 || to <= from || !s.Ring.AddTier(tier, to-1, c) {
		return false
	}
	s.HadData = true
	if m.Timeslices != nil {
		l := int64(m.Timeslices.Slice)
		start := max(from-from%l, 1)
		if s.Since == 0 || start < s.Since {
			s.Since = start
		}
	}
	return true
}
