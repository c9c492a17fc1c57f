package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"time"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// restartSeqGap is how far a restart moves the sequence numbers of each notification log key:
// more than a run can have enqueued without checkpointing them.
const restartSeqGap = 1 << 32

// checkpointKey is the storage key of the delivery state.
const checkpointKey = "delivery_state_v1"

type checkpoint struct {
	Alerts []ckpAlert    `json:"alerts"`
	Log    []ckpLogEntry `json:"log"`
	Seqs   []ckpSeq      `json:"seqs"`
}

type ckpAlert struct {
	Fingerprint uint64             `json:"fp"`
	Labels      map[string]string  `json:"labels"`
	State       string             `json:"state"`
	StartsAt    time.Time          `json:"startsAt"`
	EndsAt      time.Time          `json:"endsAt"`
	LastSeen    time.Time          `json:"lastSeen"`
	Values      map[string]float64 `json:"values,omitempty"`
}

type ckpLogEntry struct {
	Key    string    `json:"key"`
	Firing []uint64  `json:"firing"`
	At     time.Time `json:"at"`
	Maybe  []uint64  `json:"maybe,omitempty"`
}

type ckpSeq struct {
	Key       string `json:"key"`
	Enqueued  uint64 `json:"enqueued"`
	Delivered uint64 `json:"delivered"`
	// Used is when the key was last used; a restart counts as a use.
	Used time.Time `json:"used,omitzero"`
	// Pending: a notification of the key was queued and not yet accepted by its receiver.
	Pending bool `json:"pending,omitempty"`
}

// writeCheckpoint stores alerts, the notification log and the sequence numbers. Called with
// e.mu held. It runs on the dispatcher tick (and at shutdown), never on the data path.
func (e *alertExporter) writeCheckpoint(ctx context.Context) error {
	var c checkpoint
	for _, rec := range e.alerts {
		c.Alerts = append(c.Alerts, ckpAlert{Fingerprint: rec.fp, Labels: rec.labels, State: rec.state,
			StartsAt: rec.startsAt, EndsAt: rec.endsAt, LastSeen: rec.lastSeen, Values: rec.values})
	}
	sort.Slice(c.Alerts, func(i, j int) bool { return c.Alerts[i].Fingerprint < c.Alerts[j].Fingerprint })
	for key, entry := range e.nflog {
		le := ckpLogEntry{Key: key, At: entry.at}
		for fp := range entry.firing {
			le.Firing = append(le.Firing, fp)
		}
		sort.Slice(le.Firing, func(i, j int) bool { return le.Firing[i] < le.Firing[j] })
		for fp := range entry.maybe {
			le.Maybe = append(le.Maybe, fp)
		}
		sort.Slice(le.Maybe, func(i, j int) bool { return le.Maybe[i] < le.Maybe[j] })
		c.Log = append(c.Log, le)
	}
	sort.Slice(c.Log, func(i, j int) bool { return c.Log[i].Key < c.Log[j].Key })
	e.smu.Lock()
	for key, s := range e.seqs {
		c.Seqs = append(c.Seqs, ckpSeq{Key: key, Enqueued: s.enqueued, Delivered: s.delivered, Used: s.used, Pending: s.queued > s.delivered})
	}
	e.smu.Unlock()
	sort.Slice(c.Seqs, func(i, j int) bool { return c.Seqs[i].Key < c.Seqs[j].Key })
	b, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	if err := e.storage.Set(ctx, checkpointKey, b); err != nil {
		return err
	}
	e.dirty = false
	e.seqDirty.Store(false)
	return nil
}

// loadCheckpoint restores the state written by a previous run. Alerts go back into their
// groups (which wait group_wait again); the log then keeps them from being announced twice.
func (e *alertExporter) loadCheckpoint(ctx context.Context) error {
	b, err := e.storage.Get(ctx, checkpointKey)
	if err != nil || b == nil {
		return err
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	// A notification counts as announced once the receiver accepted it. With an in-memory
	// queue, whatever was queued and not yet delivered died with the previous run: its alerts
	// are only possibly announced (their page is sent again, their resolve still sent).
	// A persistent queue still holds them and delivers them after this start.
	undelivered := map[string]bool{}
	if !e.persistentQueue() {
		for _, s := range c.Seqs {
			if s.Pending {
				undelivered[s.Key] = true
			}
		}
	}
	for _, le := range c.Log {
		entry := &logEntry{firing: make(map[uint64]struct{}, len(le.Firing)), at: le.At}
		if undelivered[le.Key] {
			le.Maybe = append(le.Maybe, le.Firing...)
			le.Firing = nil
		}
		for _, fp := range le.Firing {
			entry.firing[fp] = struct{}{}
		}
		if len(le.Maybe) > 0 {
			entry.maybe = make(map[uint64]struct{}, len(le.Maybe))
			for _, fp := range le.Maybe {
				entry.maybe[fp] = struct{}{}
			}
		}
		e.nflog[le.Key] = entry
	}
	for _, a := range c.Alerts {
		if len(e.alerts) >= e.cfg.MaxAlerts {
			break
		}
		if a.Labels == nil {
			continue
		}
		rec := &alertRec{fp: a.Fingerprint, labels: a.Labels, state: a.State, startsAt: a.StartsAt,
			endsAt: a.EndsAt, lastSeen: a.LastSeen, values: a.Values, anchor: labelsAnchor(a.Labels)}
		if rec.state != alertstate.StateResolved && rec.lastSeen.Before(now) {
			// The collector's downtime is not the emitters' silence: give the slo and
			// regression processors, restarted too, a full resolve_timeout to report again.
			rec.lastSeen = now
		}
		e.alerts[rec.fp] = rec
		if rec.state == alertstate.StateFiring || rec.state == alertstate.StateResolved {
			e.attach(rec, now)
		}
	}
	e.smu.Lock()
	for _, s := range c.Seqs {
		// The previous run may have queued notifications after this checkpoint (it is written
		// just after enqueueing, and a kill can fall in between). Number this run's
		// notifications past any of them, so a queued one that is delivered first does not make
		// this run's next notification of the key look stale. delivered stays: what the queue
		// still holds must not look delivered.
		next := max(s.Enqueued, s.Delivered)
		if next <= math.MaxUint64-restartSeqGap {
			next += restartSeqGap
		}
		e.seqs[s.Key] = &seqState{enqueued: next, delivered: s.Delivered, used: now}
	}
	e.smu.Unlock()
	return nil
}
