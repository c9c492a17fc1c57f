package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics/internal/metadata"
	"github.com/otelcol-amas/otelcol-amas/internal/spanindex"
)

// Agent attribution across batches (see README, "Agent attribution across batches").
//
// A classified span whose agent ancestor is not in its batch is held as a contribution: the
// values it adds to the metrics, never the span. Contributions wait in lists keyed by (trace id,
// id of the first ancestor not seen yet). When that span arrives its own agent, or the walk on
// from it, decides: an agent counts the list under it, a root without an agent counts each entry
// under its own service (as one batch would), and an ancestor still missing takes the list over.
// Expiry runs on the flush tick. Everything here is guarded by the connector's lock.

// contribution is what one classified span adds to the metrics. In flight its strings point into
// the batch; once held they are interned copies.
type contribution struct {
	operation string
	errorType string // set when isError
	tool      string // classTool
	model     string // classModel with usage
	service   string
	dims      []string // extra dimension values, in c.dims order

	traceID pcommon.TraceID // exemplar
	spanID  pcommon.SpanID
	end     pcommon.Timestamp
	seconds float64

	tokens    [numTokenTypes]uint64
	cost      float64
	tokenSeen uint8
	class     spanClass
	isError   bool
	hasUsage  bool
	costSeen  bool
}

// count adds a contribution to the metrics under agent.
func (c *spanMetricsConnector) count(ct *contribution, agent string, now pcommon.Timestamp) {
	status := statusOK
	if ct.isError {
		status = statusError
	}
	sr := c.series(c.requests, ovRequests, now, ct.dims, agent, ct.operation, status)
	sr.observe(c.histShape, ct.seconds)
	if sr.labels != nil && !ct.traceID.IsEmpty() {
		sr.addExemplar(ct.traceID, ct.spanID, ct.seconds, ct.end)
	}
	if ct.isError {
		c.series(c.errors, ovErrors, now, ct.dims, agent, ct.operation, ct.errorType).count++
	}
	switch ct.class {
	case classTool:
		c.series(c.tools, ovTools, now, ct.dims, agent, ct.tool, status).count++
	case classModel:
		if ct.hasUsage {
			sr := c.series(c.usage, ovUsage, now, ct.dims, agent, ct.model)
			for t := range ct.tokens {
				sr.tokens[t] += ct.tokens[t]
			}
			sr.tokenSeen |= ct.tokenSeen
			if ct.costSeen {
				sr.cost += ct.cost
				sr.costSeen = true
			}
		}
	}
	c.markActive(agent, now)
}

// agentOf applies the agent identity rule: the span's own agent name (own: spanAgentName, here
// from the classification consumeSpan already made); else that of its nearest ancestor that
// names one (spanAgentName), in the same batch or remembered from an earlier one; else the
// resource's service name. When an ancestor is missing and the wait is on, it returns "" and the
// id of that ancestor: the span's contribution is to be held for it. The name is not sanitized.
func (c *spanMetricsConnector) agentOf(td ptrace.Traces, span ptrace.Span, own, service string) (string, pcommon.SpanID) {
	if own != "" {
		return own, pcommon.SpanID{}
	}
	parent := span.ParentSpanID()
	if parent.IsEmpty() || c.cfg.Limits.MaxBatchIndexSpans == 0 {
		return service, pcommon.SpanID{}
	}
	if !c.index.Built() {
		c.buildIndex(td)
	}
	var agent string
	var missing pcommon.SpanID
	var out spanindex.Outcome
	if len(c.att.links) == 0 { // the common case: one batch holds the run
		agent, missing, out = c.index.Walk(parent, spanindex.IsBoundary(span), c.agentNameFn)
	} else {
		agent, missing, out = c.walk(span.TraceID(), parent, spanindex.IsBoundary(span))
	}
	switch {
	case out == spanindex.Found:
		return agent, pcommon.SpanID{}
	case out == spanindex.Missing && c.att.on() && !c.index.Full() && !span.TraceID().IsEmpty():
		return "", missing
	}
	return service, pcommon.SpanID{}
}

