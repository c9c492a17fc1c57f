package sloprocessor

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/jonboulle/clockwork"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatautil"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/spancond"
)

// Names of the emitted metrics. With the stock prometheus exporter (suffixes on) they show as
// amas_slo_compliance, amas_slo_error_budget_remaining_percent (unit %), amas_slo_error_budget_burn_rate,
// amas_slo_sli_ratio and amas_slo_objective_ratio (unit 1 on a gauge), amas_slo_violations_total
// (monotonic sum) and amas_alerts. The suffixes are part of the gauge names so they also survive
// an exporter that adds none.
const (
	metricCompliance      = "amas_slo_compliance"
	metricBudgetRemaining = "amas_slo_error_budget_remaining_percent"
	metricBurnRate        = "amas_slo_error_budget_burn_rate"
	metricSLI             = "amas_slo_sli_ratio"
	metricViolations      = "amas_slo_violations"
	metricObjective       = "amas_slo_objective_ratio"
	// The event counters (amas_slo_events_total, amas_slo_bad_events_total in Prometheus) are
	// what a history bootstrap reads back (internal/slopromql).
	metricEvents    = "amas_slo_events"
	metricBadEvents = "amas_slo_bad_events"

	labelSLO      = alertstate.LabelSLO
	labelWindow   = "window"
	labelSeverity = alertstate.LabelSeverity
	labelOverflow = "otel.metric.overflow"
)

// sloProcessor is the one instance shared by the traces and metrics pipelines of a component ID.
type sloProcessor struct {
	cfg    *Config
	id     component.ID
	logger *zap.Logger
	clock  clockwork.Clock
	// manualTicks: no evaluation loop is started; the caller runs tick itself. Unit tests set it,
	// so a fake-clock step of a whole interval cannot also fire a background tick that races the
	// test's own (and consumes, for example, the one tick that ends a resolved alert's series).
	manualTicks bool
	// t0 is the clock's time at creation; now() is t0 plus the time elapsed since, which the real
	// clock measures on the monotonic clock.
	t0  time.Time
	tel *telemetry

	slos       []*sloState
	spanSLOs   []*sloState
	spanEnd    bool // event_time: span_end
	metricSLOs []*sloState
	needOTTL   bool
	// condSets are the distinct span condition sets of all SLOs (the default availability and
	// latency SLOs share their filter), evaluated at most once per span via memo.
	condSets []*spancond.Set
	memo     []int8
	// lookups caches, for the current span, the attributes that the condition sets read.
	lookups  spancond.Lookups
	condKeys []string
	// groupKeys are the distinct group_by lists of the span SLOs (an availability and a latency
	// SLO per agent share one); a span's group key per list is hashed once, via groupMemo.
	groupKeys   []string
	groupMemo   []uint64
	groupMemoOK []bool

	// evalMu serializes evaluations; evaluated is the reused list of the series one evaluated.
	evalMu           sync.Mutex
	evaluated        []evaluatedSeries
	testHookBuilding func() // called while the batch is built, with p.mu released
	// alertSeries ends the amas_alerts series a tick stops writing (guarded by evalMu).
	alertSeries alertstate.Tracker

	mu          sync.Mutex
	digest      *xxhash.Digest
	keyBuf      []byte // hashValues' reused buffer
	ratioPrev   map[uint64]ratioPoint
	ratioFull   bool                  // a new stream was skipped since the last tick: expire with ratioStreamTTLFull
	skipped     [numSkipReasons]int64 // flushed to telemetry at each tick
	lastTick    time.Time
	tracesUsed  bool
	metricsUsed bool
	nextMetrics consumer.Metrics
	startTime   pcommon.Timestamp

	stopCh chan struct{}
	wg     sync.WaitGroup

	// boot seeds new groups from Prometheus; nil when bootstrap is off (set in Start, under mu).
	boot *bootstrapper
	set  component.TelemetrySettings
	// instance is the sanitized instance label (name, value), instance[0] == "" when off.
	instance [2]string

	storage    storage.Client
	ckpt       checkpointStatus
	lastCkptAt time.Time
}

type ratioPoint struct {
	value float64
	start pcommon.Timestamp
	seen  int64 // clock time (Unix ns) of the last point
}

// ratioStreamTTL is how long a cumulative counter stream of a ratio SLI is remembered after its
// last point. Streams that stopped (an agent or connector resource that went away) are forgotten
// after it, so max_ratio_streams bounds the live streams rather than every stream ever seen.
const ratioStreamTTL = time.Hour

// ratioStreamTTLFull replaces ratioStreamTTL at the next tick after a new stream found
// max_ratio_streams full. Anyone who reaches a receiver can send counters of the names a ratio
// SLI selects (the default cost_efficiency reads the connector's cost and request counters), and
// streams past the bound are skipped: with the hour-long TTL, one burst of junk streams would
// keep new real streams out for an hour. Under pressure a stream not refreshed for five
// minutes gives its place up; a live stream (the connector flushes every 15 s, SDKs every 60 s
// by default) keeps it, so junk has to be re-sent in full every five minutes to hold the table,
// and the streams already counted are never displaced.
const ratioStreamTTLFull = 5 * time.Minute

