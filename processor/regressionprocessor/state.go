package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/sketch"
)

// kind is a regression type; its name is the `type` label.
type kind int

const (
	kindLatency kind = iota
	kindErrorRate
	kindCost
	numKinds
)

var kindNames = [numKinds]string{"latency_regression", "error_rate_regression", "cost_regression"}

// phase of one (operation, type) alert.
type phase uint8

const (
	phaseInactive phase = iota
	phasePending
	phaseFiring
	phaseResolved
)

const noEpoch = math.MinInt64

// slot is one time bucket of an operation's history. The scalars come first, next to the
// sketch's own (its bins are last), so that recording a span touches one cache line of the slot
// besides the bin.
type slot struct {
	epoch   int64 // slot number: start time / slot length; noEpoch when empty
	errors  uint64
	costN   uint64
	costSum float64
	lat     sketch.Sketch
}

func (s *slot) reset() {
	s.lat.Reset()
	s.errors, s.costN, s.costSum = 0, 0, 0
	s.epoch = noEpoch
}

func (s *slot) mergeInto(lat *sketch.Sketch, errs, costN *uint64, costSum *float64) {
	lat.Merge(&s.lat)
	*errs += s.errors
	*costN += s.costN
	*costSum += s.costSum
}

type alertState struct {
	phase       phase
	breaches    int32 // consecutive breaching evaluations while pending
	oks         int32 // consecutive non-breaching evaluations while firing
	activeSince int64 // unix ns: became pending
	firingSince int64
	resolvedAt  int64
}

// figure is what one evaluation measured for one type; NaN where there was too little data.
type figure struct {
	baseline [maxQuantiles]float64 // latency: one per quantile (seconds); others: index 0
	current  [maxQuantiles]float64
	ratio    float64 // worst current/baseline; NaN if not computable
}

// operation is everything known about one operation. Its size is fixed (see README, "Memory").
// The fields a span reads or writes (used, lastEpoch, firing) sit together at the front.
type operation struct {
	hash       uint64
	used       uint64     // batch generation of the last span (tracker.gen)
	pos        uint64     // batch generation at which it took its place in the list
	lastEpoch  int64      // newest current slot written
	prev, next *operation // eviction list, see tracker.add
	costCap    float64    // most a span adds to the cost: costOutlierFactor × baseline mean; 0: none
	firing     bool       // some alert fires: spans are marked
	judged     bool       // warmed up: its figures and regression flags are emitted
	frozen     bool       // some alert is pending or firing: the baseline takes no new data
	label      string
	firstSeen  int64 // unix ns; start of the warm-up (reset by a re-baseline)

	cur  [currentSlots]slot
	base [baselineSlots]slot

	alerts [numKinds]alertState
	fig    [numKinds]figure
	types  string // firing types, comma-separated, for the regression.type mark
}

func (op *operation) init(hash uint64, label string, now int64) {
	*op = operation{hash: hash, label: label, firstSeen: now, lastEpoch: noEpoch}
	for i := range op.cur {
		op.cur[i].epoch = noEpoch
	}
	for i := range op.base {
		op.base[i].epoch = noEpoch
	}
	op.clearFigures()
}

func (op *operation) clearFigures() {
	for k := range op.fig {
		f := &op.fig[k]
		for i := range f.baseline {
			f.baseline[i], f.current[i] = math.NaN(), math.NaN()
		}
		f.ratio = math.NaN()
	}
}

// tracker holds the operations and does the statistics. It is not safe for concurrent use: the
// processor serialises calls with its mutex.
type tracker struct {
	cfg       *Config
	curDur    int64 // ns per current slot
	baseDur   int64 // ns per baseline slot
	quantiles []float64
	need      [maxQuantiles]uint64 // samples a window needs before quantile i is judged
	qLabels   []string             // "0.95"
	qMarks    [][2]string          // span attribute names: regression.baseline_p95_ms, regression.current_p95_ms

	ops        map[uint64]*operation
	head, tail *operation
	free       *operation // evicted operations, reused
	gen        uint64     // batch generation: incremented once per batch of spans
	moved      []*operation

	scratchCur, scratchBase sketch.Sketch

	applied map[string]int64 // baseline reset generations already applied

	// counters the processor turns into internal telemetry
	evicted           int64
	fired             [numKinds]int64
	rebaselinedAuto   int64
	rebaselinedManual int64
}

