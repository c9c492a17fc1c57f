package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// tickInterval is how often the dispatcher checks group timers and resolve timeouts.
const tickInterval = 500 * time.Millisecond

// alertRec is one alert the exporter tracks, keyed by its alertstate.Fingerprint.
type alertRec struct {
	fp       uint64
	labels   map[string]string // alertname, severity and the other labels; never alertstate
	state    string
	startsAt time.Time
	endsAt   time.Time
	lastSeen time.Time
	values   map[string]float64
	groups   []*aggrGroup
	anchor   uint64 // labelsAnchor(labels)
}

// aggrGroup is Alertmanager's aggregation group: the alerts of one route with equal group
// labels, flushed group_wait after it is created and every group_interval after that.
type aggrGroup struct {
	key    string
	route  *route
	labels map[string]string
	alerts map[uint64]*alertRec
	next   time.Time
}

// logEntry is the notification log of one (group, receiver, integration): what was last
// announced as firing and when. It is what keeps a flapping series or a restart from paging twice.
type logEntry struct {
	firing map[uint64]struct{}
	at     time.Time
	// maybe holds alerts a notification about to be queued announces as firing, checkpointed
	// before the enqueue and cleared by the commit after it. A kill in between leaves them
	// here: they count as announced for resolves (so a resolve is never lost) but not for new
	// firings (so the page is repeated rather than lost).
	maybe map[uint64]struct{}
}

// seqState orders the notifications of one log key: a request older than one already
// delivered is stale and dropped instead of undoing the newer one (a firing retried after its
// resolve went through).
type seqState struct {
	mu        sync.Mutex // held while a notification of this key is being sent
	enqueued  uint64
	delivered uint64
	accepted  map[uint64]struct{} // the firing set of the last delivered notification
	queued    uint64              // the last sequence number this run queued (enqueued may start past it after a restart)
	used      time.Time           // last built, queued or delivered notification of the key
}

// seqIdleTTL is how long the ordering state of a group that is no longer in the notification
// log is kept: far longer than a queued notification of it can still be retried.
const seqIdleTTL = 24 * time.Hour

// sibling is a point of a value metric in the batch, joined to alerts by shared labels.
type sibling struct {
	name  string
	attrs pcommon.Map
	value float64
	// anchor is the hash of the point's slo (else operation) label and value, 0 without either:
	// siblings are sorted by it so an alert only looks at the points of its own SLO or operation.
	anchor uint64
}

// anchorLabels are the labels that tie a value to an alert, in order of preference: an SLO's
// metrics carry slo, a regression's carry operation (alertstate's contract).
var anchorLabels = [2]string{alertstate.LabelSLO, alertstate.LabelOperation}

func anchorHash(label, value string) uint64 {
	return fnvString(fnvString(fnvOffset, label), value) | 1 // never 0, which means none
}

func attrsAnchor(attrs pcommon.Map) uint64 {
	for _, l := range anchorLabels {
		if v, ok := attrs.Get(l); ok {
			return anchorHash(l, attrString(v))
		}
	}
	return 0
}

func labelsAnchor(labels map[string]string) uint64 {
	for _, l := range anchorLabels {
		if v, ok := labels[l]; ok {
			return anchorHash(l, v)
		}
	}
	return 0
}

type alertExporter struct {
	cfg    *Config
	set    exporter.Settings
	logger *zap.Logger
	clock  clockwork.Clock // the real clock in the collector, a fake one in tests
	tel    *telemetry

	root         *route
	integrations map[string]integration // receiver name -> its integrations, in order
	byReceiver   map[string][]integration
	senders      map[string]exporter.Metrics // by receiver|integration
	legacy       exporter.Metrics            // drains a persistent queue of the single-queue versions
	tmpl         *compiledTemplates
	emptyMD      pmetric.Metrics

	mu       sync.Mutex
	alerts   map[uint64]*alertRec
	groups   map[string]*aggrGroup
	nflog    map[string]*logEntry
	dirty    bool        // alert state changed since the last checkpoint
	seqDirty atomic.Bool // a delivery moved a sequence number since the last checkpoint
	lastCkp  time.Time
	sib      []sibling
	foldBuf  []string
	keys     map[uint64]string // interned value keys

	smu  sync.Mutex
	seqs map[string]*seqState

	storage storage.Client
	tickMu  sync.Mutex // one tick at a time: flush, enqueue and commit must not interleave
	noLoop  bool       // tests drive tick themselves on a fake clock
	stopCh  chan struct{}
	doneCh  chan struct{}
	// runCtx is the dispatcher's context, cancelled first at Shutdown: without a sending
	// queue a delivery (and its retries) runs on the dispatcher goroutine.
	runCtx    context.Context
	runCancel context.CancelFunc
	stopOnce  sync.Once
}