type sloState struct {
	// single is the one series of an ungrouped SLO (st.series[0]), kept at hand because the hot
	// path asks for it for every matching span; set wherever st.series[0] is.
	single    *series
	c         *compiledSLO
	identity  identity // the definition its checkpoint records
	filterIdx int      // into sloProcessor.condSets
	badIdx    int
	groupIdx  int // into sloProcessor.groupKeys (span SLOs with group_by)
	name      string
	groupBy   []string
	series    map[uint64]*series
	overflow  *series
	// beats are the per-group no-data series (no_data_group_by), nil without; beatIdx is the
	// index of no_data_group_by in sloProcessor.groupKeys.
	beats    map[uint64]*series
	beatIdx  int
	lastBeat *series // the group of the last span, if still in beats
	// dropped counts the events sent to overflow since the last tick.
	dropped     int64
	droppedAttr metric.AddOption
	// per alert slot: alert name, severity, and the window labels of burn rules.
	slotName     []string
	slotSeverity []string
	slotLabels   [][2]string
	windowLabels []string // per layout window, computed once
}

type series struct {
	key      uint64
	labels   [][2]string // group_by attribute → value (and the overflow marker)
	overflow bool
	beat     bool // a per-group no-data series: only its SLONoData is emitted
	s        *slomath.Series
	ev       slomath.Evaluation
	evalOK   bool
	// recorded is s.Recorded as of the last evaluation, for the emitter (which runs without p.mu).
	recorded slomath.Counts
	// unrestored: the one series of an ungrouped SLO, made at start, that no checkpoint replaced
	// (a bootstrap fills it).
	unrestored bool
	// countersShown: the event counters had their first point. That point is 0, whatever the
	// series counted already: Prometheus' increase() counts a counter's increments between
	// samples, so a series that first appears at N would lose its first N events.
	countersShown bool
	// handoff is the check of the current silence (handoff.go), nil while none was sent.
	handoff *handoffState
}

type skipReason int

const (
	skipMalformedSpan skipReason = iota
	skipInvalidValue
	skipRatioStreamsFull
	numSkipReasons
)

var skipReasonNames = [numSkipReasons]string{"malformed_span", "invalid_value", "ratio_streams_full"}

