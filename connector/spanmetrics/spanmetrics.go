package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics/internal/metadata"
	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
	"github.com/otelcol-amas/otelcol-amas/internal/spanclass"
	"github.com/otelcol-amas/otelcol-amas/internal/spanindex"
)

const (
	labelAgent     = "agent"
	labelOperation = "operation"
	labelStatus    = "status"
	labelErrorType = "error_type"
	labelTool      = "tool"
	labelModel     = "model"
	labelTokenType = "token_type"
	labelQueue     = "queue"

	statusOK    = "ok"
	statusError = "error"

	errorTypeOther = "_OTHER"
	unknownValue   = "unknown"
	unknownService = "unknown_service"

	// overflowKey is the attribute of the overflow series, as in the OpenTelemetry Go SDK and
	// contrib's span_metrics.
	overflowKey = "otel.metric.overflow"
)

type spanClass uint8

const (
	classNone spanClass = iota
	classAgent
	classTool
	classModel
	classRule
)

// Metric names before the namespace; with the namespace `amas` and the stock prometheus
// exporter they become exactly the names of the AMAS contract (see README, "Names").
const (
	nameRequests     = "agent.requests"
	nameErrors       = "agent.errors"
	nameDuration     = "agent.duration"
	nameToolCalls    = "tool.calls"
	nameTokens       = "tokens.used"
	nameCost         = "cost.usd"
	nameActiveAgents = "active_agents.current"
	nameQueueDepth   = "queue_depth.current"
)

type gaugeValue struct {
	value    float64
	lastSeen pcommon.Timestamp
}

type requestRule struct {
	kind             ptrace.SpanKind
	requireAttribute string
	operationAttr    string
}

type dimension struct {
	name    string
	def     string
	hasDef  bool
	scratch []byte
}

type spanMetricsConnector struct {
	component.StartFunc
	cfg       *Config
	id        component.ID
	logger    *zap.Logger
	next      consumer.Metrics
	clock     clockwork.Clock
	telemetry *telemetry
	attTel    *attributionTelemetry
	// agentNameFn is c.spanAgentName, bound once (a method value made per batch would allocate).
	agentNameFn func(ptrace.Span) string

	// Classification, resolved once from the config.
	agentOps, toolOps, modelOps []string
	rules                       []requestRule
	dims                        []dimension
	profiles                    profiles
	prices                      priceTable
	histShape                   *histogramShape
	delta                       bool
	// zeroPoints: zero_points with cumulative temporality (see zeroPoint).
	zeroPoints bool

	lock sync.Mutex
	// Everything below is guarded by lock.
	requests, errors, tools, usage *store
	active                         map[string]*pcommon.Timestamp
	// lastActive is the entry of active that markActive touched last: consecutive spans of a
	// run name the same agent, and a string comparison is cheaper than a map lookup.
	lastActive           *pcommon.Timestamp
	lastActiveName       string
	queues               map[string]*gaugeValue
	queueOverflow        *gaugeValue
	unknownModels        map[string]struct{}
	services             map[string]*serviceStats
	agentSafe, modelSafe safeCache
	kb                   keyBuilder
	vals                 []string
	dimVals              []string
	index                spanindex.Index
	att                  attribution
	stats                batchStats
	// dirty: spans were aggregated since the last checkpoint was written.
	dirty bool
	// lastFlush is when the previous payload was built (the connector's creation before the
	// first): a stream not in it was 0 then.
	lastFlush pcommon.Timestamp

	storageClient storage.Client
	done          chan struct{}
	wg            sync.WaitGroup
	shutdownOnce  sync.Once
}