func newAlertExporter(cfg *Config, set exporter.Settings, clk clockwork.Clock) (*alertExporter, error) {
	tel, err := newTelemetry(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &alertExporter{
		cfg:          cfg,
		set:          set,
		logger:       set.Logger,
		clock:        clk,
		tel:          tel,
		root:         compileRoute(&cfg.Route, nil, rootRouteID),
		integrations: map[string]integration{},
		senders:      map[string]exporter.Metrics{},
		byReceiver:   map[string][]integration{},
		emptyMD:      pmetric.NewMetrics(),
		alerts:       map[uint64]*alertRec{},
		groups:       map[string]*aggrGroup{},
		nflog:        map[string]*logEntry{},
		keys:         map[uint64]string{},
		seqs:         map[string]*seqState{},
		tmpl:         compileAnnotations(cfg.Annotations),
	}
	warnClassicMatchers(set.Logger, &cfg.Route, "route")
	for i := range cfg.Receivers {
		for _, in := range newIntegrations(&cfg.Receivers[i], e) {
			e.integrations[in.receiver()+"|"+in.kind()] = in
			e.byReceiver[in.receiver()] = append(e.byReceiver[in.receiver()], in)
			tel.register(in.receiver(), in.kind())
		}
	}
	return e, nil
}

func (e *alertExporter) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (e *alertExporter) Start(ctx context.Context, host component.Host) error {
	for _, in := range e.integrations {
		if err := in.start(ctx, host, e.set.TelemetrySettings); err != nil {
			return err
		}
	}
	if id := e.storageID(); id != nil {
		ext, ok := host.GetExtensions()[*id]
		if !ok {
			return errors.New("storage: extension " + id.String() + " not found")
		}
		se, ok := ext.(storage.Extension)
		if !ok {
			return errors.New("storage: extension " + id.String() + " is not a storage extension")
		}
		client, err := se.GetClient(ctx, component.KindExporter, e.set.ID, "alert_state")
		if err != nil {
			return err
		}
		e.storage = client
		if err := e.loadCheckpoint(ctx); err != nil {
			// A corrupt checkpoint must not keep the collector from alerting: start empty.
			e.logger.Warn("Could not load the alert delivery checkpoint; starting without it", zap.Error(err))
		}
	}
	for _, key := range e.integrationKeys() {
		if s := e.senders[key]; s != nil {
			if err := s.Start(ctx, host); err != nil {
				return err
			}
		}
	}
	if e.legacy != nil {
		if err := e.legacy.Start(ctx, host); err != nil {
			return err
		}
	}
	e.stopCh = make(chan struct{})
	e.doneCh = make(chan struct{})
	e.runCtx, e.runCancel = context.WithCancel(context.Background())
	if e.noLoop {
		close(e.doneCh)
		return nil
	}
	// The ticker exists when Start returns, so a test that advances a fake clock after Start
	// always fires it.
	go e.run(e.clock.NewTicker(tickInterval))
	return nil
}

// persistentQueue reports whether queued notifications survive a restart.
func (e *alertExporter) persistentQueue() bool {
	return e.cfg.QueueConfig.HasValue() && e.cfg.QueueConfig.Get().StorageID != nil
}

// integrationKeys lists the receiver|integration keys in a stable order.
func (e *alertExporter) integrationKeys() []string {
	keys := make([]string, 0, len(e.integrations))
	for k := range e.integrations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (e *alertExporter) storageID() *component.ID {
	if e.cfg.Storage != nil {
		return e.cfg.Storage
	}
	if e.cfg.QueueConfig.HasValue() {
		return e.cfg.QueueConfig.Get().StorageID
	}
	return nil
}

func (e *alertExporter) Shutdown(ctx context.Context) error {
	var errs []error
	e.stopOnce.Do(func() {
		if e.stopCh != nil {
			e.runCancel()
			close(e.stopCh)
			<-e.doneCh
		}
		if e.storage != nil {
			e.mu.Lock()
			errs = append(errs, e.writeCheckpoint(ctx))
			e.mu.Unlock()
		}
		for _, key := range e.integrationKeys() {
			if s := e.senders[key]; s != nil {
				errs = append(errs, s.Shutdown(ctx))
			}
		}
		if e.legacy != nil {
			errs = append(errs, e.legacy.Shutdown(ctx))
		}
		if e.storage != nil {
			errs = append(errs, e.storage.Close(ctx))
		}
		for _, in := range e.integrations {
			in.shutdown()
		}
	})
	return errors.Join(errs...)
}

func (e *alertExporter) run(t clockwork.Ticker) {
	defer close(e.doneCh)
	defer t.Stop()
	for {
		select {
		case <-e.stopCh:
			return
		case <-t.Chan():
			e.tick(e.runCtx)
		}
	}
}

// ConsumeMetrics reads the amas_alerts points of the batch and joins the sibling value
// metrics to them. It sends nothing itself: notifications leave from the dispatcher tick.
func (e *alertExporter) ConsumeMetrics(_ context.Context, md pmetric.Metrics) error {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sib = e.sib[:0]
	rms := md.ResourceMetrics()
	found := false
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				name := m.Name()
				if name == alertstate.MetricName {
					found = true
					continue
				}
				if e.isValueMetric(name) {
					e.collectSiblings(m)
				}
			}
		}
	}
	if !found {
		return nil
	}
	// Stable: among the points of one SLO or operation the batch order (last wins) is kept.
	slices.SortStableFunc(e.sib, func(a, b sibling) int { return cmp.Compare(a.anchor, b.anchor) })
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != alertstate.MetricName {
					continue
				}
				if m.Type() != pmetric.MetricTypeGauge {
					e.tel.invalidPoint()
					continue
				}
				dps := m.Gauge().DataPoints()
				for p := 0; p < dps.Len(); p++ {
					e.ingest(dps.At(p), now)
				}
			}
		}
	}
	return nil
}

