package sloprocessor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"
)

// checkpointMagic starts every SLO checkpoint; another magic (an older format) is refused and
// the SLO starts fresh.
const checkpointMagic = "AMASSLO1"

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

// restore loads each SLO's checkpoint. A missing one is a fresh start; an old-format or corrupt
// one is logged and the SLO starts fresh. Nothing here panics or fails the start.
func (p *sloProcessor) restore(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
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
		restoredSeries, overflow, err := decodeCheckpoint(st, data)
		if err != nil {
			p.tel.checkpointFailed(false)
			p.ckpt.LastError = err.Error()
			p.logger.Warn("The SLO checkpoint is unreadable (old format, changed layout or corrupt); the SLO starts fresh",
				zap.String("slo", st.name), zap.Error(err))
			continue
		}
		if len(st.groupBy) == 0 && restoredSeries[0] == nil {
			restoredSeries[0] = &series{s: st.c.model.NewSeries()}
		}
		st.series, st.overflow = restoredSeries, overflow
		restored++
	}
	p.ckpt.Restored = restored > 0
	p.ckpt.RestoredSLOs = restored
	p.restoreRatioStreams(ctx)
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
	n := len(st.series)
	if st.overflow != nil {
		n++
	}
	b = binary.AppendUvarint(b, uint64(n))
	enc := func(ser *series) {
		b = binary.LittleEndian.AppendUint64(b, ser.key)
		b = appendBool(b, ser.overflow)
		b = binary.AppendUvarint(b, uint64(len(ser.labels)))
		for _, kv := range ser.labels {
			b = appendString(b, kv[0])
			b = appendString(b, kv[1])
		}
		data := st.c.model.AppendBinary(nil, ser.s)
		b = binary.AppendUvarint(b, uint64(len(data)))
		b = append(b, data...)
	}
	for _, ser := range st.series {
		enc(ser)
	}
	if st.overflow != nil {
		enc(st.overflow)
	}
	return b
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

func decodeCheckpoint(st *sloState, data []byte) (map[uint64]*series, *series, error) {
	if len(data) < len(checkpointMagic) || string(data[:len(checkpointMagic)]) != checkpointMagic {
		return nil, nil, errors.New("not a checkpoint of this format (magic " + checkpointMagic + ")")
	}
	r := &ckptReader{b: data[len(checkpointMagic):]}
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
		ser := &series{key: binary.LittleEndian.Uint64(kb[:8]), overflow: kb[8] == 1}
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
		if ser.s, err = st.c.model.DecodeSeries(sd); err != nil {
			return nil, nil, err
		}
		if ser.overflow {
			overflow = ser
		} else {
			out[ser.key] = ser
		}
	}
	if len(r.b) != 0 {
		return nil, nil, errCorrupt
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
}
