package sloprocessor

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/checkpoint"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// An SLO checkpoint is written in the shared framing of internal/checkpoint (magic AMSL,
// version 2): a definition entry (identity.go: fingerprint and text) first, then one entry per
// series and one per per-group no-data series, each with its own length and CRC-32C, so a
// damaged entry costs that group only (it starts fresh, counted and logged once). Without an
// intact definition entry the counts cannot be interpreted and the SLO starts fresh.
//
// The formats before it are still read (checkpoint_legacy.go): AMASSLO2 (definition, series and
// no-data series in one body) and AMASSLO1 (no definition), read as "identity unknown": restored
// as if the definition were unchanged when the ring layout still matches exactly, else the SLO
// starts fresh (what version 1 always did). Any other magic is refused and the SLO starts fresh.
const (
	checkpointMagic   = "AMSL"
	checkpointVersion = 2
	checkpointMagicV2 = "AMASSLO2"
	checkpointMagicV1 = "AMASSLO1"

	entryIdentity byte = 0
	entrySeries   byte = 1
	entryBeat     byte = 2

	maxCheckpointLabels = 1 << 10 // label pairs of one series
)

// checkpointLimits: one series entry holds its rings (a few thousand counters at most for a
// 30-day window) and its group labels (each at most max_label_length when the group was born).
var checkpointLimits = checkpoint.Limits{MaxEntry: 1 << 24, MaxString: 1 << 16}

// sloIndexKey lists the SLOs checkpointed by the last save, so the checkpoint of an SLO removed
// from the configuration is deleted at the next start instead of lingering forever.
// Written in the internal/checkpoint framing (magic AMSI, one entry per name); the format
// before it (AMASSLI1) is still read.
const (
	sloIndexKey         = "slo_index"
	sloIndexMagic       = "AMSI"
	sloIndexMagicLegacy = "AMASSLI1"
)

func checkpointKey(slo string) string { return "slo/" + slo }

// ratioStreamsKey holds the last point of every cumulative counter stream of the ratio SLIs, so
// the first point after a restart is an increase, not a new baseline (the amas_spanmetrics
// connector restores its counters too). Its own magic: no SLO checkpoint changes format. Written
// in the internal/checkpoint framing (magic AMSR, one entry per stream, so a damaged entry costs
// that stream's next increment only); the format before it (AMASSLR1) is still read.
const (
	ratioStreamsKey         = "ratio_streams"
	ratioStreamsMagic       = "AMSR"
	ratioStreamsMagicLegacy = "AMASSLR1"
)

// sideLimits bound the entries of the index and the ratio streams (an SLO name, or 24 bytes).
var sideLimits = checkpoint.Limits{MaxEntry: 1 << 12, MaxString: 1 << 10}

func (p *sloProcessor) openStorage(ctx context.Context, host component.Host) error {
	if p.cfg.Storage == nil {
		return nil
	}
	ext, ok := host.GetExtensions()[*p.cfg.Storage]
	if !ok {
		return fmt.Errorf("storage: extension %q is not configured", p.cfg.Storage.String())
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("storage: extension %q is not a storage extension", p.cfg.Storage.String())
	}
	client, err := se.GetClient(ctx, component.KindProcessor, p.id, "")
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	p.storage = client
	p.restore(ctx)
	p.lastCkptAt = p.clock.Now()
	return nil
}