func newTracker(cfg *Config) *tracker {
	t := &tracker{
		cfg:     cfg,
		curDur:  int64(cfg.CurrentWindow) / currentSlots,
		baseDur: int64(cfg.BaselineWindow) / baselineSlots,
		ops:     make(map[uint64]*operation),
		applied: make(map[string]int64),
	}
	if cfg.Latency.Enabled {
		t.quantiles = cfg.Latency.Quantiles
	}
	for i, q := range t.quantiles {
		t.need[i] = max(uint64(cfg.MinSamples), uint64(math.Ceil(float64(cfg.MinTailSamples)/(1-q))))
		t.qLabels = append(t.qLabels, strconv.FormatFloat(q, 'f', -1, 64))
		name := "p" + strings.ReplaceAll(strconv.FormatFloat(q*100, 'f', -1, 64), ".", "_")
		t.qMarks = append(t.qMarks, [2]string{"regression.baseline_" + name + "_ms", "regression.current_" + name + "_ms"})
	}
	return t
}

// nextBatch starts a batch of spans: operations seen from here on are stamped with a new
// generation.
func (t *tracker) nextBatch() { t.gen++ }

// get returns the operation for hash, or nil. A hit only stamps the operation with the batch
// generation; it is not moved in the list (see add): no write to its neighbours per span.
func (t *tracker) get(hash uint64) *operation {
	op := t.ops[hash]
	if op != nil {
		op.used = t.gen
	}
	return op
}

// add creates an operation at the front of the list. When the bound is reached it evicts the
// least recently seen operation, found lazily ("second chance", as CLOCK does, but with a
// generation instead of a bit): the list is ordered by the generation at which each operation
// took its place (pos). The operations at the tail that were seen since (used != pos) are taken
// off, sorted by their last use and put back at the front, until the tail is one not seen since
// it took its place; that one is evicted. An operation moves at most once per eviction and only
// when it was seen, so the cost is amortised O(1) and a span never touches the list. Like CLOCK
// it approximates least-recently-seen: the operations moved in one eviction are ordered by their
// last use, but one moved in an earlier eviction can stay behind them though seen later.
func (t *tracker) add(hash uint64, label string, now int64) *operation {
	if len(t.ops) >= t.cfg.MaxOperations && t.tail != nil {
		moved := t.moved[:0]
		for t.tail != nil && t.tail.used != t.tail.pos {
			op := t.tail
			t.unlink(op)
			op.pos = op.used
			moved = append(moved, op)
		}
		slices.SortStableFunc(moved, func(a, b *operation) int { return cmp.Compare(a.used, b.used) })
		for _, op := range moved {
			t.pushFront(op)
		}
		clear(moved)
		t.moved = moved[:0]
		old := t.tail
		t.unlink(old)
		delete(t.ops, old.hash)
		t.evicted++
		old.next = t.free
		t.free = old
	}
	op := t.free
	if op != nil {
		t.free = op.next
	} else {
		op = new(operation)
	}
	op.init(hash, label, now)
	op.used, op.pos = t.gen, t.gen
	t.ops[hash] = op
	t.pushFront(op)
	return op
}

func (t *tracker) unlink(op *operation) {
	if op.prev != nil {
		op.prev.next = op.next
	} else {
		t.head = op.next
	}
	if op.next != nil {
		op.next.prev = op.prev
	} else {
		t.tail = op.prev
	}
	op.prev, op.next = nil, nil
}

func (t *tracker) pushFront(op *operation) {
	op.prev, op.next = nil, t.head
	if t.head != nil {
		t.head.prev = op
	}
	t.head = op
	if t.tail == nil {
		t.tail = op
	}
}

// pushBack appends op as the least recently seen (used when restoring a checkpoint in order).
func (t *tracker) pushBack(op *operation) {
	op.prev, op.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = op
	}
	t.tail = op
	if t.head == nil {
		t.head = op
	}
}