func newSLOProcessor(set processor.Settings, cfg *Config, clock clockwork.Clock) (*sloProcessor, error) {
	compiled, err := cfg.compile(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	tel, err := newTelemetry(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &sloProcessor{
		cfg:       cfg,
		id:        set.ID,
		logger:    set.Logger,
		clock:     clock,
		t0:        clock.Now(),
		tel:       tel,
		digest:    xxhash.New(),
		ratioPrev: map[uint64]ratioPoint{},
		ckpt:      checkpointStatus{Enabled: cfg.Storage != nil},
		spanEnd:   cfg.EventTime == eventTimeSpanEnd,
		set:       set.TelemetrySettings,
	}
	if cfg.Storage != nil {
		p.ckpt.Storage = cfg.Storage.String()
	}
	if v := cfg.InstanceLabel.Value; v != "" {
		v, _ = safelabel.Sanitize(v, cfg.MaxLabelLength)
		p.instance = [2]string{cfg.InstanceLabel.Name, v}
	}
	for _, c := range compiled {
		st := &sloState{c: c, name: c.cfg.Name, groupBy: c.cfg.GroupBy, series: map[uint64]*series{}, droppedAttr: droppedAttr(c.cfg.Name)}
		st.describeSlots()
		st.identity = sloIdentity(c)
		if len(st.groupBy) == 0 {
			// The one series of an ungrouped SLO exists from the start, so its objective and
			// full budget are visible before any traffic.
			st.series[0] = &series{s: c.model.NewSeries(), unrestored: true}
			st.single = st.series[0]
		}
		p.slos = append(p.slos, st)
		if c.cfg.SLI.Spans != nil {
			st.filterIdx = p.condSet(c.cfg.SLI.Spans.Conditions, c.filter)
			st.badIdx = p.condSet(c.cfg.SLI.Spans.BadConditions, c.bad)
			st.groupIdx = p.groupKeyIndex(st.groupBy)
			if c.beat != nil {
				st.beats = map[uint64]*series{}
				st.beatIdx = p.groupKeyIndex(c.cfg.NoDataGroupBy)
			}
			p.spanSLOs = append(p.spanSLOs, st)
			p.needOTTL = p.needOTTL || c.filter.NeedsOTTL() || c.bad.NeedsOTTL()
		} else {
			p.metricSLOs = append(p.metricSLOs, st)
		}
	}
	p.memo = make([]int8, len(p.condSets))
	p.groupMemo = make([]uint64, len(p.groupKeys))
	p.groupMemoOK = make([]bool, len(p.groupKeys))
	tel.observeSeries(p.seriesCount)
	return p, nil
}

// now is the processor's time for events and evaluations: wall time at creation advanced by the
// monotonic clock, so a step of the wall clock (an NTP correction, a VM resumed) never moves the
// rings backwards — events would otherwise fall behind the newest bucket and be left out of the
// short windows until the wall clock caught up. Across a restart the wall clock anchors it again.
func (p *sloProcessor) now() time.Time { return p.t0.Add(p.clock.Since(p.t0)) }

// condSet returns the index of the condition set with these conditions, adding set if new.
func (p *sloProcessor) condSet(conds []string, set *spancond.Set) int {
	key := strings.Join(conds, "\x00")
	for i, k := range p.condKeys {
		if k == key {
			return i
		}
	}
	p.condKeys = append(p.condKeys, key)
	p.condSets = append(p.condSets, p.lookups.Bind(set))
	return len(p.condSets) - 1
}

// groupKeyIndex returns the index of the group_by list in p.groupKeys, adding it if new.
func (p *sloProcessor) groupKeyIndex(groupBy []string) int {
	key := strings.Join(groupBy, "\x00")
	for i, k := range p.groupKeys {
		if k == key {
			return i
		}
	}
	p.groupKeys = append(p.groupKeys, key)
	return len(p.groupKeys) - 1
}

// eval evaluates condition set i for the current span, once.
func (p *sloProcessor) eval(ctx context.Context, i int, res pcommon.Resource, span ptrace.Span, tctx *ottlspan.TransformContext) bool {
	switch p.memo[i] {
	case 1:
		return true
	case 2:
		return false
	}
	ok := p.condSets[i].EvalWith(ctx, res, span, tctx, &p.lookups)
	if ok {
		p.memo[i] = 1
	} else {
		p.memo[i] = 2
	}
	return ok
}

func (st *sloState) describeSlots() {
	m := st.c.model
	for _, w := range m.Layout.Windows {
		st.windowLabels = append(st.windowLabels, slomath.FormatWindow(w))
	}
	n := m.NumAlerts()
	st.slotName = make([]string, n)
	st.slotSeverity = make([]string, n)
	st.slotLabels = make([][2]string, n)
	for i, r := range m.Rules {
		st.slotName[i] = alertstate.AlertSLOBurnRate
		st.slotSeverity[i] = alertstate.SeverityWarning
		if r.Severity == slomath.Page {
			st.slotSeverity[i] = alertstate.SeverityCritical
		}
		st.slotLabels[i] = [2]string{slomath.FormatWindow(r.LongWindow), slomath.FormatWindow(r.ShortWindow)}
	}
	// Budget thresholds: a page is critical and a ticket warning, as for burn rules; the
	// threshold label tells the three apart.
	for i, th := range budgetThresholdNames {
		st.slotName[m.BudgetSlot(i)] = alertstate.AlertSLOBudgetExhausted
		st.slotSeverity[m.BudgetSlot(i)] = alertstate.SeverityWarning
		if m.Budget.SeverityOf(i) == slomath.Page {
			st.slotSeverity[m.BudgetSlot(i)] = alertstate.SeverityCritical
		}
		st.slotLabels[m.BudgetSlot(i)] = [2]string{th}
	}
	st.slotName[m.NoDataSlot()] = alertstate.AlertSLONoData
	st.slotSeverity[m.NoDataSlot()] = st.c.noDataSv
}

func (p *sloProcessor) seriesCount() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, st := range p.slos {
		n += int64(len(st.series) + len(st.beats))
		if st.overflow != nil {
			n++
		}
	}
	return n
}

// start runs once for all pipelines (sharedcomponent).
func (p *sloProcessor) Start(ctx context.Context, host component.Host) error {
	p.startTime = pcommon.NewTimestampFromTime(p.now())
	if !p.metricsUsed {
		p.logger.Warn("The slo processor is in no metrics pipeline: its SLO metrics and amas_alerts series have nowhere to go. Put the same component ID in a metrics pipeline too.",
			zap.String("component", p.id.String()))
	}
	if names := p.ungroupedSLOs(); len(names) > 0 {
		p.logger.Warn("instance_label is set, so this collector is one of several replicas, but these SLOs have no group_by: "+
			"each replica evaluates them over the share of the traffic routed to it. Group every SLO by the gateway's routing key "+
			"(service.name for routing_key: service; deploy/replica/slo-by-service.yaml does).",
			zap.String("component", p.id.String()), zap.Strings("slos", names))
	}
	if err := p.openStorage(ctx, host); err != nil {
		return err
	}
	if err := p.startBootstrap(ctx, host, p.set); err != nil {
		return err
	}
	p.stopCh = make(chan struct{})
	if !p.manualTicks {
		p.wg.Add(1)
		go p.loop()
	}
	register(p.id, p)
	return nil
}

// ungroupedSLOs names the SLOs without group_by when the instance label is set: behind a
// load_balancing gateway (which this processor cannot see; the instance label says it runs as a
// replica) each replica would judge only a slice of such an SLO's traffic.
func (p *sloProcessor) ungroupedSLOs() []string {
	if p.instance[0] == "" {
		return nil
	}
	var names []string
	for _, st := range p.slos {
		if len(st.groupBy) == 0 {
			names = append(names, st.name)
		}
	}
	return names
}

func (p *sloProcessor) Shutdown(ctx context.Context) error {
	unregister(p.id, p)
	p.mu.Lock()
	boot := p.boot
	p.boot = nil
	p.mu.Unlock()
	if boot != nil {
		boot.stop()
	}
	p.tel.shutdown()
	if p.stopCh != nil {
		close(p.stopCh)
		p.wg.Wait()
		p.stopCh = nil
	}
	if p.storage != nil {
		p.saveCheckpoint(ctx)
		err := p.storage.Close(ctx)
		p.storage = nil
		return err
	}
	return nil
}

func (p *sloProcessor) loop() {
	defer p.wg.Done()
	t := p.clock.NewTicker(p.cfg.EvaluationInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stopCh:
			return
		case <-t.Chan():
			p.tick(context.Background())
		}
	}
}