func newConnector(set connector.Settings, cfg *Config, clock clockwork.Clock, next consumer.Metrics) (*spanMetricsConnector, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	tel, err := newTelemetry(tb)
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	attTel := newAttributionTelemetry(tb)
	c := &spanMetricsConnector{
		cfg:           cfg,
		id:            set.ID,
		logger:        set.Logger,
		next:          next,
		clock:         clock,
		telemetry:     tel,
		attTel:        attTel,
		agentOps:      cfg.Operations.Agent,
		toolOps:       cfg.Operations.Tool,
		modelOps:      cfg.Operations.Model,
		prices:        priceTable(cfg.Pricing.Models),
		delta:         cfg.AggregationTemporality == temporalityDelta,
		zeroPoints:    cfg.ZeroPoints && cfg.AggregationTemporality != temporalityDelta,
		active:        make(map[string]*pcommon.Timestamp),
		queues:        make(map[string]*gaugeValue),
		unknownModels: make(map[string]struct{}),
		services:      make(map[string]*serviceStats),
		done:          make(chan struct{}),
		lastFlush:     pcommon.NewTimestampFromTime(clock.Now()),
	}
	c.profiles = newProfiles(cfg)
	for _, r := range cfg.RequestRules {
		kind, _ := parseSpanKind(r.SpanKind)
		c.rules = append(c.rules, requestRule{kind: kind, requireAttribute: r.RequireAttribute, operationAttr: r.OperationAttribute})
	}
	dimNames := make([]string, 0, len(cfg.Dimensions))
	for _, d := range cfg.Dimensions {
		dim := dimension{name: d.Name, scratch: make([]byte, 0, 32)}
		if d.Default != nil {
			dim.def, dim.hasDef = *d.Default, true
		}
		c.dims = append(c.dims, dim)
		dimNames = append(dimNames, d.Name)
	}
	if cfg.Histogram.Type == "exponential" {
		c.histShape = &histogramShape{expoMaxSize: cfg.Histogram.Exponential.MaxSize}
	} else {
		bounds := make([]float64, len(cfg.Histogram.Explicit.Buckets))
		for i, b := range cfg.Histogram.Explicit.Buckets {
			bounds[i] = b.Seconds()
		}
		c.histShape = &histogramShape{bounds: bounds, zeros: make([]uint64, len(bounds)+1)}
	}
	exemplars := 0
	if cfg.Exemplars.Enabled {
		exemplars = cfg.Exemplars.MaxPerDataPoint
	}
	labels := func(fixed ...string) []string { return append(fixed, dimNames...) }
	limit := cfg.AggregationCardinalityLimit
	c.requests = newStore(labels(labelAgent, labelOperation, labelStatus), 3, limit, c.histShape, exemplars)
	c.errors = newStore(labels(labelAgent, labelOperation, labelErrorType), 3, limit, nil, 0)
	c.tools = newStore(labels(labelAgent, labelTool, labelStatus), 3, limit, nil, 0)
	c.usage = newStore(labels(labelAgent, labelModel), 2, limit, nil, 0)
	c.vals = make([]string, 0, 3+len(dimNames))
	c.dimVals = make([]string, len(c.dims))
	c.agentNameFn = c.spanAgentName
	c.att.init(cfg.AttributionWait, cfg.AttributionMaxPending, len(c.dims))
	return c, nil
}

// Start restores the checkpoint (when storage is configured) and starts the flush loop.
func (c *spanMetricsConnector) Start(ctx context.Context, host component.Host) error {
	if c.cfg.Storage != nil {
		if err := c.openStorage(ctx, host); err != nil {
			return err
		}
		c.restore(ctx)
	}
	spanclass.Running.Register(c.id, c)
	c.wg.Add(1)
	go c.loop()
	return nil
}

func (c *spanMetricsConnector) loop() {
	defer c.wg.Done()
	flush := c.clock.NewTicker(c.cfg.MetricsFlushInterval)
	defer flush.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-flush.Chan():
			c.flush(context.Background())
		}
	}
}

// Shutdown stops the loop, sends the last metrics and saves the last checkpoint.
func (c *spanMetricsConnector) Shutdown(ctx context.Context) error {
	var err error
	c.shutdownOnce.Do(func() {
		spanclass.Running.Unregister(c.id, c)
		close(c.done)
		c.wg.Wait()
		// Held contributions are not checkpointed: they are counted under their service now, so
		// the totals survive the restart (README, "Agent attribution across batches").
		c.lock.Lock()
		if c.settleAllPending(pcommon.NewTimestampFromTime(c.clock.Now())) {
			c.dirty = true
		}
		att, pending, attChanged := c.takeAttributionStats()
		c.lock.Unlock()
		if attChanged {
			c.attTel.record(ctx, &att, pending)
		}
		// The metrics pipeline shuts down after this connector: the last interval is not lost.
		// The flush also writes the last checkpoint.
		c.flush(ctx)
		if c.storageClient != nil {
			err = c.storageClient.Close(ctx)
			c.storageClient = nil
		}
		c.telemetry.shutdown()
	})
	return err
}

