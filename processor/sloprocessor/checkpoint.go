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

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// checkpointMagic starts every SLO checkpoint: version 2 records the SLO's definition
// (identity.go) and its per-group no-data series. Version 1 (checkpointMagicV1, no definition)
// is still read, as "identity unknown": restored as if the definition were unchanged when the
// ring layout still matches exactly, else the SLO starts fresh (what version 1 always did). Any
// other magic is refused and the SLO starts fresh.
const (
	checkpointMagic   = "AMASSLO2"
	checkpointMagicV1 = "AMASSLO1"
)

// sloIndexKey lists the SLOs checkpointed by the last save, so the checkpoint of an SLO removed
// from the configuration is deleted at the next start instead of lingering forever.
const (
	sloIndexKey   = "slo_index"
	sloIndexMagic = "AMASSLI1"
)

func checkpointKey(slo string) string { return "slo/" + slo }

// ratioStreamsKey holds the last point of every cumulative counter stream of the ratio SLIs, so
// the first point after a restart is an increase, not a new baseline (the amas_spanmetrics
// connector restores its counters too). Its own magic: no SLO checkpoint changes format.
const (
	ratioStreamsKey   = "ratio_streams"
	ratioStreamsMagic = "AMASSLR1"
)

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
			ck.series[0] = &series{s: st.c.model.NewSeries()}
		}
		st.series, st.overflow = ck.series, ck.overflow
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
	names, err := decodeIndex(data)
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
	b := []byte(sloIndexMagic)
	b = binary.AppendUvarint(b, uint64(len(slos)))
	for _, st := range slos {
		b = appendString(b, st.name)
	}
	return b
}

func decodeIndex(data []byte) ([]string, error) {
	if len(data) < len(sloIndexMagic) || string(data[:len(sloIndexMagic)]) != sloIndexMagic {
		return nil, errors.New("not an SLO index of this format (magic " + sloIndexMagic + ")")
	}
	r := &ckptReader{b: data[len(sloIndexMagic):]}
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
	streams, err := decodeRatioStreams(data, p.now().UnixNano(), p.cfg.MaxRatioStreams)
	if err != nil {
		p.tel.checkpointFailed(false)
		p.ckpt.LastError = err.Error()
		p.logger.Warn("The ratio SLI checkpoint is unreadable; each counter stream's next point is its baseline", zap.Error(err))
		return
	}
	p.ratioPrev = streams
}

func encodeRatioStreams(m map[uint64]ratioPoint) []byte {
	b := make([]byte, 0, len(ratioStreamsMagic)+binary.MaxVarintLen64+24*len(m))
	b = append(b, ratioStreamsMagic...)
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, rp := range m {
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(rp.value))
		b = binary.LittleEndian.AppendUint64(b, uint64(rp.start))
	}
	return b
}

func decodeRatioStreams(data []byte, now int64, maxStreams int) (map[uint64]ratioPoint, error) {
	if len(data) < len(ratioStreamsMagic) || string(data[:len(ratioStreamsMagic)]) != ratioStreamsMagic {
		return nil, errors.New("not a ratio stream checkpoint of this format (magic " + ratioStreamsMagic + ")")
	}
	r := &ckptReader{b: data[len(ratioStreamsMagic):]}
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
	p.ckpt.LastError = "" // a health check reads LastError as the current checkpoint state
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeCheckpoint(st *sloState) []byte {
	b := []byte(checkpointMagic)
	id := st.identity.text()
	b = binary.LittleEndian.AppendUint64(b, st.identity.fingerprint())
	b = appendString(b, id)
	n := len(st.series)
	if st.overflow != nil {
		n++
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, ser := range st.series {
		b = appendSeries(b, st.c.model, ser)
	}
	if st.overflow != nil {
		b = appendSeries(b, st.c.model, st.overflow)
	}
	b = binary.AppendUvarint(b, uint64(len(st.beats)))
	for _, ser := range st.beats {
		b = appendSeries(b, st.c.beat, ser)
	}
	return b
}

func appendSeries(b []byte, m *slomath.Model, ser *series) []byte {
	b = binary.LittleEndian.AppendUint64(b, ser.key)
	b = appendBool(b, ser.overflow)
	b = binary.AppendUvarint(b, uint64(len(ser.labels)))
	for _, kv := range ser.labels {
		b = appendString(b, kv[0])
		b = appendString(b, kv[1])
	}
	data := m.AppendBinary(nil, ser.s)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
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

// decodeCheckpoint reads an SLO checkpoint of either version. It returns nil and no error when
// the checkpoint is readable but its definition changed what the counts mean (logged here).
func (p *sloProcessor) decodeCheckpoint(st *sloState, data []byte) (*restoredSLO, error) {
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
	case len(data) >= len(checkpointMagic) && string(data[:len(checkpointMagic)]) == checkpointMagic:
	default:
		return nil, errors.New("not a checkpoint of this format (magic " + checkpointMagic + ")")
	}
	r := &ckptReader{b: data[len(checkpointMagic):]}
	fp, err := r.bytes(8)
	if err != nil {
		return nil, err
	}
	text, err := r.string()
	if err != nil {
		return nil, err
	}
	old := parseIdentity(text)
	if binary.LittleEndian.Uint64(fp) != old.fingerprint() {
		return nil, errors.New("corrupt checkpoint: the definition does not match its fingerprint")
	}
	dec, keepBeats := strictDecoder, true
	if old.fingerprint() != st.identity.fingerprint() {
		changes, kind := identityChange(old, st.identity)
		switch kind {
		case changeFresh:
			p.logger.Warn("The SLO's definition changed what its checkpointed counts mean; the SLO starts fresh",
				zap.String("slo", st.name), zap.Strings("changed", changes))
			p.ckpt.DefinitionChanged = append(p.ckpt.DefinitionChanged, st.name)
			return nil, nil
		case changeNoDataGroups:
			keepBeats = false
		}
		dec = migratingDecoder
		p.logger.Warn("The SLO's definition changed; its checkpointed counts keep their meaning and are migrated",
			zap.String("slo", st.name), zap.Strings("changed", changes))
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
	LastError    string
	// DefinitionChanged names the SLOs whose checkpoint was set aside at the last start because
	// their definition changed what the counts mean.
	DefinitionChanged []string `json:",omitempty"`
}