// consumeTraces observes every span (spans pass on unchanged).
func (p *sloProcessor) consumeTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	if len(p.spanSLOs) == 0 {
		return td, nil
	}
	now := p.now().UnixNano()
	p.mu.Lock()
	defer p.mu.Unlock()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource()
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				if span.EndTimestamp() < span.StartTimestamp() {
					p.skipped[skipMalformedSpan]++
					continue
				}
				var tctx *ottlspan.TransformContext
				if p.needOTTL {
					tctx = ottlspan.NewTransformContext(rs, ss, span)
				}
				clear(p.memo)
				clear(p.groupMemoOK)
				p.lookups.Reset()
				at := p.eventTime(span, now)
				for _, st := range p.spanSLOs {
					if !p.eval(ctx, st.filterIdx, res, span, tctx) {
						continue
					}
					bad := p.eval(ctx, st.badIdx, res, span, tctx)
					var ser *series
					if len(st.groupBy) == 0 {
						ser = p.seriesFor(st, span.Attributes(), res.Attributes())
					} else {
						ser = p.seriesByKey(st, p.memoKey(st.groupIdx, st.groupBy, span.Attributes(), res.Attributes()), span.Attributes(), res.Attributes())
					}
					st.c.model.Record(ser.s, at, bad)
					if st.beats != nil {
						p.recordBeat(st, p.memoKey(st.beatIdx, st.c.cfg.NoDataGroupBy, span.Attributes(), res.Attributes()), span.Attributes(), res.Attributes(), at)
					}
				}
				if tctx != nil {
					tctx.Close()
				}
			}
		}
	}
	return td, nil
}

// seriesFor finds (or makes, within the bound) the series of the group the attributes name.
// Steady state allocates nothing: the key is an xxhash of the group values laid out in a reused
// buffer (hashValues).
func (p *sloProcessor) seriesFor(st *sloState, attrs, resAttrs pcommon.Map) *series {
	if len(st.groupBy) == 0 {
		if st.single != nil {
			return st.single
		}
		if s, ok := st.series[0]; ok {
			st.single = s
			return s
		}
		s := &series{s: st.c.model.NewSeries()}
		st.series[0], st.single = s, s
		if p.boot != nil {
			p.boot.enqueue(st, s, p.now().UnixNano())
		}
		return s
	}
	return p.seriesByKey(st, p.groupKey(st, attrs, resAttrs), attrs, resAttrs)
}

// groupKey hashes the group_by values the attributes name (span or point first, then resource).
func (p *sloProcessor) groupKey(st *sloState, attrs, resAttrs pcommon.Map) uint64 {
	return p.keyOf(st.groupBy, attrs, resAttrs)
}

// memoKey is keyOf(keys) for the current span, hashed once per span and group_by list (index g
// of p.groupKeys).
func (p *sloProcessor) memoKey(g int, keys []string, attrs, resAttrs pcommon.Map) uint64 {
	if !p.groupMemoOK[g] {
		p.groupMemo[g] = p.keyOf(keys, attrs, resAttrs)
		p.groupMemoOK[g] = true
	}
	return p.groupMemo[g]
}

// keyOf hashes the values of keys the attributes name (span or point first, then resource) as
// the telemetry carries them. For the values a well-behaved client sends (printable, at most
// max_label_length bytes) this is safeKeyOf, a group's identity, without checking every byte of
// every value on every span; a value that sanitizing would change hashes differently and misses,
// and seriesByKey and recordBeat then look its group up by safeKeyOf.
func (p *sloProcessor) keyOf(keys []string, attrs, resAttrs pcommon.Map) uint64 {
	return p.hashValues(keys, attrs, resAttrs, false)
}

// safeKeyOf is a group's identity: the hash of its values made safe as its labels read.
func (p *sloProcessor) safeKeyOf(keys []string, attrs, resAttrs pcommon.Map) uint64 {
	return p.hashValues(keys, attrs, resAttrs, true)
}

// hashValues hashes, in one call, the bytes appendValue lays out for each value (the byte stream
// of the streaming digest earlier versions fed, so group keys in checkpoints still match).
func (p *sloProcessor) hashValues(keys []string, attrs, resAttrs pcommon.Map, safe bool) uint64 {
	b := p.keyBuf[:0]
	for _, k := range keys {
		v, ok := attrs.Get(k)
		if !ok {
			v, ok = resAttrs.Get(k)
		}
		b = appendValue(b, v, ok, p.cfg.MaxLabelLength, safe)
	}
	p.keyBuf = b
	return xxhash.Sum64(b)
}

