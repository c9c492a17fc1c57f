package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
	"github.com/otelcol-amas/otelcol-amas/internal/spanindex"
)

// Span attributes written on the spans of an operation with a firing regression.
const (
	markDetected          = "regression.detected"
	markType              = "regression.type"
	markLatencyRatio      = "regression.latency_ratio"
	markBaselineErrorRate = "regression.baseline_error_rate"
	markCurrentErrorRate  = "regression.current_error_rate"
	markErrorRateRatio    = "regression.error_rate_ratio"
	markBaselineCost      = "regression.baseline_cost_usd"
	markCurrentCost       = "regression.current_cost_usd"
	markCostRatio         = "regression.cost_ratio"
)

// logEvery is the shortest interval between two debug logs about the same kind of bad input.
const logEvery = time.Minute

// regressionProcessor is the one instance shared by every pipeline the component ID appears in.
type regressionProcessor struct {
	cfg      *Config
	id       component.ID
	logger   *zap.Logger
	tel      *telemetry
	keyParts [][]string
	// agentAlt[j] is the position of agentAttribute among the alternatives of key part j (-1:
	// none): that alternative is resolved from the nearest ancestor when the span lacks it.
	agentAlt []int
	costKey  string
	// instance is the sanitized instance label (name, value), instance[0] == "" when off.
	instance [2]string
	// clock is clockwork's: the real clock in the collector, a fake one in tests (ticks and
	// windows without sleeping).
	clock clockwork.Clock

	mu          sync.Mutex
	tr          *tracker
	index       spanindex.Index    // the batch's span index, built when a span needs its agent
	alertSeries alertstate.Tracker // ends the amas_alerts series a tick stops writing
	metricsNext []consumer.Metrics
	lastSkipLog time.Time
	// sanitized counts operation label parts truncated or with replaced control characters
	// (under mu; recorded after the batch, never a metric call per span).
	sanitized       [2]int64
	lastCheckpoint  time.Time
	checkpointBuf   []byte
	reportedEvicted int64
	reportedFired   [numKinds]int64
	reportedAuto    int64
	reportedManual  int64
	lastEval        time.Time // for Status

	client  storage.Client
	stop    chan struct{}
	done    chan struct{}
	started bool
}

func newRegressionProcessor(set processor.Settings, cfg *Config, clock clockwork.Clock) (*regressionProcessor, error) {
	tel, err := newTelemetry(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &regressionProcessor{
		cfg:      cfg,
		id:       set.ID,
		logger:   set.Logger,
		tel:      tel,
		keyParts: cfg.keyParts(),
		costKey:  cfg.Cost.Attribute,
		clock:    clock,
		tr:       newTracker(cfg),
	}
	if v := cfg.InstanceLabel.Value; v != "" {
		v, _ = safelabel.Sanitize(v, cfg.MaxLabelLength)
		p.instance = [2]string{cfg.InstanceLabel.Name, v}
	}
	for _, alts := range p.keyParts {
		at := -1
		for a, name := range alts {
			if name == agentAttribute {
				at = a
				break
			}
		}
		p.agentAlt = append(p.agentAlt, at)
	}
	return p, nil
}

func (p *regressionProcessor) now() time.Time { return p.clock.Now() }

// addMetricsConsumer registers the next consumer of a metrics pipeline: each tick's metrics go
// to every metrics pipeline the processor sits in.
func (p *regressionProcessor) addMetricsConsumer(next consumer.Metrics) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.metricsNext = append(p.metricsNext, next)
}

// Start restores the checkpoint, applies the configured baseline resets and starts the tick.
func (p *regressionProcessor) Start(ctx context.Context, host component.Host) error {
	if p.cfg.Storage != nil {
		ext, ok := host.GetExtensions()[*p.cfg.Storage]
		if !ok {
			return errors.New("storage: extension " + p.cfg.Storage.String() + " is not configured in the service")
		}
		se, ok := ext.(storage.Extension)
		if !ok {
			return errors.New("storage: extension " + p.cfg.Storage.String() + " is not a storage extension")
		}
		client, err := se.GetClient(ctx, component.KindProcessor, p.id, "")
		if err != nil {
			return errors.New("storage: cannot get a client from " + p.cfg.Storage.String() + ": " + err.Error())
		}
		p.client = client
		p.restore(ctx)
	}
	now := p.now()
	p.mu.Lock()
	if done := p.tr.applyResets(p.cfg.BaselineResets, now.UnixNano()); len(done) > 0 {
		p.logger.Info("Baselines reset by configuration", zap.Strings("operations", done))
	}
	p.reportCountersLocked()
	p.lastCheckpoint = now
	p.mu.Unlock()

	p.stop = make(chan struct{})
	p.done = make(chan struct{})
	p.started = true
	register(p.id, p)
	ticker := p.clock.NewTicker(p.cfg.EvaluationInterval)
	go func() {
		defer close(p.done)
		defer ticker.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-ticker.Chan():
				p.tick(context.Background())
			}
		}
	}()
	return nil
}