// slotFor returns the current slot for epoch e, rolling the window forward when e is new. A
// clock that steps back keeps writing into the newest slot.
func (t *tracker) slotFor(op *operation, e int64) *slot {
	if e < op.lastEpoch {
		e = op.lastEpoch
	}
	s := &op.cur[e%currentSlots]
	if s.epoch != e {
		t.advance(op, e)
	}
	return s
}

// advance retires the current slots that fell out of the window into the baseline and claims
// the slot of epoch e.
func (t *tracker) advance(op *operation, e int64) {
	if e < op.lastEpoch {
		e = op.lastEpoch
	}
	for i := range op.cur {
		s := &op.cur[i]
		if s.epoch != noEpoch && s.epoch <= e-currentSlots {
			t.retire(op, s)
		}
	}
	s := &op.cur[e%currentSlots]
	if s.epoch != e {
		s.reset()
		s.epoch = e
	}
	op.lastEpoch = e
}

// retire moves a current slot into the baseline — unless an alert of the operation is pending
// or firing, so that a regression never teaches the baseline that it is normal.
func (t *tracker) retire(op *operation, s *slot) {
	if !op.frozen && (s.lat.Count() > 0 || s.costN > 0) {
		be := s.epoch * t.curDur / t.baseDur
		b := &op.base[be%baselineSlots]
		if b.epoch != be && (b.epoch == noEpoch || b.epoch < be) {
			b.reset()
			b.epoch = be
		}
		if b.epoch == be {
			b.lat.Merge(&s.lat)
			b.errors += s.errors
			b.costN += s.costN
			b.costSum += s.costSum
		}
	}
	s.reset()
}

// record adds one span to the operation.
func (t *tracker) record(op *operation, e int64, seconds float64, isError bool, cost float64, hasCost bool) {
	s := t.slotFor(op, e)
	s.lat.Add(seconds)
	if isError {
		s.errors++
	}
	if hasCost {
		s.costN++
		s.costSum += cost
	}
}

// evaluate rolls every operation's windows to now, judges it and steps its alerts.
func (t *tracker) evaluate(now int64) {
	e := now / t.curDur
	for op := t.head; op != nil; op = op.next {
		t.advance(op, e)
		t.judge(op, now)
	}
}

func (t *tracker) judge(op *operation, now int64) {
	cfg := t.cfg
	t.scratchCur.Reset()
	t.scratchBase.Reset()
	var curErr, curCostN, baseErr, baseCostN uint64
	var curCost, baseCost float64
	for i := range op.cur {
		op.cur[i].mergeInto(&t.scratchCur, &curErr, &curCostN, &curCost)
	}
	for i := range op.base {
		op.base[i].mergeInto(&t.scratchBase, &baseErr, &baseCostN, &baseCost)
	}
	op.clearFigures()
	op.judged = now-op.firstSeen >= int64(cfg.WarmUp)
	op.costCap = 0
	if baseCostN >= uint64(cfg.MinSamples) && baseCost > 0 {
		op.costCap = costOutlierFactor * baseCost / float64(baseCostN)
	}
	curN, baseN := t.scratchCur.Count(), t.scratchBase.Count()
	minN := uint64(cfg.MinSamples)

	var breach [numKinds]bool
	if cfg.Latency.Enabled {
		f := &op.fig[kindLatency]
		for i, q := range t.quantiles {
			if curN < t.need[i] || baseN < t.need[i] {
				continue
			}
			b, c := t.scratchBase.Quantile(q), t.scratchCur.Quantile(q)
			f.baseline[i], f.current[i] = b, c
			if b > 0 {
				if r := c / b; !(r <= f.ratio) { // NaN-aware max
					f.ratio = r
				}
			}
			if c >= b*(1+cfg.Latency.RelativeMargin) && c-b >= cfg.Latency.AbsoluteMargin.Seconds() {
				breach[kindLatency] = true
			}
		}
	}
	if cfg.ErrorRate.Enabled && curN >= minN && baseN >= minN {
		f := &op.fig[kindErrorRate]
		b, c := float64(baseErr)/float64(baseN), float64(curErr)/float64(curN)
		f.baseline[0], f.current[0] = b, c
		if b > 0 {
			f.ratio = c / b
		}
		breach[kindErrorRate] = c >= b*(1+cfg.ErrorRate.RelativeMargin) && c-b >= cfg.ErrorRate.AbsoluteMargin
	}
	if cfg.Cost.Enabled && curCostN >= minN && baseCostN >= minN {
		f := &op.fig[kindCost]
		b, c := baseCost/float64(baseCostN), curCost/float64(curCostN)
		f.baseline[0], f.current[0] = b, c
		if b > 0 {
			f.ratio = c / b
		}
		breach[kindCost] = c >= b*(1+cfg.Cost.RelativeMargin) && c-b >= cfg.Cost.AbsoluteMargin
	}

	for k := range numKinds {
		t.step(op, k, op.judged && breach[k], now)
	}
	t.refreshFlags(op)

	if cfg.RebaselineAfter > 0 {
		for k := range op.alerts {
			if a := &op.alerts[k]; a.phase == phaseFiring && now-a.firingSince >= int64(cfg.RebaselineAfter) {
				t.resetBaseline(op, now)
				t.rebaselinedAuto++
				break
			}
		}
	}
}