// seriesByKey finds (or makes, within the bound) the series of a grouped SLO with this group key.
func (p *sloProcessor) seriesByKey(st *sloState, key uint64, attrs, resAttrs pcommon.Map) *series {
	if s, ok := st.series[key]; ok {
		return s
	}
	// A new group, or a value that sanitizing changes: its identity is the safe key.
	if safe := p.safeKeyOf(st.groupBy, attrs, resAttrs); safe != key {
		if s, ok := st.series[safe]; ok {
			return s
		}
		key = safe
	}
	if len(st.series) >= p.cfg.MaxGroupsPerSLO {
		st.dropped++ // counted into telemetry at the next tick: no metric API call per span
		if st.overflow == nil {
			st.overflow = &series{overflow: true, labels: [][2]string{{labelOverflow, "true"}}, s: st.c.model.NewSeries()}
		}
		return st.overflow
	}
	s := &series{key: key, labels: p.labelsOf(st.groupBy, attrs, resAttrs), s: st.c.model.NewSeries()}
	st.series[key] = s
	if p.boot != nil {
		p.boot.enqueue(st, s, p.now().UnixNano())
	}
	return s
}

// labelsOf is the label pairs of a new group: each key with its value (span or point first,
// then resource; "" when absent), made safe as keyOf hashed it. Called once per new group, so
// counting what was changed here costs no metric call per span.
func (p *sloProcessor) labelsOf(keys []string, attrs, resAttrs pcommon.Map) [][2]string {
	labels := make([][2]string, len(keys))
	for i, k := range keys {
		v, ok := attrs.Get(k)
		if !ok {
			v, ok = resAttrs.Get(k)
		}
		labels[i] = [2]string{k, ""}
		if ok {
			var res safelabel.Result
			labels[i][1], res = safelabel.Sanitize(v.AsString(), p.cfg.MaxLabelLength)
			p.tel.labelSanitized(res)
		}
	}
	return labels
}

// appendValue lays out a group_by value for hashing as its label will read: a type tag, the
// value, a separator. With safe, strings (and the string form of other types) are made safe for
// maxLen first, so values that differ only past the cut are one group; without, a string within
// maxLen is taken as it is (a value that sanitizing changes then hashes differently: see keyOf).
// An already-safe string costs no allocation either way.
func appendValue(b []byte, v pcommon.Value, ok bool, maxLen int, safe bool) []byte {
	switch {
	case !ok:
		b = append(b, 0)
	case v.Type() == pcommon.ValueTypeStr:
		b = append(b, 1)
		s := v.Str()
		if safe || len(s) > maxLen {
			s, _ = safelabel.Sanitize(s, maxLen)
		}
		b = append(b, s...)
	case v.Type() == pcommon.ValueTypeInt:
		b = append(b, 2)
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Int()))
	case v.Type() == pcommon.ValueTypeBool:
		var t byte
		if v.Bool() {
			t = 1
		}
		b = append(b, 3, t)
	default:
		b = append(b, 4)
		s, _ := safelabel.Sanitize(v.AsString(), maxLen)
		b = append(b, s...)
	}
	return append(b, 0xff)
}

// consumeMetrics observes gauges and counters for the metric SLIs (metrics pass on unchanged).
// A batch that no emitter marked (it came from a receiver) first loses its amas_alerts,
// amas_slo_* and amas_performance_regression* points, so nobody outside can raise, change or
// resolve an alert (alertstate's provenance rule); the regression processor's marked output
// passes.
func (p *sloProcessor) consumeMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	if !alertstate.FromEmitter(ctx) {
		var dropped int
		if md, dropped = alertstate.StripReserved(md); dropped > 0 {
			p.tel.forged.Add(ctx, int64(dropped))
			if md.MetricCount() == 0 {
				return md, processorhelper.ErrSkipProcessingData
			}
		}
	}
	if len(p.metricSLOs) == 0 {
		return md, nil
	}
	now := p.now().UnixNano()
	p.mu.Lock()
	defer p.mu.Unlock()
	rms := md.ResourceMetrics()
	for _, st := range p.metricSLOs {
		for i := 0; i < rms.Len(); i++ {
			rm := rms.At(i)
			switch {
			case st.c.cfg.SLI.Gauge != nil:
				for _, sel := range st.c.cfg.SLI.Gauge.Metrics {
					if p.observeGauge(st, rm, sel, now) > 0 {
						break // the first metric present in a resource wins
					}
				}
			case st.c.cfg.SLI.Ratio != nil:
				p.observeRatio(st, rm, st.c.cfg.SLI.Ratio.Numerator, true, now)
				p.observeRatio(st, rm, st.c.cfg.SLI.Ratio.Denominator, false, now)
			}
		}
	}
	return md, nil
}

func attrsMatch(attrs pcommon.Map, want map[string]string) bool {
	for k, v := range want {
		got, ok := attrs.Get(k)
		if !ok || got.AsString() != v {
			return false
		}
	}
	return true
}