// Shutdown stops the tick and writes a last checkpoint.
func (p *regressionProcessor) Shutdown(ctx context.Context) error {
	unregister(p.id, p)
	if p.started {
		close(p.stop)
		<-p.done
		p.started = false
	}
	if p.client == nil {
		return nil
	}
	p.mu.Lock()
	buf := p.encodeLocked(p.now())
	p.mu.Unlock()
	err := p.save(ctx, buf)
	return errors.Join(err, p.client.Close(ctx))
}

// tick evaluates every operation, emits the metrics and alert states into the metrics
// pipelines, and checkpoints when due. It runs on its own goroutine, traffic or not.
func (p *regressionProcessor) tick(ctx context.Context) {
	now := p.now()
	p.mu.Lock()
	p.tr.evaluate(now.UnixNano())
	p.lastEval = now
	md := p.buildMetrics(now)
	next := p.metricsNext
	if md.DataPointCount() == 0 {
		next = nil
	}
	var buf []byte
	// Due within half a tick counts as due: an interval equal to the tick means every tick.
	if p.client != nil && now.Sub(p.lastCheckpoint)+p.cfg.EvaluationInterval/2 >= p.cfg.CheckpointInterval {
		buf = p.encodeLocked(now)
		p.lastCheckpoint = now
	}
	p.reportCountersLocked()
	p.mu.Unlock()

	for i, n := range next {
		out := md
		if i < len(next)-1 {
			out = pmetric.NewMetrics()
			md.CopyTo(out)
		}
		if err := n.ConsumeMetrics(alertstate.WithEmitter(ctx), out); err != nil {
			p.tel.emitErrors.Add(ctx, 1)
			p.logger.Debug("The next consumer refused the regression metrics", zap.Error(err))
		}
	}
	if buf != nil {
		_ = p.save(ctx, buf)
	}
}

func (p *regressionProcessor) reportCountersLocked() {
	ctx := context.Background()
	p.tel.operations.Record(ctx, int64(len(p.tr.ops)))
	if d := p.tr.evicted - p.reportedEvicted; d > 0 {
		p.tel.evicted.Add(ctx, d)
		p.reportedEvicted = p.tr.evicted
	}
	for k := range numKinds {
		if d := p.tr.fired[k] - p.reportedFired[k]; d > 0 {
			p.tel.fired.Add(ctx, d, p.tel.firedType[k])
			p.reportedFired[k] = p.tr.fired[k]
		}
	}
	if d := p.tr.rebaselinedAuto - p.reportedAuto; d > 0 {
		p.tel.rebaselines.Add(ctx, d, p.tel.rebaselineAuto)
		p.reportedAuto = p.tr.rebaselinedAuto
	}
	if d := p.tr.rebaselinedManual - p.reportedManual; d > 0 {
		p.tel.rebaselines.Add(ctx, d, p.tel.rebaselineManual)
		p.reportedManual = p.tr.rebaselinedManual
	}
}

// processMetrics passes metrics through: the regression processor only adds its own. A batch
// that no emitter marked (it came from a receiver) loses its amas_alerts, amas_slo_* and
// amas_performance_regression* points, so nobody outside can raise, change or resolve an alert
// (alertstate's provenance rule); the slo processor's marked output passes.
func (p *regressionProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	if alertstate.FromEmitter(ctx) {
		return md, nil
	}
	out, dropped := alertstate.StripReserved(md)
	if dropped > 0 {
		p.tel.forged.Add(ctx, int64(dropped))
		if out.MetricCount() == 0 {
			return out, processorhelper.ErrSkipProcessingData
		}
	}
	return out, nil
}

