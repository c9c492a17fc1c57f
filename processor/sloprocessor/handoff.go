package sloprocessor

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/slopromql"
)

// The handoff check. Behind a gateway that routes by service, a rescale moves about 1/N of the
// services to another replica: on the old replica their groups go silent and, without this
// check, each raises SLONoData after no_data.after, one alert per moved service at every
// rescale. So when a group's no-data condition becomes true, and the processor can ask
// Prometheus (bootstrap.endpoint) which replica it is (instance_label.value), it asks whether
// the group's events counter rose on another replica during the silence:
//
//	sum(increase(amas_slo_events_total{slo="…",<group>,<instance label>!="<self>"}[<silence>]))
//
// More than 0: the service moved, and the group is retired here at once (dropped, as an idle
// group is evicted: no alert, its series stop; if the service comes back it is a new group, which
// bootstraps). 0, nothing, an error or no answer within bootstrap.timeout: SLONoData is raised as
// without the check, a tick later, because a Prometheus outage must not hide a dead service.
// While the answer is pending the no-data alert is held (slomath.Series.HoldNoData), so it never
// goes pending only to be retracted. The query runs off the hot path and off p.mu, at most
// bootstrap.max_concurrency at once (the bootstrap's workers have their own).

// Results of a handoff check, for the test hook and the debug log.
const (
	handoffMoved     = "moved"     // the counter rose elsewhere: the group was retired
	handoffStayed    = "stayed"    // it did not (0 or no series): no-data is raised
	handoffFailed    = "failed"    // the query failed: no-data is raised
	handoffDiscarded = "discarded" // the answer came too late (timeout, new events, group evicted)
)

type handoffPhase int

const (
	handoffPending handoffPhase = iota + 1 // the query is out; the no-data alert is held
	handoffCleared                         // answered "not moved" (or failed): no-data may fire
)

// handoffState is the check of one silence of one group.
type handoffState struct {
	// lastEvent is the group's last event when the check began: a later event ends the silence,
	// and the next silence is checked afresh.
	lastEvent int64
	phase     handoffPhase
	deadline  int64 // Unix ns (processor clock): past it the hold is released
	cancel    context.CancelFunc
}

// handoffActive reports whether st's groups are checked before they raise no-data (caller holds
// p.mu): the check needs Prometheus and this replica's name, and only groups (whose counters
// carry the group's labels) can be found on another replica.
func (p *sloProcessor) handoffActive(st *sloState) bool {
	return p.boot != nil && p.instance[0] != "" && st.c.handoffCheck && len(st.groupBy) > 0
}

// holdNoDataForHandoff decides, before ser is evaluated at now, whether its no-data alert is held
// (caller holds p.mu). Held until a check of the current silence has answered "not moved":
// the check starts when the evaluation reports the condition (startHandoff).
func (p *sloProcessor) holdNoDataForHandoff(st *sloState, ser *series, now int64) {
	if ser.overflow || !p.handoffActive(st) {
		ser.s.HoldNoData = false
		return
	}
	h := ser.handoff
	if h != nil && h.lastEvent != ser.s.LastEvent {
		// Events again: this silence is over, whatever the check says.
		h.cancel()
		ser.handoff, h = nil, nil
	}
	if h != nil && h.phase == handoffPending && now >= h.deadline {
		// No answer within bootstrap.timeout: treat it as a failed check.
		h.cancel()
		h.phase = handoffCleared
	}
	// An alert already pending or firing (restored from a checkpoint) is not held back: the
	// check only guards the onset.
	ser.s.HoldNoData = (h == nil || h.phase == handoffPending) && !ser.s.Alerts[st.c.model.NoDataSlot()].Active()
}