func (*spanMetricsConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeTraces aggregates the batch under the lock; metrics leave on the flush interval.
func (c *spanMetricsConnector) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	now := pcommon.NewTimestampFromTime(c.clock.Now())
	c.lock.Lock()
	c.aggregate(td, now)
	c.dirty = true
	stats := c.stats
	c.stats = batchStats{}
	att, pending, attChanged := c.takeAttributionStats()
	c.telemetry.activeSeries.Store(int64(c.seriesCount()))
	c.lock.Unlock()
	c.telemetry.record(ctx, &stats)
	if attChanged {
		c.attTel.record(ctx, &att, pending)
	}
	return nil
}

func (c *spanMetricsConnector) seriesCount() int {
	return c.requests.len() + c.requests.zeroSiblings + c.errors.len() + c.tools.len() + c.tools.zeroSiblings +
		c.usage.len() + len(c.active) + len(c.queues)
}

func (c *spanMetricsConnector) aggregate(td ptrace.Traces, now pcommon.Timestamp) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		service := c.safe(strAttr(res, c.cfg.Attributes.ServiceName))
		if service == "" {
			service = unknownService
		}
		svc := c.serviceOf(service, now)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				c.consumeSpan(td, spans.At(k), res, service, svc, now)
			}
		}
	}
	if len(c.att.waiting) > 0 {
		c.settleArrivals(td, now)
	}
	c.index.Reset()
	c.agentSafe, c.modelSafe = safeCache{}, safeCache{}
}

func (c *spanMetricsConnector) consumeSpan(td ptrace.Traces, span ptrace.Span, res pcommon.Map, service string, svc *serviceStats, now pcommon.Timestamp) {
	c.stats.spans++
	attrs := span.Attributes()
	if v, ok := attrs.Get(c.cfg.QueueDepth.Attribute); ok {
		c.recordQueueDepth(attrs, v, now)
	}

	info := c.classifySpan(span, attrs)
	class, operation := info.class, info.operation
	if class == classNone {
		var ok bool
		if operation, ok = c.matchRule(span, attrs); !ok {
			c.noteUnclassified(svc, attrs, info.reason)
			return
		}
		class = classRule
		// A profile's operation is a configured or built-in name; a rule's comes from the span.
		operation = c.safe(operation)
	}
	if svc != nil {
		svc.classified++
		svc.winClassified++
	}

	start, end := span.StartTimestamp(), span.EndTimestamp()
	if start == 0 || end < start {
		c.stats.skipped[skipInvalidTimestamps]++
		return
	}
	d := time.Duration(end - start)
	if d > c.cfg.Limits.MaxSpanDuration {
		c.stats.skipped[skipDurationTooLong]++
		return
	}

	var ct contribution
	ct.class, ct.operation, ct.service = class, operation, service
	ct.traceID, ct.spanID, ct.end, ct.seconds = span.TraceID(), span.SpanID(), end, d.Seconds()
	ct.isError = span.Status().Code() == ptrace.StatusCodeError
	if ct.isError {
		ct.errorType = c.safe(c.errorType(span, attrs))
	}
	switch class {
	case classTool:
		ct.tool = c.safe(c.toolName(span, attrs, info.profile))
	case classModel:
		c.usageOf(attrs, &ct, &c.profiles.attrs[info.profile])
	}
	for i := range c.dims {
		c.dimVals[i] = c.safe(c.dimValue(&c.dims[i], attrs, res))
	}
	ct.dims = c.dimVals

	agent, missing := c.agentOf(td, span, c.ownAgentName(span, attrs, info), service)
	if agent == "" {
		c.hold(&ct, span.TraceID(), span.SpanID(), missing, now)
		return
	}
	c.count(&ct, c.safeCached(&c.agentSafe, agent), now)
}

// series fills the reused label slice (fixed labels, then the extra dimension values) and returns
// the series of the store, counting overflow.
func (c *spanMetricsConnector) series(s *store, ov overflowMetric, now pcommon.Timestamp, dims []string, fixed ...string) *series {
	c.vals = append(c.vals[:0], fixed...)
	if len(dims) > 0 {
		c.vals = append(c.vals, dims...)
	}
	sr, overflowed := s.get(&c.kb, c.vals, now)
	if overflowed {
		c.stats.overflowed[ov]++
	}
	return sr
}