func numberValue(dp pmetric.NumberDataPoint) (float64, bool) {
	var v float64
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeDouble:
		v = dp.DoubleValue()
	case pmetric.NumberDataPointValueTypeInt:
		v = float64(dp.IntValue())
	default:
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || dp.Flags().NoRecordedValue() {
		return 0, false
	}
	return v, true
}

// forEachPoint calls fn for the number points of the metrics named sel.Name whose attributes
// match sel.Attributes.
func forEachPoint(rm pmetric.ResourceMetrics, sel MetricSelector, fn func(m pmetric.Metric, dp pmetric.NumberDataPoint)) {
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			if m.Name() != sel.Name {
				continue
			}
			var dps pmetric.NumberDataPointSlice
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				dps = m.Gauge().DataPoints()
			case pmetric.MetricTypeSum:
				dps = m.Sum().DataPoints()
			default:
				continue
			}
			for k := 0; k < dps.Len(); k++ {
				if dp := dps.At(k); attrsMatch(dp.Attributes(), sel.Attributes) {
					fn(m, dp)
				}
			}
		}
	}
}

func (p *sloProcessor) observeGauge(st *sloState, rm pmetric.ResourceMetrics, sel MetricSelector, now int64) int {
	g := st.c.cfg.SLI.Gauge
	n := 0
	forEachPoint(rm, sel, func(_ pmetric.Metric, dp pmetric.NumberDataPoint) {
		n++
		v, ok := numberValue(dp)
		if !ok {
			p.skipped[skipInvalidValue]++
			return
		}
		ser := p.seriesFor(st, dp.Attributes(), rm.Resource().Attributes())
		st.c.model.Record(ser.s, now, !st.c.gaugeCmp.Good(v, g.Threshold))
	})
	return n
}

func (p *sloProcessor) observeRatio(st *sloState, rm pmetric.ResourceMetrics, sel MetricSelector, numerator bool, now int64) {
	resHash := pdatautil.MapHash(rm.Resource().Attributes())
	forEachPoint(rm, sel, func(m pmetric.Metric, dp pmetric.NumberDataPoint) {
		v, ok := numberValue(dp)
		if !ok || v < 0 {
			p.skipped[skipInvalidValue]++
			return
		}
		delta := v
		if m.Type() != pmetric.MetricTypeSum || m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityDelta {
			d := p.digest
			d.Reset()
			_, _ = d.WriteString(st.name)
			_, _ = d.WriteString(m.Name())
			_, _ = d.Write(resHash[:])
			h := pdatautil.MapHash(dp.Attributes())
			_, _ = d.Write(h[:])
			key := d.Sum64()
			prev, seen := p.ratioPrev[key]
			if !seen && len(p.ratioPrev) >= p.cfg.MaxRatioStreams {
				p.skipped[skipRatioStreamsFull]++
				p.ratioFull = true
				return
			}
			p.ratioPrev[key] = ratioPoint{value: v, start: dp.StartTimestamp(), seen: now}
			switch {
			case !seen:
				return // the first point of a cumulative stream is its baseline
			case v < prev.value || dp.StartTimestamp() != prev.start:
				delta = v // the counter restarted
			default:
				delta = v - prev.value
			}
		}
		if delta == 0 {
			return
		}
		ser := p.seriesFor(st, dp.Attributes(), rm.Resource().Attributes())
		if numerator {
			st.c.model.RecordRatio(ser.s, now, delta, 0)
		} else {
			st.c.model.RecordRatio(ser.s, now, 0, delta)
		}
	})
}

// tick evaluates every SLO at the clock's time and sends the SLO and alert-state metrics
// downstream (also when no traffic arrived: a silent agent must still alert).
func (p *sloProcessor) tick(ctx context.Context) {
	began := time.Now()
	md := p.evaluate()
	if next := p.nextMetrics; next != nil && md.DataPointCount() > 0 {
		// The mark lets the regression processor (and a second slo) pass the alert states on.
		if err := next.ConsumeMetrics(alertstate.WithEmitter(ctx), md); err != nil {
			p.logger.Debug("Sending SLO metrics failed", zap.Error(err))
		}
	}
	p.tel.evaluated(ctx, time.Since(began))
	if p.storage != nil && p.checkpointDue() {
		p.saveCheckpoint(ctx)
	}
}

// checkpointDue reports whether checkpoint_interval has passed since the last save (saves write
// lastCkptAt under p.mu, and a tick may run beside another).
func (p *sloProcessor) checkpointDue() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A checkpoint due within half a tick is written now: a checkpoint_interval equal to the
	// evaluation interval then means every tick, whatever the timer's jitter.
	return p.clock.Since(p.lastCkptAt)+p.cfg.EvaluationInterval/2 >= p.cfg.CheckpointInterval
}

