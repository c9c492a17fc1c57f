package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	ckpt "github.com/otelcol-amas/otelcol-amas/internal/checkpoint"
)

// restartSeqGap is how far a restart moves the sequence numbers of each notification log key:
// more than a run can have enqueued without checkpointing them.
const restartSeqGap = 1 << 32

// checkpointKey is the storage key of the delivery state. The key stays: the value's version
// is in its bytes. Version 1 is JSON (it starts with '{'), still read; version 2 is the shared
// framing of internal/checkpoint with one entry per alert, log entry and sequence, so a damaged
// entry costs that alert, log entry or sequence only.
const checkpointKey = "delivery_state_v1"

const (
	checkpointMagic   = "AMAL"
	checkpointVersion = 2

	entryAlert byte = 0
	entryLog   byte = 1
	entrySeq   byte = 2
)

// checkpointLimits: label values are at most 1 KiB when they arrive (see escape.go) and group
// keys are built from them; the string bound leaves room for a key of many labels, and a longer
// one is truncated when written, never refused when read.
var checkpointLimits = ckpt.Limits{MaxEntry: 1 << 20, MaxString: 1 << 16}

// maxCheckpointList bounds a decoded list (labels, values, fingerprints) in one entry.
const maxCheckpointList = 1 << 16

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
	if err := e.storage.Set(ctx, checkpointKey, encodeCheckpoint(&c)); err != nil {
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
	skipped := 0
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
	} else if skipped, err = decodeCheckpoint(b, &c); err != nil {
		return err
	}
	if skipped > 0 {
		e.tel.checkpointSkipped(skipped)
		e.logger.Warn("Skipped damaged entries of the alert delivery checkpoint; the rest is restored",
			zap.Int("skipped_entries", skipped))
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

func encodeCheckpoint(c *checkpoint) []byte {
	w := ckpt.NewWriter(nil, checkpointMagic, checkpointVersion, checkpointLimits)
	for i := range c.Alerts {
		a := &c.Alerts[i]
		w.Begin()
		w.Byte(entryAlert)
		w.U64(a.Fingerprint)
		writeStringMap(w, a.Labels)
		w.String(a.State)
		writeTime(w, a.StartsAt)
		writeTime(w, a.EndsAt)
		writeTime(w, a.LastSeen)
		keys := sortedKeys(a.Values)
		w.Uvarint(uint64(len(keys)))
		for _, k := range keys {
			w.String(k)
			w.F64(a.Values[k])
		}
		w.End()
	}
	for i := range c.Log {
		le := &c.Log[i]
		w.Begin()
		w.Byte(entryLog)
		w.String(le.Key)
		writeFingerprints(w, le.Firing)
		writeTime(w, le.At)
		writeFingerprints(w, le.Maybe)
		w.End()
	}
	for i := range c.Seqs {
		s := &c.Seqs[i]
		w.Begin()
		w.Byte(entrySeq)
		w.String(s.Key)
		w.Uvarint(s.Enqueued)
		w.Uvarint(s.Delivered)
		writeTime(w, s.Used)
		w.Bool(s.Pending)
		w.End()
	}
	return w.Bytes()
}

// decodeCheckpoint reads a version 2 checkpoint into c and returns how many entries it skipped.
func decodeCheckpoint(b []byte, c *checkpoint) (int, error) {
	r, v, err := ckpt.NewReader(b, checkpointMagic, checkpointLimits)
	if err != nil {
		return 0, err
	}
	if v != checkpointVersion {
		return 0, fmt.Errorf("checkpoint version %d is not supported", v)
	}
	for d, ok := r.Next(); ok; d, ok = r.Next() {
		switch d.Byte() {
		case entryAlert:
			var a ckpAlert
			a.Fingerprint = d.U64()
			a.Labels = readStringMap(d)
			a.State = d.String()
			a.StartsAt, a.EndsAt, a.LastSeen = readTime(d), readTime(d), readTime(d)
			if n := d.Count(maxCheckpointList, 9); n > 0 {
				a.Values = make(map[string]float64, n)
				for range n {
					k := d.String()
					a.Values[k] = d.F64()
				}
			}
			if d.Finish() != nil || !knownState(a.State) {
				r.Skip()
				continue
			}
			c.Alerts = append(c.Alerts, a)
		case entryLog:
			var le ckpLogEntry
			le.Key = d.String()
			le.Firing = readFingerprints(d)
			le.At = readTime(d)
			le.Maybe = readFingerprints(d)
			if d.Finish() != nil {
				r.Skip()
				continue
			}
			c.Log = append(c.Log, le)
		case entrySeq:
			var s ckpSeq
			s.Key = d.String()
			s.Enqueued, s.Delivered = d.Uvarint(), d.Uvarint()
			s.Used = readTime(d)
			s.Pending = d.Bool()
			if d.Finish() != nil {
				r.Skip()
				continue
			}
			c.Seqs = append(c.Seqs, s)
		default:
			r.Skip()
		}
	}
	return r.Skipped, nil
}

func knownState(s string) bool {
	switch s {
	case alertstate.StateFiring, alertstate.StatePending, alertstate.StateResolved:
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func writeStringMap(w *ckpt.Writer, m map[string]string) {
	keys := sortedKeys(m)
	w.Uvarint(uint64(len(keys)))
	for _, k := range keys {
		w.String(k)
		w.String(m[k])
	}
}

func readStringMap(d *ckpt.Decoder) map[string]string {
	n := d.Count(maxCheckpointList, 2)
	m := make(map[string]string, n)
	for range n {
		k := d.String()
		m[k] = d.String()
	}
	return m
}

func writeFingerprints(w *ckpt.Writer, fps []uint64) {
	w.Uvarint(uint64(len(fps)))
	for _, fp := range fps {
		w.U64(fp)
	}
}

func readFingerprints(d *ckpt.Decoder) []uint64 {
	n := d.Count(maxCheckpointList, 8)
	if n == 0 {
		return nil
	}
	fps := make([]uint64, n)
	for i := range fps {
		fps[i] = d.U64()
	}
	return fps
}

// writeTime keeps the zero time apart (its UnixNano is not representable).
func writeTime(w *ckpt.Writer, t time.Time) {
	w.Bool(!t.IsZero())
	if !t.IsZero() {
		w.Varint(t.UnixNano())
	}
}

func readTime(d *ckpt.Decoder) time.Time {
	if !d.Bool() {
		return time.Time{}
	}
	return time.Unix(0, d.Varint()).UTC()
}