// startHandoff sends the check of ser's silence when its evaluation at now found the no-data
// condition under a hold with no check out yet (caller holds p.mu).
func (p *sloProcessor) startHandoff(st *sloState, ser *series, now int64) {
	if !ser.s.HoldNoData || !ser.ev.NoDataDue || ser.handoff != nil {
		return
	}
	b := p.boot
	ctx, cancel := context.WithCancel(b.ctx)
	h := &handoffState{lastEvent: ser.s.LastEvent, phase: handoffPending, deadline: now + int64(b.cfg.HTTP.Timeout), cancel: cancel}
	ser.handoff = h
	expr := handoffQuery(st.name, ser.labels, p.instance, ser.s.Silence(now))
	b.wg.Add(1)
	go b.checkHandoff(ctx, p, st, ser, h, expr, now)
}

// handoffQuery is the events of the group on every other replica over the silence (whole
// seconds, at least one).
func handoffQuery(slo string, groupLabels [][2]string, instance [2]string, silence time.Duration) string {
	matchers := make([][2]string, 0, len(groupLabels))
	for _, kv := range groupLabels {
		matchers = append(matchers, [2]string{slopromql.Label(kv[0]), kv[1]})
	}
	sel := slopromql.AddMatchers(slopromql.Selector(slopromql.EventsMetric, [][2]string{{"slo", slo}}), matchers)
	sel = slopromql.AddNotEqual(sel, instance[0], instance[1])
	return slopromql.SumBy(nil, slopromql.Increase(sel, max(silence.Truncate(time.Second), time.Second)))
}

func (b *bootstrapper) checkHandoff(ctx context.Context, p *sloProcessor, st *sloState, ser *series, h *handoffState, expr string, at int64) {
	defer b.wg.Done()
	defer h.cancel()
	select {
	case b.handoffSem <- struct{}{}:
	case <-ctx.Done():
		p.handoffAnswered(st, ser, h, 0, ctx.Err())
		return
	}
	defer func() { <-b.handoffSem }()
	// The client's timeout bounds the request in real time; the processor's clock bounds the hold.
	vals, err := b.queryInstant(ctx, expr, at)
	elsewhere := 0.0
	for _, v := range vals {
		elsewhere += v.v
	}
	p.handoffAnswered(st, ser, h, elsewhere, err)
}

// handoffAnswered applies a check's answer: the group is retired when its counter rose on another
// replica and the check is still the one of its current silence; otherwise the hold is released.
func (p *sloProcessor) handoffAnswered(st *sloState, ser *series, h *handoffState, elsewhere float64, err error) {
	p.mu.Lock()
	current := ser.handoff == h && h.phase == handoffPending && st.series[ser.key] == ser
	var result string
	switch {
	case !current:
		result = handoffDiscarded
	case err == nil && elsewhere > 0:
		delete(st.series, ser.key)
		result = handoffMoved
	case err != nil:
		h.phase = handoffCleared
		result = handoffFailed
	default:
		h.phase = handoffCleared
		result = handoffStayed
	}
	b := p.boot
	p.mu.Unlock()
	if result == handoffMoved {
		p.tel.groupMoved()
	}
	if b == nil {
		return
	}
	if b.testHookHandoff != nil {
		defer b.testHookHandoff(st.name, result)
	}
	fields := []zap.Field{zap.String("slo", st.name), zap.Any("group", ser.labels), zap.String("result", result)}
	switch {
	case result == handoffMoved:
		fields = append(fields, zap.Float64("events_elsewhere", elsewhere))
		if ok, suppressed := b.moveLog.allow(b.clock.Now(), b.cfg.WarnInterval); ok {
			b.logger.Info("SLO group moved to another replica; retired without a no-data alert", append(fields, zap.Int("suppressed_since_last_log", suppressed))...)
			return
		}
		b.logger.Debug("SLO group moved to another replica; retired without a no-data alert", fields...)
	case err != nil:
		b.logger.Debug("SLO handoff check failed; no-data is raised", append(fields, zap.Error(err))...)
	}
}

// logLimiter lets one log line through per interval and counts the ones it held back.
type logLimiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether a line may be logged at now, and how many were held back since the last.
func (l *logLimiter) allow(now time.Time, interval time.Duration) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < interval {
		l.suppressed++
		return false, 0
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	return true, suppressed
}