// processTraces is the hot path: one lock per batch, no allocation per span once the
// operations exist, marks written in place on the spans of regressed operations.
func (p *regressionProcessor) processTraces(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	var badDuration, badCost int64
	nowT := p.now()
	now := nowT.UnixNano()

	p.mu.Lock()
	tr := p.tr
	tr.nextBatch()
	e := now / tr.curDur
	var parts [maxKeyParts]string
	var resVals [maxKeyParts]string
	var resAlt [maxKeyParts]int
	var resHash [maxKeyParts]uint64 // of resVals, once per resource
	var lastOp *operation
	var lastHash uint64
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		for j, alts := range p.keyParts {
			resAlt[j] = -1
			for a, name := range alts {
				if v, ok := res.Get(name); ok {
					resVals[j], resAlt[j] = valueString(v), a
					resHash[j] = xxhash.Sum64String(resVals[j])
					break
				}
			}
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				start, end := span.StartTimestamp(), span.EndTimestamp()
				if start == 0 || end < start {
					badDuration++
					continue
				}
				attrs := span.Attributes()
				hash := p.operationKey(td, span, attrs, &resVals, &resAlt, &resHash, &parts)
				op := lastOp
				if op == nil || hash != lastHash {
					// Spans of one operation tend to arrive together: the previous span's
					// operation is already stamped with this batch, so skip the map.
					if op = tr.get(hash); op == nil {
						op = p.operationOf(tr, &parts, now)
					}
					lastOp, lastHash = op, hash
				}
				cost, hasCost := 0.0, false
				if tr.cfg.Cost.Enabled {
					if v, ok := attrs.Get(p.costKey); ok {
						switch v.Type() {
						case pcommon.ValueTypeDouble:
							cost, hasCost = v.Double(), true
						case pcommon.ValueTypeInt:
							cost, hasCost = float64(v.Int()), true
						}
						if hasCost && !(cost >= 0 && cost <= tr.cfg.Cost.MaxPerSpan) {
							badCost++
							hasCost = false
						}
						if hasCost && op.costCap > 0 && cost > op.costCap {
							cost = op.costCap
						}
					}
				}
				isErr := span.Status().Code() == ptrace.StatusCodeError
				tr.record(op, e, float64(end-start)/1e9, isErr, cost, hasCost)
				if op.firing && p.cfg.MarkSpans {
					p.mark(op, attrs)
				}
			}
		}
	}
	p.index.Reset()
	sanitized := p.sanitized
	p.sanitized = [2]int64{}
	logSkips := (badDuration > 0 || badCost > 0) && nowT.Sub(p.lastSkipLog) >= logEvery
	if logSkips {
		p.lastSkipLog = nowT
	}
	p.mu.Unlock()

	if badDuration > 0 {
		p.tel.skipped.Add(context.Background(), badDuration, p.tel.skipDuration)
	}
	for i, n := range sanitized {
		if n > 0 {
			p.tel.sanitized.Add(context.Background(), n, p.tel.sanitizedAction[i])
		}
	}
	if badCost > 0 {
		p.tel.skipped.Add(context.Background(), badCost, p.tel.skipCost)
	}
	if logSkips {
		p.logger.Debug("Skipped malformed span values (rate-limited log)",
			zap.Int64("invalid_duration", badDuration), zap.Int64("invalid_cost", badCost), zap.String("cost_attribute", p.costKey))
	}
	return td, nil
}

// operationKey fills parts with the key's values as the span carries them and returns their
// hash (of the present parts, in order). For the values every well-behaved client sends (short,
// printable) this is the operation's identity, which operationOf defines over the sanitized
// values: the two agree, so the hot path skips sanitizing; a value that sanitizing would change
// misses the map and takes operationOf.
func (p *regressionProcessor) operationKey(td ptrace.Traces, span ptrace.Span, attrs pcommon.Map, resVals *[maxKeyParts]string, resAlt *[maxKeyParts]int, resHash *[maxKeyParts]uint64, parts *[maxKeyParts]string) uint64 {
	h := uint64(hashSeed)
	for j, alts := range p.keyParts {
		val, fromResource := "", false
	alt:
		for a, name := range alts {
			if v, ok := attrs.Get(name); ok {
				val = valueString(v)
				break
			}
			if a == p.agentAlt[j] {
				if val = p.ancestorAgent(td, span); val != "" {
					break
				}
			}
			switch {
			case a == resAlt[j]:
				val, fromResource = resVals[j], true
				break alt
			case name == spanNameAlternative:
				val = span.Name()
				break alt
			}
		}
		switch {
		case fromResource && val != "":
			h = mixHash(h, resHash[j])
		case val != "":
			h = mixHash(h, xxhash.Sum64String(val))
		}
		parts[j] = val
	}
	return h
}