// step moves one alert through inactive → pending → firing → resolved. A type with too little
// data to judge counts as not breaching: a firing alert of an operation that stopped sending
// resolves (the slo processor's no-data alert covers silence).
func (t *tracker) step(op *operation, k kind, breach bool, now int64) {
	a := &op.alerts[k]
	switch a.phase {
	case phaseInactive, phaseResolved:
		if breach {
			*a = alertState{phase: phasePending, breaches: 1, activeSince: now}
			if t.cfg.FireAfter <= 1 {
				t.fire(a, k, now)
			}
		} else if a.phase == phaseResolved && now-a.resolvedAt > int64(t.cfg.ResolvedRetention) {
			*a = alertState{}
		}
	case phasePending:
		if !breach {
			*a = alertState{}
			return
		}
		a.breaches++
		if int(a.breaches) >= t.cfg.FireAfter {
			t.fire(a, k, now)
		}
	case phaseFiring:
		if breach {
			a.oks = 0
			return
		}
		a.oks++
		if int(a.oks) >= t.cfg.ResolveAfter {
			a.phase = phaseResolved
			a.resolvedAt = now
		}
	}
}

func (t *tracker) fire(a *alertState, k kind, now int64) {
	a.phase = phaseFiring
	a.firingSince = now
	a.oks = 0
	t.fired[k]++
}

func (t *tracker) refreshFlags(op *operation) {
	op.firing, op.frozen = false, false
	var types []string
	for k := range op.alerts {
		switch op.alerts[k].phase {
		case phaseFiring:
			op.firing, op.frozen = true, true
			types = append(types, kindNames[k])
		case phasePending:
			op.frozen = true
		}
	}
	if joined := strings.Join(types, ","); joined != op.types {
		op.types = joined
	}
}

// resetBaseline accepts the operation's recent behaviour as its new normal: the baseline is
// dropped and learnt again after a fresh warm-up, and its alerts resolve. The current window is
// kept: it becomes the first data of the new baseline.
func (t *tracker) resetBaseline(op *operation, now int64) {
	for i := range op.base {
		op.base[i].reset()
	}
	for k := range op.alerts {
		a := &op.alerts[k]
		switch a.phase {
		case phaseFiring:
			a.phase, a.resolvedAt, a.oks = phaseResolved, now, 0
		case phasePending:
			*a = alertState{}
		}
	}
	op.firstSeen = now
	op.judged = false
	op.clearFigures()
	t.refreshFlags(op)
}

// applyResets applies the configured baseline resets whose generation is new, and returns the
// operations it reset (for the log).
func (t *tracker) applyResets(resets []BaselineReset, now int64) (done []string) {
	for _, r := range resets {
		if t.applied[r.Operation] >= r.Generation {
			continue
		}
		t.applied[r.Operation] = r.Generation
		for op := t.head; op != nil; op = op.next {
			if r.Operation == "*" || op.label == r.Operation {
				t.resetBaseline(op, now)
				t.rebaselinedManual++
			}
		}
		done = append(done, r.Operation)
	}
	return done
}