func (e *alertExporter) isValueMetric(name string) bool {
	for _, p := range e.cfg.ValueMetricPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func (e *alertExporter) collectSiblings(m pmetric.Metric) {
	var dps pmetric.NumberDataPointSlice
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps = m.Gauge().DataPoints()
	case pmetric.MetricTypeSum:
		dps = m.Sum().DataPoints()
	default:
		return
	}
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		v := pointValue(dp)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		e.sib = append(e.sib, sibling{name: m.Name(), attrs: dp.Attributes(), value: v, anchor: attrsAnchor(dp.Attributes())})
	}
}

func pointValue(dp pmetric.NumberDataPoint) float64 {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		return float64(dp.IntValue())
	}
	return dp.DoubleValue()
}

func attrString(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString()
}

// ingest applies one amas_alerts point. Called with e.mu held.
func (e *alertExporter) ingest(dp pmetric.NumberDataPoint, now time.Time) {
	if alertstate.Ended(dp) {
		return // ends a Prometheus series of the previous state; carries no state
	}
	attrs := dp.Attributes()
	nameV, ok1 := attrs.Get(alertstate.LabelAlertName)
	stateV, ok2 := attrs.Get(alertstate.LabelAlertState)
	v := pointValue(dp)
	if !ok1 || !ok2 || nameV.Str() == "" || math.IsNaN(v) {
		e.tel.invalidPoint()
		return
	}
	var state string
	switch st := stateV.Str(); {
	case st == alertstate.StateResolved || v == 0:
		state = alertstate.StateResolved
	case st == alertstate.StateFiring:
		state = alertstate.StateFiring
	case st == alertstate.StatePending:
		state = alertstate.StatePending
	default:
		e.tel.invalidPoint()
		return
	}
	fp := alertstate.FingerprintAttrs(attrs)
	rec := e.alerts[fp]
	if rec == nil {
		if state == alertstate.StateResolved {
			// Never seen active: nothing was announced, so there is nothing to resolve.
			return
		}
		if len(e.alerts) >= e.cfg.MaxAlerts {
			e.tel.alertDropped()
			return
		}
		rec = &alertRec{fp: fp, labels: make(map[string]string, attrs.Len()), state: alertstate.StateResolved}
		attrs.Range(func(k string, v pcommon.Value) bool {
			if k != alertstate.LabelAlertState {
				// Telemetry is hostile: no control characters, no unbounded values, in any
				// group key, checkpoint or notification (see escape.go).
				rec.labels[cleanLabel(k)] = cleanLabel(attrString(v))
			}
			return true
		})
		rec.anchor = labelsAnchor(rec.labels)
		e.alerts[fp] = rec
	}
	rec.lastSeen = now
	e.dirty = true
	switch state {
	case alertstate.StateResolved:
		if rec.state != alertstate.StateResolved {
			rec.state = alertstate.StateResolved
			rec.endsAt = pointTime(dp.Timestamp(), now)
		}
	case alertstate.StateFiring, alertstate.StatePending:
		if rec.state == alertstate.StateResolved {
			rec.startsAt = pointTime(dp.StartTimestamp(), now)
			rec.endsAt = time.Time{}
		}
		if state == alertstate.StateFiring || rec.state != alertstate.StateFiring {
			rec.state = state
		}
		if rec.state == alertstate.StateFiring {
			e.attach(rec, now)
		}
	}
	if len(e.sib) > 0 {
		e.joinValues(rec)
	}
}