func (p *sloProcessor) evaluate() pmetric.Metrics {
	// One evaluation at a time: the batch below is built from the series' evaluation results
	// after p.mu is released, and only an evaluation writes them.
	p.evalMu.Lock()
	defer p.evalMu.Unlock()
	now := p.now()
	nowNs := now.UnixNano()
	ts := pcommon.NewTimestampFromTime(now)

	p.mu.Lock()
	p.lastTick = now
	for r, n := range p.skipped {
		if n > 0 {
			p.tel.skip(skipReason(r), n)
			p.skipped[r] = 0
		}
	}
	ttl := ratioStreamTTL
	if p.ratioFull {
		ttl, p.ratioFull = ratioStreamTTLFull, false
	}
	for k, rp := range p.ratioPrev {
		if nowNs-rp.seen > int64(ttl) {
			delete(p.ratioPrev, k)
		}
	}
	evaluated := p.evaluated[:0]
	for _, st := range p.slos {
		if st.dropped > 0 {
			p.tel.groupsDroppedN(st.dropped, st.droppedAttr)
			st.dropped = 0
		}
		for key, ser := range st.series {
			p.evaluateSeries(st, ser, nowNs)
			evaluated = append(evaluated, evaluatedSeries{st, ser})
			if len(st.groupBy) > 0 && st.c.model.Idle(ser.s, nowNs) {
				delete(st.series, key)
			}
		}
		if st.overflow != nil {
			p.evaluateSeries(st, st.overflow, nowNs)
			evaluated = append(evaluated, evaluatedSeries{st, st.overflow})
			if st.c.model.Idle(st.overflow.s, nowNs) {
				st.overflow = nil
			}
		}
		evaluated = p.evaluateBeats(st, nowNs, evaluated)
	}
	p.evaluated = evaluated
	p.mu.Unlock()

	// Building the batch is most of a tick over many series: spans and metrics flow meanwhile.
	// It reads what the evaluation above wrote (ser.ev, alert states, violation counters), the
	// series' immutable labels and the SLOs' immutable slot names; consume* touch none of them.
	if p.testHookBuilding != nil {
		p.testHookBuilding()
	}
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	e := newEmitter(sm, ts, p.startTime, p.instance)
	e.reserve(evaluated)
	for i, es := range evaluated {
		e.series(es.st, es.ser)
		evaluated[i] = evaluatedSeries{} // drop the references until the next tick
	}
	p.alertSeries.End(sm, e.alertGauge, ts)
	return md
}

// evaluatedSeries is one series evaluated by the current tick, to emit.
type evaluatedSeries struct {
	st  *sloState
	ser *series
}

func (p *sloProcessor) evaluateSeries(st *sloState, ser *series, now int64) {
	if ser.beat {
		p.evaluateBeat(st, ser, now)
		return
	}
	m := st.c.model
	p.holdNoDataForHandoff(st, ser, now)
	m.Evaluate(ser.s, now, &ser.ev)
	p.startHandoff(st, ser, now)
	ser.evalOK = true
	if ser.countersShown {
		ser.recorded = ser.s.Recorded
	}
	ser.countersShown = true
	for _, slot := range ser.ev.Fired {
		p.logger.Info("SLO alert firing",
			zap.String("slo", st.name), zap.String("alertname", st.slotName[slot]), zap.String("severity", st.slotSeverity[slot]),
			zap.Any("group", ser.labels), zap.Float64("budget_remaining_percent", 100*ser.ev.BudgetRemaining))
	}
}

// emitter writes the SLO metrics of each evaluated series into one batch.
type emitter struct {
	ts, start                                            pcommon.Timestamp
	compliance, budget, burn, sli, objective, alertGauge pmetric.Gauge
	violations, events, badEvents                        pmetric.Sum
	// instance is the instance label put on every point, instance[0] == "" when off.
	instance [2]string
}

func newEmitter(sm pmetric.ScopeMetrics, ts, start pcommon.Timestamp, instance [2]string) *emitter {
	gauge := func(name, unit, desc string) pmetric.Gauge {
		m := sm.Metrics().AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		m.SetDescription(desc)
		return m.SetEmptyGauge()
	}
	e := &emitter{ts: ts, start: start, instance: instance}
	e.compliance = gauge(metricCompliance, "", "1 while the SLI over the SLO window meets the objective, else 0.")
	e.budget = gauge(metricBudgetRemaining, "%", "Error budget remaining over the SLO window, in percent (negative when overspent).")
	e.burn = gauge(metricBurnRate, "", "Error ratio over the window divided by the error budget (1 − objective).")
	e.sli = gauge(metricSLI, "1", "Good events over all events in the window (1 with no events).")
	e.objective = gauge(metricObjective, "1", "The SLO's objective.")
	vm := sm.Metrics().AppendEmpty()
	vm.SetName(metricViolations)
	vm.SetDescription("Times an SLO alert started firing, by severity.")
	e.violations = vm.SetEmptySum()
	e.violations.SetIsMonotonic(true)
	e.violations.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	counter := func(name, desc string) pmetric.Sum {
		m := sm.Metrics().AppendEmpty()
		m.SetName(name)
		m.SetDescription(desc)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		return s
	}
	e.events = counter(metricEvents, "Events the series counted on this collector (closed slices that saw events, for timeslices SLOs); history merged by a bootstrap is not included.")
	e.badEvents = counter(metricBadEvents, "Bad events (bad slices) the series counted on this collector; history merged by a bootstrap is not included.")
	e.alertGauge = alertstate.NewGauge(sm)
	return e
}