// restore loads each SLO's checkpoint. A missing one is a fresh start; an old-format, corrupt or
// no-longer-meaningful one (its definition changed what the counts mean) is logged and the SLO
// starts fresh. Every restored series is resumed at now, so its no-data silence starts again
// (the collector could not see the events of its downtime). Nothing here panics or fails the
// start.
func (p *sloProcessor) restore(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now().UnixNano()
	restored := 0
	for _, st := range p.slos {
		data, err := p.storage.Get(ctx, checkpointKey(st.name))
		if err != nil {
			p.tel.checkpointFailed(false)
			p.logger.Warn("Reading the SLO checkpoint failed; the SLO starts fresh", zap.String("slo", st.name), zap.Error(err))
			continue
		}
		if data == nil {
			continue
		}
		ck, err := p.decodeCheckpoint(st, data)
		if err != nil {
			p.tel.checkpointFailed(false)
			p.ckpt.LastError = err.Error()
			p.logger.Warn("The SLO checkpoint is unreadable (old format, changed layout or corrupt); the SLO starts fresh",
				zap.String("slo", st.name), zap.Error(err))
			continue
		}
		if ck == nil {
			continue // started fresh on purpose, already logged
		}
		if len(st.groupBy) == 0 && ck.series[0] == nil {
			ck.series[0] = &series{s: st.c.model.NewSeries(), unrestored: true}
		}
		st.series, st.overflow = ck.series, ck.overflow
		st.single = st.series[0] // nil for a grouped SLO
		if st.beats != nil && ck.beats != nil {
			st.beats, st.lastBeat = ck.beats, nil
		}
		p.boundRestored(st)
		for _, ser := range st.series {
			st.c.model.Resume(ser.s, now)
		}
		if st.overflow != nil {
			st.c.model.Resume(st.overflow.s, now)
		}
		for _, b := range st.beats {
			st.c.beat.Resume(b.s, now)
		}
		restored++
	}
	p.ckpt.Restored = restored > 0
	p.ckpt.RestoredSLOs = restored
	p.evictRemovedSLOs(ctx)
	p.restoreRatioStreams(ctx)
}

// boundRestored keeps at most max_groups_per_slo groups (and per-group no-data series) of a
// restored SLO, the most recently active ones, when the bound was lowered across the restart.
func (p *sloProcessor) boundRestored(st *sloState) {
	trim := func(m map[uint64]*series) int {
		if len(m) <= p.cfg.MaxGroupsPerSLO {
			return 0
		}
		all := make([]*series, 0, len(m))
		for _, ser := range m {
			all = append(all, ser)
		}
		slices.SortFunc(all, func(a, b *series) int { return cmp.Compare(b.s.LastEvent, a.s.LastEvent) })
		for _, ser := range all[p.cfg.MaxGroupsPerSLO:] {
			delete(m, ser.key)
		}
		return len(all) - p.cfg.MaxGroupsPerSLO
	}
	if n := trim(st.series) + trim(st.beats); n > 0 {
		p.logger.Warn("The SLO checkpoint holds more groups than max_groups_per_slo; the least recently active are dropped",
			zap.String("slo", st.name), zap.Int("dropped", n), zap.Int("max_groups_per_slo", p.cfg.MaxGroupsPerSLO))
	}
}

// evictRemovedSLOs deletes the checkpoints of SLOs that the last save wrote and the
// configuration no longer has (caller holds p.mu).
func (p *sloProcessor) evictRemovedSLOs(ctx context.Context) {
	data, err := p.storage.Get(ctx, sloIndexKey)
	if err != nil || data == nil {
		return
	}
	names, skipped, err := decodeIndex(data)
	if skipped > 0 {
		p.tel.checkpointSkipped(skipped)
		p.logger.Warn("Skipped damaged entries of the SLO checkpoint index; checkpoints of those removed SLOs are kept", zap.Int("skipped_entries", skipped))
	}
	if err != nil {
		p.logger.Warn("The SLO checkpoint index is unreadable; checkpoints of removed SLOs are kept", zap.Error(err))
		return
	}
	for _, name := range names {
		if slices.ContainsFunc(p.slos, func(st *sloState) bool { return st.name == name }) {
			continue
		}
		if err := p.storage.Delete(ctx, checkpointKey(name)); err != nil {
			p.logger.Warn("Deleting the checkpoint of a removed SLO failed", zap.String("slo", name), zap.Error(err))
			continue
		}
		p.logger.Info("The SLO is no longer configured; its checkpoint is deleted", zap.String("slo", name))
	}
}

func encodeIndex(slos []*sloState) []byte {
	w := checkpoint.NewWriter(nil, sloIndexMagic, checkpointVersion, sideLimits)
	for _, st := range slos {
		w.Begin()
		w.String(st.name)
		w.End()
	}
	return w.Bytes()
}