func (c *spanMetricsConnector) buildIndex(td ptrace.Traces) {
	if !c.index.Build(td, c.cfg.Limits.MaxBatchIndexSpans) {
		c.stats.skipped[skipIndexFull]++
	}
}

// walk follows parent ids through the batch index and the links remembered from earlier batches
// (crossed: the span being resolved is itself a process boundary).
func (c *spanMetricsConnector) walk(trace pcommon.TraceID, parent pcommon.SpanID, crossed bool) (string, pcommon.SpanID, spanindex.Outcome) {
	if len(c.att.links) == 0 {
		return c.index.Walk(parent, crossed, c.agentNameFn) // the common case: one batch holds the run
	}
	cur := parent
	for depth := 0; depth < spanindex.MaxDepth; depth++ {
		if cur.IsEmpty() {
			return "", cur, spanindex.Root
		}
		if e, ok := c.index.Get(cur); ok {
			if a := c.spanAgentName(e.Span); a != "" {
				return a, cur, spanindex.Found
			}
			crossed = crossed || spanindex.IsBoundary(e.Span)
			cur = e.Parent
			continue
		}
		l, ok := c.att.links[pendKey{trace, cur}]
		if !ok {
			if crossed {
				return "", cur, spanindex.MissingBeyondBoundary
			}
			return "", cur, spanindex.Missing
		}
		if l.agent != "" {
			return l.agent, cur, spanindex.Found
		}
		cur = l.parent
	}
	return "", cur, spanindex.TooDeep
}

// pendKey is a span of a trace.
type pendKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// pending is one held contribution; next chains the list of one awaited span (or the free list).
type pending struct {
	ct       contribution
	deadline pcommon.Timestamp
	next     int32
}

type waitList struct{ head, tail int32 }

// link remembers a span seen (or held) without an agent: its parent, or the agent found above it
// (agent set), or that it is a root without an agent (both empty).
type link struct {
	parent   pcommon.SpanID
	agent    string
	deadline pcommon.Timestamp
}

// unattributedReason says why a contribution was counted under its service name.
type unattributedReason int

const (
	unattributedExpired unattributedReason = iota
	unattributedOverflow
	unattributedShutdown
	numUnattributedReasons
)

var unattributedReasonNames = [numUnattributedReasons]string{"expired", "overflow", "shutdown"}

type attributionStats struct {
	deferred     int64
	unattributed [numUnattributedReasons]int64
}

// attribution holds the contributions waiting for their agent ancestor.
type attribution struct {
	wait    pcommon.Timestamp // 0: off
	max     int
	ndims   int
	waiting map[pendKey]waitList
	links   map[pendKey]link
	slots   []pending
	dimVals []string // ndims values per slot
	free    int32    // head of the free list of slots, -1 when empty
	n       int      // contributions held
	intern  map[string]string
	stats   attributionStats
	// reportedPending is the pending count last recorded in the internal telemetry.
	reportedPending int
}

const noSlot = -1

func (a *attribution) init(wait time.Duration, maxPending, ndims int) {
	a.max, a.ndims, a.free = maxPending, ndims, noSlot
	if wait > 0 && maxPending > 0 {
		a.wait = pcommon.Timestamp(wait.Nanoseconds())
	}
	a.waiting = make(map[pendKey]waitList)
	a.links = make(map[pendKey]link)
	a.intern = make(map[string]string)
}

func (a *attribution) on() bool { return a.wait > 0 }

// str returns a copy of s that does not point into the batch, shared between the contributions
// that hold the same value while the intern table has room (it is bounded by max).
func (a *attribution) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := a.intern[s]; ok {
		return v
	}
	v := strings.Clone(s)
	if len(a.intern) < a.max {
		a.intern[v] = v
	}
	return v
}

func (a *attribution) alloc() int32 {
	if a.free != noSlot {
		i := a.free
		a.free = a.slots[i].next
		return i
	}
	a.slots = append(a.slots, pending{})
	for range a.ndims {
		a.dimVals = append(a.dimVals, "")
	}
	return int32(len(a.slots) - 1)
}