func classify(op string, agentOps, toolOps, modelOps []string) spanClass {
	if op == "" {
		return classNone
	}
	for _, o := range agentOps {
		if o == op {
			return classAgent
		}
	}
	for _, o := range toolOps {
		if o == op {
			return classTool
		}
	}
	for _, o := range modelOps {
		if o == op {
			return classModel
		}
	}
	return classNone
}

func (c *spanMetricsConnector) matchRule(span ptrace.Span, attrs pcommon.Map) (string, bool) {
	for i := range c.rules {
		r := &c.rules[i]
		if span.Kind() != r.kind {
			continue
		}
		if r.requireAttribute != "" {
			if _, ok := attrs.Get(r.requireAttribute); !ok {
				continue
			}
		}
		if r.operationAttr != "" {
			if op := strAttr(attrs, r.operationAttr); op != "" {
				return op, true
			}
		}
		return span.Name(), true
	}
	return "", false
}

// errorType is error.type, else the type of an exception event, else _OTHER.
func (c *spanMetricsConnector) errorType(span ptrace.Span, attrs pcommon.Map) string {
	if t := strAttr(attrs, c.cfg.Attributes.ErrorType); t != "" {
		return t
	}
	events := span.Events()
	for i := 0; i < events.Len(); i++ {
		ev := events.At(i)
		if ev.Name() != "exception" {
			continue
		}
		if t := strAttr(ev.Attributes(), c.cfg.Attributes.ExceptionType); t != "" {
			return t
		}
	}
	return errorTypeOther
}

// usageOf reads the tokens and cost of a model span into ct (hasUsage when it carries either).
func (c *spanMetricsConnector) usageOf(attrs pcommon.Map, ct *contribution, pa *profileAttrs) {
	var tokens [numTokenTypes]uint64
	var seen uint8
	for t, names := range pa.tokens {
		v, ok := firstAttr(attrs, names)
		if !ok {
			continue
		}
		n, ok := tokenValue(v, c.cfg.Limits.MaxTokensPerSpan)
		if !ok {
			c.stats.skipped[skipInvalidTokens]++
			continue
		}
		tokens[t] = n
		seen |= 1 << t
	}
	costVal, hasCostAttr := attrs.Get(c.cfg.Attributes.Cost)
	if seen == 0 && !hasCostAttr {
		return
	}
	ct.hasUsage, ct.tokens, ct.tokenSeen = true, tokens, seen

	model, alt := modelNames(attrs, pa.model)
	if model == "" {
		model = unknownValue
	}
	model = c.safeCached(&c.modelSafe, model)
	ct.model = model

	if hasCostAttr {
		if cost, ok := numberValue(costVal); ok && cost >= 0 && cost <= c.cfg.Limits.MaxCostPerSpan {
			ct.cost, ct.costSeen = cost, true
		} else {
			c.stats.skipped[skipInvalidCost]++
		}
		return
	}
	price, ok := c.prices.lookup(model)
	if !ok && alt != "" {
		price, ok = c.prices.lookup(alt)
	}
	if !ok {
		c.unknownModel(model)
		return
	}
	ct.cost, ct.costSeen = costUSD(price, tokens[0], tokens[1], tokens[2]), true
}

// unknownModel counts a span whose model has no price and warns once per model name (the set of
// names is bounded by pricing.unknown_models_limit).
func (c *spanMetricsConnector) unknownModel(model string) {
	c.stats.unknownModels++
	if _, ok := c.unknownModels[model]; ok || len(c.unknownModels) >= c.cfg.Pricing.UnknownModelsLimit {
		return
	}
	model = strings.Clone(model)
	c.unknownModels[model] = struct{}{}
	c.logger.Warn("Model has no price in pricing.models: its spans add tokens but no cost",
		zap.String("model", model))
}

