package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// pending is a notification built under the lock, enqueued after it, then committed.
type pending struct {
	n      *notification
	key    string
	firing map[uint64]struct{}
	group  *aggrGroup
}

// tick resolves timed-out alerts, flushes the groups that are due, and checkpoints.
func (e *alertExporter) tick(ctx context.Context) {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	now := e.clock.Now()
	e.mu.Lock()
	e.expire(now)
	out := e.flushDue(now)
	if e.storage != nil && len(out) > 0 {
		e.recordIntents(ctx, out)
	}
	e.mu.Unlock()

	ok := make([]bool, len(out))
	for i, p := range out {
		p.n.logFiring = p.firing
		ok[i] = e.enqueue(ctx, p.n)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	changed := false
	for i, p := range out {
		if !ok[i] {
			continue
		}
		e.nflog[p.key] = &logEntry{firing: p.firing, at: now, maybe: e.stillMaybe(p)}
		changed = true
	}
	e.gc(now)
	if e.storage != nil && (changed || ((e.dirty || e.seqDirty.Load()) && now.Sub(e.lastCkp) >= e.cfg.CheckpointInterval)) {
		if err := e.writeCheckpoint(ctx); err != nil {
			e.tel.checkpointFailed()
			e.logger.Debug("Checkpoint failed", zap.Error(err))
		} else {
			e.lastCkp = now
		}
	}
	// Counted only once the delivery state that produced them is durable, so a test (or an
	// operator) that sees the count knows a restart will not announce them again.
	for i, p := range out {
		if ok[i] {
			e.tel.enqueued(p.n.Receiver, p.n.Integration)
		}
	}
}

// stillMaybe is what stays possibly announced once p is queued: the alerts of the log's maybe
// set that p neither announces firing nor resolves (only a refresh leaves any). Called with
// e.mu held.
func (e *alertExporter) stillMaybe(p pending) map[uint64]struct{} {
	entry := e.nflog[p.key]
	if entry == nil || len(entry.maybe) == 0 {
		return nil
	}
	var out map[uint64]struct{}
	for fp := range entry.maybe {
		if _, ok := p.firing[fp]; ok {
			continue
		}
		if p.n.mentions(fp) {
			continue
		}
		if out == nil {
			out = map[uint64]struct{}{}
		}
		out[fp] = struct{}{}
	}
	return out
}

// recordIntents notes, before anything is queued, which alerts the notifications about to be
// queued announce, and checkpoints that: a kill after the enqueue and before the commit's
// checkpoint then leaves them as possibly announced, and their resolves are still sent. Called
// with e.mu held.
func (e *alertExporter) recordIntents(ctx context.Context, out []pending) {
	for _, p := range out {
		entry := e.nflog[p.key]
		if entry == nil {
			entry = &logEntry{firing: map[uint64]struct{}{}}
			e.nflog[p.key] = entry
		}
		if entry.maybe == nil {
			entry.maybe = make(map[uint64]struct{}, len(p.firing))
		}
		for fp := range p.firing {
			if _, ok := entry.firing[fp]; !ok {
				entry.maybe[fp] = struct{}{}
			}
		}
	}
	if err := e.writeCheckpoint(ctx); err != nil {
		e.tel.checkpointFailed()
		e.logger.Debug("Checkpoint failed", zap.Error(err))
	}
}

// expire resolves active alerts not seen for resolve_timeout, as Alertmanager does.
func (e *alertExporter) expire(now time.Time) {
	for _, rec := range e.alerts {
		if rec.state != alertstate.StateResolved && now.Sub(rec.lastSeen) >= e.cfg.ResolveTimeout {
			rec.state = alertstate.StateResolved
			rec.endsAt = now
			e.dirty = true
		}
	}
}

// flushDue decides, for every due group and each integration of its receiver, whether a
// notification is needed, following Alertmanager's notification log rules.
func (e *alertExporter) flushDue(now time.Time) []pending {
	var out []pending
	for _, g := range e.sortedGroups() {
		due := !now.Before(g.next)
		if !due && !e.refreshDue(g, now) {
			continue
		}
		if due {
			g.next = now.Add(g.route.groupInterval)
		}
		firing := map[uint64]struct{}{}
		for fp, rec := range g.alerts {
			if rec.state == alertstate.StateFiring {
				firing[fp] = struct{}{}
			}
		}
		for _, in := range e.byReceiver[g.route.receiver] {
			key := g.key + "|" + in.receiver() + "|" + in.kind()
			entry := e.nflog[key]
			var notified map[uint64]struct{}
			var last time.Time
			if entry != nil {
				notified, last = entry.firing, entry.at
			}
			if !due {
				if p, ok := e.refresh(g, in, key, firing, notified, last, now); ok {
					out = append(out, p)
				}
				continue
			}
			newFiring := false
			for fp := range firing {
				if _, ok := notified[fp]; !ok {
					newFiring = true
					break
				}
			}
			var gone []uint64
			for fp := range notified {
				if _, ok := firing[fp]; !ok {
					gone = append(gone, fp)
				}
			}
			if entry != nil {
				for fp := range entry.maybe {
					_, f := firing[fp]
					_, n := notified[fp]
					if !f && !n {
						gone = append(gone, fp)
					}
				}
			}
			interval := g.route.repeatInterval
			if in.resends() {
				interval = e.cfg.ResendInterval
			}
			resend := false
			switch {
			case newFiring:
			case len(gone) > 0 && in.sendResolved():
			case len(gone) > 0:
				// Resolves this integration does not announce: note them silently.
				e.nflog[key] = &logEntry{firing: firing, at: last}
				continue
			case len(firing) > 0 && now.Sub(last) >= interval:
				resend = true
			default:
				continue
			}
			n := e.buildNotification(g, in, firing, gone, now)
			n.Resend = resend
			out = append(out, pending{n: n, key: key, firing: firing, group: g})
		}
	}
	return out
}

// refreshDue reports whether a group that is not due for its flush has an integration that
// must refresh what it announced: Alertmanager expires an alert at its endsAt (four
// resend_intervals after a post), which can come before the next group flush.
func (e *alertExporter) refreshDue(g *aggrGroup, now time.Time) bool {
	for _, in := range e.byReceiver[g.route.receiver] {
		if !in.resends() {
			continue
		}
		if entry := e.nflog[g.key+"|"+in.receiver()+"|"+in.kind()]; entry != nil && len(entry.firing) > 0 &&
			now.Sub(entry.at) >= e.cfg.ResendInterval {
			return true
		}
	}
	return false
}

// refresh re-sends, between group flushes, the alerts a resending integration was told about and
// that still fire. New and resolved alerts wait for the group flush, as grouping wants: the log
// keeps the announced set unchanged, so the flush still sees them as new or gone.
func (e *alertExporter) refresh(g *aggrGroup, in integration, key string, firing, notified map[uint64]struct{}, last, now time.Time) (pending, bool) {
	if !in.resends() || len(notified) == 0 || now.Sub(last) < e.cfg.ResendInterval {
		return pending{}, false
	}
	still := make(map[uint64]struct{}, len(notified))
	for fp := range notified {
		if _, ok := firing[fp]; ok {
			still[fp] = struct{}{}
		}
	}
	if len(still) == 0 {
		return pending{}, false
	}
	keep := make(map[uint64]struct{}, len(notified))
	for fp := range notified {
		keep[fp] = struct{}{}
	}
	n := e.buildNotification(g, in, still, nil, now)
	n.Resend = true
	return pending{n: n, key: key, firing: keep, group: g}, true
}

func (e *alertExporter) sortedGroups() []*aggrGroup {
	gs := make([]*aggrGroup, 0, len(e.groups))
	for _, g := range e.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].key < gs[j].key })
	return gs
}