func (a *attribution) release(i int32) {
	a.slots[i] = pending{next: a.free}
	clear(a.dimVals[int(i)*a.ndims : int(i+1)*a.ndims])
	a.free = i
	a.n--
}

// append chains the list l after the list waiting for k.
func (a *attribution) append(k pendKey, l waitList) {
	if w, ok := a.waiting[k]; ok {
		a.slots[w.tail].next = l.head
		w.tail = l.tail
		a.waiting[k] = w
		return
	}
	a.waiting[k] = l
}

func (a *attribution) link(k pendKey, l link) {
	if k.span.IsEmpty() {
		return
	}
	if _, ok := a.links[k]; !ok && len(a.links) >= a.max {
		return // not remembered: a later child of k waits and expires (counted)
	}
	a.links[k] = l
}

// hold keeps ct until the span missing (an ancestor of self) arrives, or counts it under its
// service at once when attribution_max_pending contributions are already held.
func (c *spanMetricsConnector) hold(ct *contribution, trace pcommon.TraceID, self, missing pcommon.SpanID, now pcommon.Timestamp) {
	a := &c.att
	if a.n >= a.max {
		a.stats.unattributed[unattributedOverflow]++
		c.count(ct, ct.service, now)
		return
	}
	i := a.alloc()
	a.n++
	a.stats.deferred++
	p := &a.slots[i]
	p.ct = *ct
	p.ct.operation = a.str(ct.operation)
	p.ct.errorType = a.str(ct.errorType)
	p.ct.tool = a.str(ct.tool)
	p.ct.model = a.str(ct.model)
	p.ct.service = a.str(ct.service)
	p.ct.dims = nil // the values live in dimVals; the slice is rebuilt when counted
	for d, v := range ct.dims {
		a.dimVals[int(i)*a.ndims+d] = a.str(v)
	}
	p.deadline = now + a.wait
	p.next = noSlot
	k := pendKey{trace, missing}
	a.append(k, waitList{head: i, tail: i})
	// A later child of this span (exported after it) follows the same path.
	a.link(pendKey{trace, self}, link{parent: missing, deadline: p.deadline})
}

// settle counts the list l under agent, or under each contribution's own service when agent is
// "", and frees it. It returns the number counted.
func (c *spanMetricsConnector) settle(l waitList, agent string, now pcommon.Timestamp) int64 {
	a := &c.att
	var n int64
	for i := l.head; i != noSlot; {
		p := &a.slots[i]
		next := p.next
		p.ct.dims = a.dimVals[int(i)*a.ndims : int(i+1)*a.ndims]
		who := agent
		if who == "" {
			who = p.ct.service
		}
		c.count(&p.ct, who, now)
		a.release(i)
		n++
		if i == l.tail {
			break
		}
		i = next
	}
	return n
}

// settleArrivals runs after a batch is aggregated, when contributions wait: each span of the batch
// that is awaited decides the fate of its list.
func (c *spanMetricsConnector) settleArrivals(td ptrace.Traces, now pcommon.Timestamp) {
	a := &c.att
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len() && len(a.waiting) > 0; i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				key := pendKey{s.TraceID(), s.SpanID()}
				l, ok := a.waiting[key]
				if !ok {
					continue
				}
				delete(a.waiting, key)
				c.arrived(td, s, key, l, now)
			}
		}
	}
}

func (c *spanMetricsConnector) arrived(td ptrace.Traces, s ptrace.Span, key pendKey, l waitList, now pcommon.Timestamp) {
	a := &c.att
	deadline := now + a.wait
	agent := c.spanAgentName(s)
	if agent != "" {
		agent = a.str(c.safe(agent))
		c.settle(l, agent, now)
		a.link(key, link{agent: agent, deadline: deadline})
		return
	}
	if !c.index.Built() {
		c.buildIndex(td)
	}
	agent, missing, out := c.walk(key.trace, s.ParentSpanID(), spanindex.IsBoundary(s))
	switch {
	case out == spanindex.Found:
		agent = a.str(c.safe(agent)) // a remembered agent is already safe; sanitizing is idempotent
		c.settle(l, agent, now)
		a.link(key, link{agent: agent, deadline: deadline})
	case out == spanindex.Missing && !c.index.Full():
		a.append(pendKey{key.trace, missing}, l)
		a.link(key, link{parent: missing, deadline: deadline})
	case out == spanindex.Root || out == spanindex.MissingBeyondBoundary:
		// No agent above in this process: each under its service, as in one batch.
		c.settle(l, "", now)
		a.link(key, link{deadline: deadline})
	default: // too deep, or the batch was too large to index: as in one batch, the service
		c.settle(l, "", now)
	}
}