// reserve sizes the point slices once, so a tick over many series does not regrow them.
func (e *emitter) reserve(list []evaluatedSeries) {
	n, nw := len(list), 0
	for _, es := range list {
		nw += len(es.st.windowLabels)
	}
	e.compliance.DataPoints().EnsureCapacity(n)
	e.budget.DataPoints().EnsureCapacity(n)
	e.objective.DataPoints().EnsureCapacity(n)
	e.burn.DataPoints().EnsureCapacity(nw)
	e.sli.DataPoints().EnsureCapacity(nw)
	e.violations.DataPoints().EnsureCapacity(3 * n)
	e.events.DataPoints().EnsureCapacity(n)
	e.badEvents.DataPoints().EnsureCapacity(n)
}

func (e *emitter) point(g pmetric.Gauge, st *sloState, ser *series, v float64) pmetric.NumberDataPoint {
	dp := g.DataPoints().AppendEmpty()
	dp.SetTimestamp(e.ts)
	dp.SetDoubleValue(v)
	e.putLabels(dp.Attributes(), st, ser)
	return dp
}

func (e *emitter) counter(sum pmetric.Sum, st *sloState, ser *series, v uint64) {
	dp := sum.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(e.start)
	dp.SetTimestamp(e.ts)
	dp.SetIntValue(int64(min(v, math.MaxInt64)))
	e.putLabels(dp.Attributes(), st, ser)
}

func (e *emitter) putLabels(attrs pcommon.Map, st *sloState, ser *series) {
	n := len(ser.labels) + 2 // slo, and window or severity
	if e.instance[0] != "" {
		n++
	}
	attrs.EnsureCapacity(n)
	attrs.PutStr(labelSLO, st.name)
	for _, kv := range ser.labels {
		attrs.PutStr(kv[0], kv[1])
	}
	if e.instance[0] != "" {
		attrs.PutStr(e.instance[0], e.instance[1])
	}
}

// alertLabels adds the instance label to the labels of an alert.
func (e *emitter) alertLabels(labels map[string]string) map[string]string {
	if e.instance[0] != "" {
		labels[e.instance[0]] = e.instance[1]
	}
	return labels
}

func (e *emitter) series(st *sloState, ser *series) {
	if ser.beat {
		e.beat(st, ser)
		return
	}
	m := st.c.model
	ev := &ser.ev
	comp := 0.0
	if ev.Compliant {
		comp = 1
	}
	e.point(e.compliance, st, ser, comp)
	e.point(e.budget, st, ser, 100*ev.BudgetRemaining)
	e.point(e.objective, st, ser, m.Objective)
	e.counter(e.events, st, ser, ser.recorded.Total)
	e.counter(e.badEvents, st, ser, ser.recorded.Bad)
	for i, label := range st.windowLabels {
		e.point(e.burn, st, ser, slomath.BurnRate(ev.Counts[i], m.Objective)).Attributes().PutStr(labelWindow, label)
		e.point(e.sli, st, ser, slomath.SLI(ev.Counts[i])).Attributes().PutStr(labelWindow, label)
	}
	// Violations by severity: every severity the SLO can raise has a series from the start.
	var bySev [4]uint64
	var has [4]bool
	for slot, n := range ser.s.Violations {
		i := severityIndex(st.slotSeverity[slot])
		bySev[i] += n
		has[i] = true
	}
	for i, sv := range severities {
		if !has[i] {
			continue
		}
		dp := e.violations.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(e.start)
		dp.SetTimestamp(e.ts)
		dp.SetIntValue(int64(bySev[i]))
		e.putLabels(dp.Attributes(), st, ser)
		dp.Attributes().PutStr(labelSeverity, sv)
	}
	for slot, a := range ser.s.Alerts {
		if a.Phase == slomath.Inactive {
			continue
		}
		labels := make(map[string]string, len(ser.labels)+4)
		labels[labelSLO] = st.name
		for _, kv := range ser.labels {
			labels[kv[0]] = kv[1]
		}
		switch {
		case slot < len(m.Rules):
			labels[alertstate.LabelLongWindow] = st.slotLabels[slot][0]
			labels[alertstate.LabelShortWindow] = st.slotLabels[slot][1]
		case slot < m.NoDataSlot():
			labels[alertstate.LabelThreshold] = st.slotLabels[slot][0]
		}
		alertstate.Append(e.alertGauge, e.ts, alertstate.Alert{
			Name: st.slotName[slot], State: a.Phase.String(), Severity: st.slotSeverity[slot],
			Labels: e.alertLabels(labels), ActiveSince: pcommon.Timestamp(a.ActiveSince),
		})
	}
}

// budgetThresholdNames are the threshold label values, in slomath's order (BudgetCritical...).
var budgetThresholdNames = [3]string{"critical", "high", "warning"}

var severities = [4]string{alertstate.SeverityCritical, alertstate.SeverityHigh, alertstate.SeverityWarning, alertstate.SeverityInfo}

func severityIndex(s string) int {
	for i, v := range severities {
		if v == s {
			return i
		}
	}
	return 3
}