func (e *alertExporter) buildNotification(g *aggrGroup, in integration, firing map[uint64]struct{}, gone []uint64, now time.Time) *notification {
	n := &notification{
		Receiver:    in.receiver(),
		Integration: in.kind(),
		GroupKey:    g.key,
		GroupLabels: g.labels,
		CreatedAt:   now,
		ExternalURL: e.cfg.ExternalURL,
	}
	fps := make([]uint64, 0, len(firing)+len(gone))
	for fp := range firing {
		fps = append(fps, fp)
	}
	fps = append(fps, gone...)
	sort.Slice(fps, func(i, j int) bool { return fps[i] < fps[j] })
	for _, fp := range fps {
		rec := e.alerts[fp]
		a := notifAlert{Fingerprint: fpString(fp)}
		if rec == nil {
			// Already forgotten: announce the resolve with what the log kept.
			a.Status = alertstate.StateResolved
			a.EndsAt = now
			n.Alerts = append(n.Alerts, a)
			continue
		}
		a.Labels = rec.labels
		a.StartsAt = rec.startsAt
		a.Values = copyValues(rec.values)
		if _, ok := firing[fp]; ok {
			a.Status = alertstate.StateFiring
		} else {
			a.Status = alertstate.StateResolved
			a.EndsAt = rec.endsAt
			if a.EndsAt.IsZero() {
				a.EndsAt = now
			}
		}
		a.GeneratorURL = e.cfg.ExternalURL
		a.Annotations = e.renderAnnotations(rec, a.Status, now)
		n.Alerts = append(n.Alerts, a)
	}
	e.smu.Lock()
	s := e.seqState(n.logKey())
	n.Seq = s.enqueued + 1
	e.smu.Unlock()
	return n
}