func (c *spanMetricsConnector) markActive(agent string, now pcommon.Timestamp) {
	if c.lastActive != nil && agent == c.lastActiveName {
		*c.lastActive = now
		return
	}
	if seen, ok := c.active[agent]; ok {
		*seen = now
		c.lastActive, c.lastActiveName = seen, agent
		return
	}
	if len(c.active) >= c.cfg.AggregationCardinalityLimit {
		c.stats.overflowed[ovActiveAgents]++
		return
	}
	seen := new(pcommon.Timestamp)
	*seen = now
	name := strings.Clone(agent)
	c.active[name] = seen
	c.lastActive, c.lastActiveName = seen, name
}

func (c *spanMetricsConnector) recordQueueDepth(attrs pcommon.Map, v pcommon.Value, now pcommon.Timestamp) {
	depth, ok := numberValue(v)
	if !ok || depth < 0 || depth > c.cfg.Limits.MaxQueueDepth {
		c.stats.skipped[skipInvalidQueueDepth]++
		return
	}
	queue := c.safe(strAttr(attrs, c.cfg.QueueDepth.QueueAttribute))
	if queue == "" {
		queue = c.cfg.QueueDepth.DefaultQueue
	}
	g := c.queues[queue]
	if g == nil {
		if len(c.queues) >= c.cfg.AggregationCardinalityLimit {
			c.stats.overflowed[ovQueues]++
			if c.queueOverflow == nil {
				c.queueOverflow = &gaugeValue{}
			}
			g = c.queueOverflow
		} else {
			g = &gaugeValue{}
			c.queues[strings.Clone(queue)] = g
		}
	}
	g.value = depth
	g.lastSeen = now
}

// safe makes a label value taken from telemetry safe (limits.max_label_length, no control
// characters), counting what changed; an already safe value is returned without allocating.
func (c *spanMetricsConnector) safe(v string) string {
	out, res := safelabel.Sanitize(v, c.cfg.Limits.MaxLabelLength)
	c.countSanitized(res)
	return out
}

func (c *spanMetricsConnector) countSanitized(res safelabel.Result) {
	if res != 0 {
		if res.Has(safelabel.Truncated) {
			c.stats.sanitized[sanitizeTruncated]++
		}
		if res.Has(safelabel.Replaced) {
			c.stats.sanitized[sanitizeReplaced]++
		}
	}
}

// safeCache remembers the last value made safe at one call site: consecutive spans of a run
// repeat their agent and model, and a string comparison is cheaper than the check. It holds
// strings of the current batch only (reset at the end of each batch).
type safeCache struct {
	raw, out string
	res      safelabel.Result
}

func (c *spanMetricsConnector) safeCached(sc *safeCache, v string) string {
	if v != sc.raw || v == "" {
		sc.out, sc.res = safelabel.Sanitize(v, c.cfg.Limits.MaxLabelLength)
		sc.raw = v
	}
	c.countSanitized(sc.res)
	return sc.out
}

// firstAttr is the first attribute of names that is present.
func firstAttr(m pcommon.Map, names []string) (pcommon.Value, bool) {
	for _, n := range names {
		if v, ok := m.Get(n); ok {
			return v, true
		}
	}
	return pcommon.Value{}, false
}