func decodeIndex(data []byte) ([]string, int, error) {
	if hasPrefix(data, sloIndexMagicLegacy) {
		names, err := decodeIndexLegacy(data)
		return names, 0, err
	}
	r, _, err := checkpoint.NewReader(data, sloIndexMagic, sideLimits)
	if err != nil {
		return nil, 0, errors.New("not an SLO index of this format (magic " + sloIndexMagic + ")")
	}
	var out []string
	for d, ok := r.Next(); ok; d, ok = r.Next() {
		name := d.String()
		if d.Finish() != nil {
			r.Skip()
			continue
		}
		out = append(out, name)
	}
	return out, r.Skipped, nil
}

func decodeIndexLegacy(data []byte) ([]string, error) {
	r := &ckptReader{b: data[len(sloIndexMagicLegacy):]}
	n, err := r.uvarint()
	if err != nil || n > uint64(len(r.b)) {
		return nil, errCorrupt
	}
	out := make([]string, 0, n)
	for range n {
		name, err := r.string()
		if err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, nil
}

// restoreRatioStreams loads the counter streams' last points (caller holds p.mu). They count as
// seen now, so they outlive the restart by ratioStreamTTL.
func (p *sloProcessor) restoreRatioStreams(ctx context.Context) {
	data, err := p.storage.Get(ctx, ratioStreamsKey)
	if err != nil || data == nil {
		if err != nil {
			p.tel.checkpointFailed(false)
			p.logger.Warn("Reading the ratio SLI checkpoint failed; each counter stream's next point is its baseline", zap.Error(err))
		}
		return
	}
	streams, skipped, err := decodeRatioStreams(data, p.now().UnixNano(), p.cfg.MaxRatioStreams)
	if skipped > 0 {
		p.tel.checkpointSkipped(skipped)
		p.logger.Warn("Skipped damaged entries of the ratio SLI checkpoint; those streams' next point is their baseline", zap.Int("skipped_entries", skipped))
	}
	if err != nil {
		p.tel.checkpointFailed(false)
		p.ckpt.LastError = err.Error()
		p.logger.Warn("The ratio SLI checkpoint is unreadable; each counter stream's next point is its baseline", zap.Error(err))
		return
	}
	p.ratioPrev = streams
}

func encodeRatioStreams(m map[uint64]ratioPoint) []byte {
	w := checkpoint.NewWriter(make([]byte, 0, 8+32*len(m)), ratioStreamsMagic, checkpointVersion, sideLimits)
	for k, rp := range m {
		w.Begin()
		w.U64(k)
		w.F64(rp.value)
		w.U64(uint64(rp.start))
		w.End()
	}
	return w.Bytes()
}

// decodeRatioStreams reads the streams (at most maxStreams) and how many damaged entries it skipped.
func decodeRatioStreams(data []byte, now int64, maxStreams int) (map[uint64]ratioPoint, int, error) {
	if hasPrefix(data, ratioStreamsMagicLegacy) {
		m, err := decodeRatioStreamsLegacy(data, now, maxStreams)
		return m, 0, err
	}
	r, _, err := checkpoint.NewReader(data, ratioStreamsMagic, sideLimits)
	if err != nil {
		return nil, 0, errors.New("not a ratio stream checkpoint of this format (magic " + ratioStreamsMagic + ")")
	}
	out := map[uint64]ratioPoint{}
	for d, ok := r.Next(); ok; d, ok = r.Next() {
		k, v, start := d.U64(), d.F64(), d.U64()
		if d.Finish() != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			r.Skip()
			continue
		}
		if len(out) < maxStreams {
			out[k] = ratioPoint{value: v, start: pcommon.Timestamp(start), seen: now}
		}
	}
	return out, r.Skipped, nil
}