// operationOf finds or adds the operation of parts (as operationKey filled them) by its
// identity: the hash of the parts made safe by safelabel, so that a label, a checkpoint entry and
// an alert label never carry more than max_label_length bytes or a control character, and values
// that differ only past the cut are one operation. Called when the hash of the raw parts is not
// in the map: a new operation, or a value that sanitizing changes (counted here, every time).
func (p *regressionProcessor) operationOf(tr *tracker, parts *[maxKeyParts]string, now int64) *operation {
	h := uint64(hashSeed)
	for j := range p.keyParts {
		val := parts[j]
		if val == "" {
			continue
		}
		var res safelabel.Result
		if val, res = safelabel.Sanitize(val, p.cfg.MaxLabelLength); res != 0 {
			p.countSanitized(res)
			parts[j] = val
		}
		h = mixHash(h, xxhash.Sum64String(val))
	}
	if op := tr.get(h); op != nil {
		return op
	}
	return tr.add(h, joinParts(parts, len(p.keyParts)), now)
}

// countSanitized notes what safelabel changed in a label part (called with p.mu held).
func (p *regressionProcessor) countSanitized(res safelabel.Result) {
	if res.Has(safelabel.Truncated) {
		p.sanitized[0]++
	}
	if res.Has(safelabel.Replaced) {
		p.sanitized[1]++
	}
}

// agentAttribute is the agent name of the GenAI conventions. A span without it (a model or tool
// span) belongs to the agent of its nearest ancestor that has it, the rule of the
// amas_spanmetrics connector, when that ancestor is in the same batch.
const agentAttribute = "gen_ai.agent.name"

func spanAgentName(s ptrace.Span) string {
	if v, ok := s.Attributes().Get(agentAttribute); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

// ancestorAgent is the agent name of the span's nearest ancestor in the batch that carries one.
func (p *regressionProcessor) ancestorAgent(td ptrace.Traces, span ptrace.Span) string {
	parent := span.ParentSpanID()
	if parent.IsEmpty() || p.cfg.MaxBatchIndexSpans == 0 {
		return ""
	}
	if !p.index.Built() {
		p.index.Build(td, p.cfg.MaxBatchIndexSpans)
	}
	agent, _, out := p.index.Walk(parent, false, spanAgentName)
	if out != spanindex.Found {
		return ""
	}
	return agent
}

const hashSeed = 0x243F6A8885A308D3

// mixHash folds a part's hash into the running one, order-sensitively.
func mixHash(h, part uint64) uint64 {
	return (bits.RotateLeft64(h, 27) ^ part) * 0x9E3779B97F4A7C15
}

func valueString(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString() // allocates; operation names are strings in practice
}

func joinParts(parts *[maxKeyParts]string, n int) string {
	var b strings.Builder
	for _, v := range parts[:n] {
		if v == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(v)
	}
	return b.String()
}

// mark writes the regression attributes on a span of a regressed operation.
func (p *regressionProcessor) mark(op *operation, attrs pcommon.Map) {
	attrs.PutBool(markDetected, true)
	attrs.PutStr(markType, op.types)
	if op.alerts[kindLatency].phase == phaseFiring {
		f := &op.fig[kindLatency]
		for i := range p.tr.quantiles {
			if !math.IsNaN(f.baseline[i]) {
				attrs.PutDouble(p.tr.qMarks[i][0], f.baseline[i]*1e3)
				attrs.PutDouble(p.tr.qMarks[i][1], f.current[i]*1e3)
			}
		}
		putFinite(attrs, markLatencyRatio, f.ratio)
	}
	if op.alerts[kindErrorRate].phase == phaseFiring {
		f := &op.fig[kindErrorRate]
		putFinite(attrs, markBaselineErrorRate, f.baseline[0])
		putFinite(attrs, markCurrentErrorRate, f.current[0])
		putFinite(attrs, markErrorRateRatio, f.ratio)
	}
	if op.alerts[kindCost].phase == phaseFiring {
		f := &op.fig[kindCost]
		putFinite(attrs, markBaselineCost, f.baseline[0])
		putFinite(attrs, markCurrentCost, f.current[0])
		putFinite(attrs, markCostRatio, f.ratio)
	}
}

func putFinite(attrs pcommon.Map, k string, v float64) {
	if finite(v) {
		attrs.PutDouble(k, v)
	}
}