func strAttr(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

// tokenValue accepts a non-negative integer (int, integral double, or numeric string) ≤ limit.
func tokenValue(v pcommon.Value, limit int64) (uint64, bool) {
	var n int64
	switch v.Type() {
	case pcommon.ValueTypeInt:
		n = v.Int()
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || f < 0 || f > float64(limit) {
			return 0, false
		}
		n = int64(f)
	case pcommon.ValueTypeStr:
		var err error
		if n, err = strconv.ParseInt(v.Str(), 10, 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if n < 0 || n > limit {
		return 0, false
	}
	return uint64(n), true
}

// numberValue accepts a finite int, double or numeric string.
func numberValue(v pcommon.Value) (float64, bool) {
	var f float64
	switch v.Type() {
	case pcommon.ValueTypeInt:
		f = float64(v.Int())
	case pcommon.ValueTypeDouble:
		f = v.Double()
	case pcommon.ValueTypeStr:
		var err error
		if f, err = strconv.ParseFloat(v.Str(), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// dimValue reads an extra dimension from the span, else the resource, else its default. Non-string
// values are formatted into the dimension's own scratch buffer, so no allocation happens per span;
// the returned string is only valid until the next span (series creation clones it).
func (c *spanMetricsConnector) dimValue(d *dimension, attrs, res pcommon.Map) string {
	v, ok := attrs.Get(d.name)
	if !ok {
		v, ok = res.Get(d.name)
	}
	if !ok {
		return d.def
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		d.scratch = strconv.AppendInt(d.scratch[:0], v.Int(), 10)
	case pcommon.ValueTypeDouble:
		d.scratch = strconv.AppendFloat(d.scratch[:0], v.Double(), 'g', -1, 64)
	case pcommon.ValueTypeBool:
		d.scratch = strconv.AppendBool(d.scratch[:0], v.Bool())
	case pcommon.ValueTypeEmpty:
		return d.def
	default:
		return v.AsString()
	}
	if len(d.scratch) == 0 {
		return ""
	}
	return unsafe.String(&d.scratch[0], len(d.scratch))
}

func parseSpanKind(s string) (ptrace.SpanKind, bool) {
	switch s {
	case spanKindServer:
		return ptrace.SpanKindServer, true
	case spanKindClient:
		return ptrace.SpanKindClient, true
	case spanKindInternal:
		return ptrace.SpanKindInternal, true
	case spanKindProducer:
		return ptrace.SpanKindProducer, true
	case spanKindConsumer:
		return ptrace.SpanKindConsumer, true
	}
	return ptrace.SpanKindUnspecified, false
}

// flush builds the payload under the lock and sends it after unlocking. With storage, the
// state it sends is checkpointed first (when spans arrived since the last checkpoint): the
// checkpoint always holds at least what Prometheus may have scraped, so a restart after a crash
// continues every counter from a value no lower than its last exported one. A checkpoint older
// than the last flush would make the counters go down at restart, which Prometheus reads as a
// reset and counts the whole restored value as new increase: the traffic spike checkpointing is
// meant to prevent.
func (c *spanMetricsConnector) flush(ctx context.Context) {
	c.lock.Lock()
	now := pcommon.NewTimestampFromTime(c.clock.Now())
	if c.expirePending(now) {
		c.dirty = true
	}
	att, pending, attChanged := c.takeAttributionStats()
	md := c.buildMetrics(now)
	var checkpoint []byte
	if c.storageClient != nil && c.dirty {
		checkpoint = c.encodeCheckpoint()
		c.dirty = false
	}
	warns := c.checkUnclassified(pcommon.NewTimestampFromTime(c.clock.Now()))
	c.telemetry.activeSeries.Store(int64(c.seriesCount()))
	c.lock.Unlock()
	c.logUnclassified(warns)
	if attChanged {
		c.attTel.record(ctx, &att, pending)
	}
	if checkpoint != nil && !c.writeCheckpoint(ctx, checkpoint) {
		c.lock.Lock()
		c.dirty = true // retried at the next flush
		c.lock.Unlock()
	}
	if md.DataPointCount() == 0 {
		return
	}
	if err := c.next.ConsumeMetrics(ctx, md); err != nil {
		c.logger.Debug("Sending span metrics failed", zap.Error(err))
	}
}

func (c *spanMetricsConnector) metricName(n string) string { return c.cfg.Namespace + "." + n }

// zeroPoint marks the stream of sr named by bit as sent and reports whether its first value,
// sent now, goes after a 0 point, and that point's time. Prometheus' increase() counts the rises
// between a series' samples, never its first sample's value: a counter first seen at 7 has
// counted nothing, and a remote-written stream whose first flush holds a whole burst (a new
// agent, a quiet service whose series expired, a service that moved to this replica) would be
// missing from every rule. A scrape shows only the latest point, so the 0 helps remote write
// (and the slo processor's ratio SLIs, which take a stream's first point as its baseline).
//
// The 0 point is at the latest time the stream is known to have been 0: its start, or the
// previous flush for a token or cost stream that appeared later (within one flush interval of
// now, so Prometheus does not refuse it as too old). Only a stream's first flush gets one: a
// 0 older than samples Prometheus holds would be out of order, and Prometheus refuses a whole
// remote-write request for one such sample. A series restored from a checkpoint, or a zero
// sibling that became a series, has been sent before (shown). Prometheus stores milliseconds:
// a 0 in the same millisecond as the value would collide with it, so none is sent then.
func (c *spanMetricsConnector) zeroPoint(sr *series, bit uint8, now pcommon.Timestamp) (pcommon.Timestamp, bool) {
	if sr.shown&bit != 0 {
		return 0, false
	}
	sr.shown |= bit
	at := max(sr.start, c.lastFlush)
	if !c.zeroPoints || at/1e6 >= now/1e6 {
		return 0, false
	}
	return at, true
}

func (c *spanMetricsConnector) buildMetrics(now pcommon.Timestamp) pmetric.Metrics {
	if exp := c.cfg.SeriesExpiration; exp > 0 {
		cutoff := now - pcommon.Timestamp(exp.Nanoseconds())
		for _, s := range []*store{c.requests, c.errors, c.tools, c.usage} {
			s.expire(&c.kb, cutoff)
		}
		for q, g := range c.queues {
			if g.lastSeen < cutoff {
				delete(c.queues, q)
			}
		}
		if c.queueOverflow != nil && c.queueOverflow.lastSeen < cutoff {
			c.queueOverflow = nil
		}
	}

	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	ms := sm.Metrics()
	temporality := pmetric.AggregationTemporalityCumulative
	if c.delta {
		temporality = pmetric.AggregationTemporalityDelta
	}
	emit := func(sr *series) bool { return !c.delta || sr.updated }

	newSum := func(name, unit string) pmetric.Sum {
		m := ms.AppendEmpty()
		m.SetName(c.metricName(name))
		m.SetUnit(unit)
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(temporality)
		return sum
	}
	countSum := func(s *store, name, unit string) {
		if s.len() == 0 {
			return
		}
		dps := newSum(name, unit).DataPoints()
		s.each(func(sr *series) {
			if !emit(sr) {
				return
			}
			if at, ok := c.zeroPoint(sr, shownCount, now); ok {
				dp := dps.AppendEmpty()
				sr.attrs.CopyTo(dp.Attributes())
				dp.SetStartTimestamp(sr.start)
				dp.SetTimestamp(at)
				dp.SetIntValue(0)
			}
			dp := dps.AppendEmpty()
			sr.attrs.CopyTo(dp.Attributes())
			dp.SetStartTimestamp(sr.start)
			dp.SetTimestamp(now)
			dp.SetIntValue(int64(sr.count))
			if sr.sib == sibZero {
				dp := dps.AppendEmpty()
				s.zeroSiblingAttrs(sr, dp.Attributes())
				dp.SetStartTimestamp(sr.start)
				dp.SetTimestamp(now)
				dp.SetIntValue(0)
			}
		})
	}

	countSum(c.requests, nameRequests, "{request}")
	countSum(c.errors, nameErrors, "{error}")

	if c.requests.len() > 0 {
		m := ms.AppendEmpty()
		m.SetName(c.metricName(nameDuration))
		m.SetUnit("s")
		if c.histShape.bounds != nil {
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(temporality)
			c.requests.each(func(sr *series) {
				if !emit(sr) {
					return
				}
				if at, ok := c.zeroPoint(sr, shownHistogram, now); ok {
					dp := h.DataPoints().AppendEmpty()
					sr.attrs.CopyTo(dp.Attributes())
					dp.SetStartTimestamp(sr.start)
					dp.SetTimestamp(at)
					writeZeroHistogram(dp, c.histShape)
				}
				dp := h.DataPoints().AppendEmpty()
				sr.attrs.CopyTo(dp.Attributes())
				dp.SetStartTimestamp(sr.start)
				dp.SetTimestamp(now)
				sr.writeHistogram(dp, c.histShape)
				if sr.sib == sibZero {
					dp := h.DataPoints().AppendEmpty()
					c.requests.zeroSiblingAttrs(sr, dp.Attributes())
					dp.SetStartTimestamp(sr.start)
					dp.SetTimestamp(now)
					writeZeroHistogram(dp, c.histShape)
				}
			})
		} else {
			h := m.SetEmptyExponentialHistogram()
			h.SetAggregationTemporality(temporality)
			c.requests.each(func(sr *series) {
				if !emit(sr) {
					return
				}
				if at, ok := c.zeroPoint(sr, shownHistogram, now); ok {
					dp := h.DataPoints().AppendEmpty()
					sr.attrs.CopyTo(dp.Attributes())
					dp.SetStartTimestamp(sr.start)
					dp.SetTimestamp(at)
					dp.SetSum(0) // an empty histogram: count 0, scale 0, no buckets
				}
				dp := h.DataPoints().AppendEmpty()
				sr.attrs.CopyTo(dp.Attributes())
				dp.SetStartTimestamp(sr.start)
				dp.SetTimestamp(now)
				sr.writeExpoHistogram(dp)
				if sr.sib == sibZero {
					dp := h.DataPoints().AppendEmpty()
					c.requests.zeroSiblingAttrs(sr, dp.Attributes())
					dp.SetStartTimestamp(sr.start)
					dp.SetTimestamp(now)
					dp.SetSum(0) // an empty histogram: count 0, scale 0, no buckets
				}
			})
		}
	}

	countSum(c.tools, nameToolCalls, "{call}")

	if c.usage.len() > 0 {
		tokens := newSum(nameTokens, "{token}").DataPoints()
		var costs pmetric.NumberDataPointSlice
		c.usage.each(func(sr *series) {
			if !emit(sr) {
				return
			}
			for t := range sr.tokens {
				if sr.tokenSeen&(1<<t) == 0 {
					continue
				}
				if at, ok := c.zeroPoint(sr, 1<<t, now); ok {
					dp := tokens.AppendEmpty()
					sr.tokenAttrs(t).CopyTo(dp.Attributes())
					dp.SetStartTimestamp(sr.start)
					dp.SetTimestamp(at)
					dp.SetIntValue(0)
				}
				dp := tokens.AppendEmpty()
				sr.tokenAttrs(t).CopyTo(dp.Attributes())
				dp.SetStartTimestamp(sr.start)
				dp.SetTimestamp(now)
				dp.SetIntValue(int64(sr.tokens[t]))
			}
			if sr.costSeen {
				if costs == (pmetric.NumberDataPointSlice{}) {
					costs = newSum(nameCost, "{USD}").DataPoints()
				}
				if at, ok := c.zeroPoint(sr, shownCost, now); ok {
					dp := costs.AppendEmpty()
					sr.attrs.CopyTo(dp.Attributes())
					dp.SetStartTimestamp(sr.start)
					dp.SetTimestamp(at)
					dp.SetDoubleValue(0)
				}
				dp := costs.AppendEmpty()
				sr.attrs.CopyTo(dp.Attributes())
				dp.SetStartTimestamp(sr.start)
				dp.SetTimestamp(now)
				dp.SetDoubleValue(sr.cost)
			}
		})
	}

	// Active agents: distinct agents with a classified span within the window.
	activeCutoff := now - pcommon.Timestamp(c.cfg.ActiveAgents.Window.Nanoseconds())
	for a, seen := range c.active {
		if *seen < activeCutoff {
			delete(c.active, a)
		}
	}
	c.lastActive, c.lastActiveName = nil, "" // it may have been deleted
	m := ms.AppendEmpty()
	m.SetName(c.metricName(nameActiveAgents))
	m.SetUnit("{agent}")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(now)
	dp.SetIntValue(int64(len(c.active)))

	if len(c.queues) > 0 || c.queueOverflow != nil {
		m := ms.AppendEmpty()
		m.SetName(c.metricName(nameQueueDepth))
		m.SetUnit("{item}")
		dps := m.SetEmptyGauge().DataPoints()
		names := make([]string, 0, len(c.queues))
		for q := range c.queues {
			names = append(names, q)
		}
		sort.Strings(names)
		for _, q := range names {
			dp := dps.AppendEmpty()
			dp.Attributes().PutStr(labelQueue, q)
			dp.SetTimestamp(now)
			dp.SetDoubleValue(c.queues[q].value)
		}
		if c.queueOverflow != nil {
			dp := dps.AppendEmpty()
			dp.Attributes().PutBool(overflowKey, true)
			dp.SetTimestamp(now)
			dp.SetDoubleValue(c.queueOverflow.value)
		}
	}

	c.lastFlush = now

	// After a flush delta series start over from zero (with their exemplars); cumulative
	// exemplars are kept until newer spans replace them.
	for _, s := range []*store{c.requests, c.errors, c.tools, c.usage} {
		s.all(func(sr *series) {
			if c.delta {
				sr.exemplars, sr.exMin = sr.exemplars[:0], 0
				sr.reset(now)
			} else {
				sr.ageExemplars()
				sr.updated = false
			}
		})
	}
	return md
}