func pointTime(ts pcommon.Timestamp, now time.Time) time.Time {
	if ts == 0 {
		return now
	}
	return ts.AsTime()
}

const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	h ^= 0
	h *= fnvPrime
	return h
}

// joinValues copies the batch's sibling values onto rec: a sibling point belongs to the alert
// when it carries the alert's slo (else operation) label with the same value and every other
// sibling attribute the alert also has is equal (an alert with neither label: at least one
// shared attribute); the values of the sibling's other attributes (the window) are folded into
// the key. Sharing only severity is not enough: the batch processor merges the slo and
// regression processors' outputs, and amas_slo_violations carries severity.
func (e *alertExporter) joinValues(rec *alertRec) {
	sib := e.sib
	if rec.anchor != 0 {
		lo, _ := slices.BinarySearchFunc(e.sib, rec.anchor, func(s sibling, a uint64) int { return cmp.Compare(s.anchor, a) })
		hi := lo
		for hi < len(e.sib) && e.sib[hi].anchor == rec.anchor {
			hi++
		}
		sib = e.sib[lo:hi]
	}
	for i := range sib {
		s := &sib[i]
		shared, ok := 0, true
		e.foldBuf = e.foldBuf[:0]
		s.attrs.Range(func(k string, v pcommon.Value) bool {
			if lv, has := rec.labels[k]; has {
				if lv != attrString(v) {
					ok = false
					return false
				}
				shared++
				return true
			}
			e.foldBuf = append(e.foldBuf, cleanLabel(attrString(v)))
			return true
		})
		if !ok || shared == 0 {
			continue
		}
		key := e.valueKey(s.name, e.foldBuf)
		if rec.values == nil {
			rec.values = make(map[string]float64, 4)
		}
		if _, exists := rec.values[key]; !exists && len(rec.values) >= e.cfg.MaxValuesPerAlert {
			e.tel.valueDropped()
			continue
		}
		rec.values[key] = s.value
	}
}

// maxInternedKeys bounds the value-key cache; past it keys are built on each use.
const maxInternedKeys = 4096

func (e *alertExporter) valueKey(name string, fold []string) string {
	if len(fold) == 0 {
		return name
	}
	h := fnvString(fnvOffset, name)
	for _, f := range fold {
		h = fnvString(h, f)
	}
	if k, ok := e.keys[h]; ok {
		return k
	}
	k := name + "_" + strings.Join(fold, "_")
	if len(e.keys) < maxInternedKeys {
		e.keys[h] = k
	}
	return k
}

// attach puts a newly firing alert into the groups of the routes it matches. Called with e.mu held.
func (e *alertExporter) attach(rec *alertRec, now time.Time) {
	if len(rec.groups) > 0 {
		return
	}
	for _, r := range e.root.match(rec.labels) {
		gl := r.groupLabels(rec.labels)
		key := groupKey(r, gl)
		g := e.groups[key]
		if g == nil {
			g = &aggrGroup{key: key, route: r, labels: gl, alerts: map[uint64]*alertRec{}, next: now.Add(r.groupWait)}
			e.groups[key] = g
		}
		g.alerts[rec.fp] = rec
		rec.groups = append(rec.groups, g)
	}
}