func copyValues(v map[string]float64) map[string]float64 {
	if len(v) == 0 {
		return nil
	}
	out := make(map[string]float64, len(v))
	for k, x := range v {
		out[k] = x
	}
	return out
}

func fpString(fp uint64) string {
	s := strconv.FormatUint(fp, 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}

// seqState returns the ordering state of a log key. Called with e.smu held.
func (e *alertExporter) seqState(key string) *seqState {
	s := e.seqs[key]
	if s == nil {
		s = &seqState{}
		e.seqs[key] = s
	}
	s.used = e.clock.Now()
	return s
}

// enqueue hands n to the exporterhelper queue (persistent with storage). On failure (queue
// full) the log is not updated, so the next flush of the group tries again.
func (e *alertExporter) enqueue(ctx context.Context, n *notification) bool {
	sender := e.senders[n.Receiver+"|"+n.Integration]
	if sender == nil {
		return false
	}
	err := sender.ConsumeMetrics(contextWithNotification(ctx, n), e.emptyMD)
	if err != nil {
		e.tel.dropped(n.Receiver, n.Integration, reasonQueueFull)
		e.logger.Debug("Could not enqueue notification; will try again at the next group flush",
			zap.String("receiver", n.Receiver), zap.String("integration", n.Integration), zap.Error(err))
		return false
	}
	e.smu.Lock()
	s := e.seqState(n.logKey())
	if n.Seq > s.enqueued {
		s.enqueued = n.Seq
	}
	if n.Seq > s.queued {
		s.queued = n.Seq
	}
	e.smu.Unlock()
	return true
}

// gc forgets resolved alerts once every log that announced them has been told, and empty groups.
func (e *alertExporter) gc(now time.Time) {
	defer e.gcSeqs(now)
	for key, g := range e.groups {
		for fp, rec := range g.alerts {
			if rec.state == alertstate.StateFiring || e.announcedIn(g, fp) {
				continue
			}
			delete(g.alerts, fp)
			rec.groups = removeGroup(rec.groups, g)
		}
		if len(g.alerts) == 0 && !e.anyAnnounced(g) {
			delete(e.groups, key)
			for _, in := range e.byReceiver[g.route.receiver] {
				delete(e.nflog, g.key+"|"+in.receiver()+"|"+in.kind())
			}
		}
	}
	for fp, rec := range e.alerts {
		// Keep resolved alerts for resolve_timeout so the emitter's resolved points, which
		// it repeats for a while, are recognised rather than re-created.
		if rec.state == alertstate.StateResolved && len(rec.groups) == 0 && now.Sub(rec.endsAt) >= e.cfg.ResolveTimeout {
			delete(e.alerts, fp)
			e.dirty = true
		}
	}
}

// gcSeqs forgets the ordering state of log keys that left the notification log and have not
// been used for seqIdleTTL: group keys carry label values, and every checkpoint holds them.
// Called with e.mu held.
func (e *alertExporter) gcSeqs(now time.Time) {
	e.smu.Lock()
	defer e.smu.Unlock()
	for key, s := range e.seqs {
		if _, logged := e.nflog[key]; !logged && now.Sub(s.used) >= seqIdleTTL {
			delete(e.seqs, key)
			e.seqDirty.Store(true)
		}
	}
}

func (e *alertExporter) announcedIn(g *aggrGroup, fp uint64) bool {
	for _, in := range e.byReceiver[g.route.receiver] {
		if entry := e.nflog[g.key+"|"+in.receiver()+"|"+in.kind()]; entry != nil {
			if _, ok := entry.firing[fp]; ok {
				return true
			}
			if _, ok := entry.maybe[fp]; ok {
				return true
			}
		}
	}
	return false
}

func (e *alertExporter) anyAnnounced(g *aggrGroup) bool {
	for _, in := range e.byReceiver[g.route.receiver] {
		if entry := e.nflog[g.key+"|"+in.receiver()+"|"+in.kind()]; entry != nil && len(entry.firing)+len(entry.maybe) > 0 {
			return true
		}
	}
	return false
}

func removeGroup(gs []*aggrGroup, g *aggrGroup) []*aggrGroup {
	for i, x := range gs {
		if x == g {
			return append(gs[:i], gs[i+1:]...)
		}
	}
	return gs
}

var errNoNotification = errors.New("alert exporter: request carries no notification")