// expirePending counts under their service the contributions held for attribution_wait and
// forgets expired links. It runs on the flush tick, and returns whether anything was counted.
func (c *spanMetricsConnector) expirePending(now pcommon.Timestamp) bool {
	a := &c.att
	if a.n == 0 && len(a.links) == 0 {
		return false
	}
	counted := false
	for k, l := range a.waiting {
		keep := waitList{head: noSlot, tail: noSlot}
		for i := l.head; i != noSlot; {
			p := &a.slots[i]
			next := p.next
			last := i == l.tail
			if p.deadline <= now {
				p.ct.dims = a.dimVals[int(i)*a.ndims : int(i+1)*a.ndims]
				c.count(&p.ct, p.ct.service, now)
				a.release(i)
				a.stats.unattributed[unattributedExpired]++
				counted = true
			} else {
				p.next = noSlot
				if keep.head == noSlot {
					keep.head = i
				} else {
					a.slots[keep.tail].next = i
				}
				keep.tail = i
			}
			if last {
				break
			}
			i = next
		}
		if keep.head == noSlot {
			delete(a.waiting, k)
		} else {
			a.waiting[k] = keep
		}
	}
	for k, l := range a.links {
		if l.deadline <= now {
			delete(a.links, k)
		}
	}
	// The intern table only saves memory; start it over when nothing waits or when it is full,
	// so strings no longer held are not kept.
	if (a.n == 0 && len(a.links) == 0) || len(a.intern) >= a.max {
		clear(a.intern)
	}
	return counted
}

// settleAllPending counts every held contribution under its service (at shutdown).
func (c *spanMetricsConnector) settleAllPending(now pcommon.Timestamp) bool {
	a := &c.att
	if a.n == 0 {
		return false
	}
	for k, l := range a.waiting {
		a.stats.unattributed[unattributedShutdown] += c.settle(l, "", now)
		delete(a.waiting, k)
	}
	clear(a.links)
	clear(a.intern)
	return true
}

// attributionTelemetry is the internal telemetry of the attribution path, recorded after the lock.
type attributionTelemetry struct {
	deferred     metric.Int64Counter
	unattributed metric.Int64Counter
	pending      metric.Int64Gauge
	reasonOpts   [numUnattributedReasons]metric.AddOption
}

func newAttributionTelemetry(tb *metadata.TelemetryBuilder) *attributionTelemetry {
	t := &attributionTelemetry{
		deferred:     tb.ConnectorAmasSpanmetricsAttributionDeferred,
		unattributed: tb.ConnectorAmasSpanmetricsAttributionUnattributed,
		pending:      tb.ConnectorAmasSpanmetricsAttributionPending,
	}
	for i := range unattributedReasonNames {
		t.reasonOpts[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", unattributedReasonNames[i])))
	}
	return t
}

// takeAttributionStats returns the stats to record and resets them; called under the lock.
func (c *spanMetricsConnector) takeAttributionStats() (attributionStats, int64, bool) {
	s := c.att.stats
	c.att.stats = attributionStats{}
	changed := c.att.on() && (s != attributionStats{} || c.att.n != c.att.reportedPending)
	c.att.reportedPending = c.att.n
	return s, int64(c.att.n), changed
}

func (t *attributionTelemetry) record(ctx context.Context, s *attributionStats, pending int64) {
	if s.deferred > 0 {
		t.deferred.Add(ctx, s.deferred)
	}
	for i, n := range s.unattributed {
		if n > 0 {
			t.unattributed.Add(ctx, n, t.reasonOpts[i])
		}
	}
	t.pending.Record(ctx, pending)
}