func decodeRatioStreamsLegacy(data []byte, now int64, maxStreams int) (map[uint64]ratioPoint, error) {
	r := &ckptReader{b: data[len(ratioStreamsMagicLegacy):]}
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n != uint64(len(r.b))/24 || uint64(len(r.b))%24 != 0 {
		return nil, errCorrupt
	}
	out := make(map[uint64]ratioPoint, min(n, uint64(maxStreams)))
	for range n {
		e, _ := r.bytes(24)
		v := math.Float64frombits(binary.LittleEndian.Uint64(e[8:16]))
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, errCorrupt
		}
		if len(out) < maxStreams {
			out[binary.LittleEndian.Uint64(e[:8])] = ratioPoint{value: v, start: pcommon.Timestamp(binary.LittleEndian.Uint64(e[16:24])), seen: now}
		}
	}
	return out, nil
}

func (p *sloProcessor) saveCheckpoint(ctx context.Context) {
	p.mu.Lock()
	stateAt := p.now() // every event observed before it is in this checkpoint, none after
	ops := make([]*storage.Operation, 0, len(p.slos))
	for _, st := range p.slos {
		ops = append(ops, storage.SetOperation(checkpointKey(st.name), encodeCheckpoint(st)))
	}
	if len(p.metricSLOs) > 0 {
		ops = append(ops, storage.SetOperation(ratioStreamsKey, encodeRatioStreams(p.ratioPrev)))
	}
	ops = append(ops, storage.SetOperation(sloIndexKey, encodeIndex(p.slos)))
	p.mu.Unlock()
	err := p.storage.Batch(ctx, ops...)
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastCkptAt = now
	if err != nil {
		p.tel.checkpointFailed(true)
		p.ckpt.LastError = err.Error()
		p.logger.Warn("Saving the SLO checkpoint failed", zap.Error(err))
		return
	}
	p.ckpt.LastSaved = now
	p.ckpt.StateAt = stateAt
	p.ckpt.LastError = "" // a health check reads LastError as the current checkpoint state
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeCheckpoint(st *sloState) []byte {
	w := checkpoint.NewWriter(nil, checkpointMagic, checkpointVersion, checkpointLimits)
	w.Begin()
	w.Byte(entryIdentity)
	w.U64(st.identity.fingerprint())
	w.String(st.identity.text())
	w.End()
	for _, ser := range st.series {
		writeSeries(w, entrySeries, st.c.model, ser)
	}
	if st.overflow != nil {
		writeSeries(w, entrySeries, st.c.model, st.overflow)
	}
	for _, ser := range st.beats {
		writeSeries(w, entryBeat, st.c.beat, ser)
	}
	return w.Bytes()
}

func writeSeries(w *checkpoint.Writer, kind byte, m *slomath.Model, ser *series) {
	w.Begin()
	w.Byte(kind)
	w.U64(ser.key)
	w.Bool(ser.overflow)
	w.Uvarint(uint64(len(ser.labels)))
	for _, kv := range ser.labels {
		w.String(kv[0])
		w.String(kv[1])
	}
	w.Blob(m.AppendBinary(nil, ser.s))
	w.End()
}

var errCorrupt = errors.New("corrupt checkpoint")

type ckptReader struct{ b []byte }

func (r *ckptReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, errCorrupt
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *ckptReader) bytes(n uint64) ([]byte, error) {
	if uint64(len(r.b)) < n {
		return nil, errCorrupt
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, nil
}

func (r *ckptReader) string() (string, error) {
	n, err := r.uvarint()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n)
	return string(b), err
}

// restoredSLO is what a checkpoint gave back for one SLO.
type restoredSLO struct {
	series   map[uint64]*series
	overflow *series
	beats    map[uint64]*series // nil: start the per-group no-data series fresh
}

// seriesDecoder turns one checkpointed series into a series of a model.
type seriesDecoder func(m *slomath.Model, data []byte) (*slomath.Series, error)

func strictDecoder(m *slomath.Model, data []byte) (*slomath.Series, error) {
	return m.DecodeSeries(data)
}

// migratingDecoder reads the series as written when it can, else re-buckets it (another layout).
func migratingDecoder(m *slomath.Model, data []byte) (*slomath.Series, error) {
	s, err := m.DecodeSeries(data)
	if errors.Is(err, slomath.ErrCheckpointFormat) {
		s, _, err = m.MigrateSeries(data)
	}
	return s, err
}

// decodeCheckpoint reads an SLO checkpoint of any version. It returns nil and no error when
// the checkpoint is readable but its definition changed what the counts mean (logged here).
func (p *sloProcessor) decodeCheckpoint(st *sloState, data []byte) (*restoredSLO, error) {
	if hasPrefix(data, checkpointMagicV1) || hasPrefix(data, checkpointMagicV2) {
		return p.decodeLegacy(st, data)
	}
	r, v, err := checkpoint.NewReader(data, checkpointMagic, checkpointLimits)
	if err != nil {
		return nil, errors.New("not a checkpoint of this format (magic " + checkpointMagic + ")")
	}
	if v != checkpointVersion {
		return nil, fmt.Errorf("checkpoint version %d is not supported", v)
	}
	d, ok := r.Next()
	if !ok || d.Byte() != entryIdentity {
		return nil, errors.New("corrupt checkpoint: the definition entry is damaged")
	}
	fp, text := d.U64(), d.String()
	if d.Finish() != nil {
		return nil, errors.New("corrupt checkpoint: the definition entry is damaged")
	}
	dec, keepBeats, fresh, err := p.checkIdentity(st, fp, text)
	if err != nil || fresh {
		return nil, err
	}
	out := &restoredSLO{series: map[uint64]*series{}}
	beats := map[uint64]*series{}
	for d, ok := r.Next(); ok; d, ok = r.Next() {
		kind := d.Byte()
		if kind != entrySeries && kind != entryBeat {
			r.Skip()
			continue
		}
		beat := kind == entryBeat
		ser := &series{key: d.U64()}
		ser.overflow = d.Bool() && !beat
		n := d.Count(maxCheckpointLabels, 2)
		if n > 0 {
			ser.labels = make([][2]string, n)
			for i := range ser.labels {
				ser.labels[i] = [2]string{d.String(), d.String()}
			}
		}
		sd := d.Blob()
		if d.Finish() != nil {
			r.Skip()
			continue
		}
		m, decf := st.c.model, dec
		if beat {
			m, decf = st.c.beat, migratingDecoder
		}
		if m == nil {
			continue // an SLO that keeps no such series
		}
		if ser.s, err = decf(m, sd); err != nil {
			r.Skip()
			continue
		}
		switch {
		case beat:
			ser.beat = true
			beats[ser.key] = ser
		case ser.overflow:
			out.overflow = ser
		default:
			out.series[ser.key] = ser
		}
	}
	if keepBeats && st.c.beat != nil {
		out.beats = beats
	}
	if r.Skipped > 0 {
		p.tel.checkpointSkipped(r.Skipped)
		p.logger.Warn("Skipped damaged entries of the SLO checkpoint; their groups start fresh (the rest is restored)",
			zap.String("slo", st.name), zap.Int("skipped_entries", r.Skipped))
	}
	return out, nil
}

func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// checkIdentity compares a checkpoint's definition with the SLO's: fresh when the change altered
// what the counts mean (logged here), else the decoder to read its series with and whether the
// per-group no-data series are kept.
func (p *sloProcessor) checkIdentity(st *sloState, fp uint64, text string) (dec seriesDecoder, keepBeats, fresh bool, err error) {
	old := parseIdentity(text)
	if fp != old.fingerprint() {
		return nil, false, false, errors.New("corrupt checkpoint: the definition does not match its fingerprint")
	}
	dec, keepBeats = strictDecoder, true
	if old.fingerprint() != st.identity.fingerprint() {
		changes, kind := identityChange(old, st.identity)
		switch kind {
		case changeFresh:
			p.logger.Warn("The SLO's definition changed what its checkpointed counts mean; the SLO starts fresh",
				zap.String("slo", st.name), zap.Strings("changed", changes))
			p.ckpt.DefinitionChanged = append(p.ckpt.DefinitionChanged, st.name)
			return nil, false, true, nil
		case changeNoDataGroups:
			keepBeats = false
		}
		dec = migratingDecoder
		p.logger.Warn("The SLO's definition changed; its checkpointed counts keep their meaning and are migrated",
			zap.String("slo", st.name), zap.Strings("changed", changes))
	}
	return dec, keepBeats, false, nil
}

// decodeLegacy reads an AMASSLO1 or AMASSLO2 checkpoint (one body: any damage fails it all).
func (p *sloProcessor) decodeLegacy(st *sloState, data []byte) (*restoredSLO, error) {
	switch {
	case len(data) >= len(checkpointMagicV1) && string(data[:len(checkpointMagicV1)]) == checkpointMagicV1:
		// Identity unknown: as version 1 always did, restore when the layout matches exactly.
		r := &ckptReader{b: data[len(checkpointMagicV1):]}
		out := &restoredSLO{}
		var err error
		if out.series, out.overflow, err = decodeSeriesList(r, st.c.model, strictDecoder, false); err != nil {
			return nil, err
		}
		if len(r.b) != 0 {
			return nil, errCorrupt
		}
		p.logger.Info("The SLO checkpoint was written before checkpoints recorded the SLO's definition; restored as if the definition were unchanged",
			zap.String("slo", st.name))
		return out, nil
	case hasPrefix(data, checkpointMagicV2):
	default:
		return nil, errors.New("not a checkpoint of this format (magic " + checkpointMagicV2 + ")")
	}
	r := &ckptReader{b: data[len(checkpointMagicV2):]}
	fp, err := r.bytes(8)
	if err != nil {
		return nil, err
	}
	text, err := r.string()
	if err != nil {
		return nil, err
	}
	dec, keepBeats, fresh, err := p.checkIdentity(st, binary.LittleEndian.Uint64(fp), text)
	if err != nil || fresh {
		return nil, err
	}
	out := &restoredSLO{}
	if out.series, out.overflow, err = decodeSeriesList(r, st.c.model, dec, false); err != nil {
		return nil, err
	}
	beats, _, err := decodeSeriesList(r, st.c.beat, migratingDecoder, true)
	if err != nil {
		return nil, err
	}
	if len(r.b) != 0 {
		return nil, errCorrupt
	}
	if keepBeats && st.c.beat != nil {
		for _, b := range beats {
			b.beat = true
		}
		out.beats = beats
	}
	return out, nil
}

// decodeSeriesList reads a count and that many series. With m nil (an SLO that keeps no such
// series) the series are read and dropped.
func decodeSeriesList(r *ckptReader, m *slomath.Model, dec seriesDecoder, beats bool) (map[uint64]*series, *series, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, nil, errCorrupt
	}
	out := make(map[uint64]*series, n)
	var overflow *series
	for range n {
		kb, err := r.bytes(9)
		if err != nil {
			return nil, nil, err
		}
		ser := &series{key: binary.LittleEndian.Uint64(kb[:8]), overflow: kb[8] == 1 && !beats}
		nl, err := r.uvarint()
		if err != nil || nl > uint64(len(r.b)) {
			return nil, nil, errCorrupt
		}
		for range nl {
			k, err := r.string()
			if err != nil {
				return nil, nil, err
			}
			v, err := r.string()
			if err != nil {
				return nil, nil, err
			}
			ser.labels = append(ser.labels, [2]string{k, v})
		}
		dl, err := r.uvarint()
		if err != nil {
			return nil, nil, err
		}
		sd, err := r.bytes(dl)
		if err != nil {
			return nil, nil, err
		}
		if m == nil {
			continue
		}
		if ser.s, err = dec(m, sd); err != nil {
			return nil, nil, err
		}
		if ser.overflow {
			overflow = ser
		} else {
			out[ser.key] = ser
		}
	}
	return out, overflow, nil
}

// checkpointStatus is the checkpoint part of Status.
type checkpointStatus struct {
	Enabled      bool
	Storage      string
	Restored     bool
	RestoredSLOs int
	LastSaved    time.Time
	// StateAt is the time of the state the last saved checkpoint holds (taken under the lock
	// the spans are observed under): every event observed before it is in that checkpoint,
	// none observed after. A restart test compares it with what a client sent.
	StateAt   time.Time
	LastError string
	// DefinitionChanged names the SLOs whose checkpoint was set aside at the last start because
	// their definition changed what the counts mean.
	DefinitionChanged []string `json:",omitempty"`
}
