package slostatusextension // import "github.com/otelcol-amas/otelcol-amas/extension/slostatusextension"

import (
	"sync"
	"time"

	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// sample is one budget-remaining reading of one SLO group.
type sample struct {
	t int64   // unix milliseconds
	v float64 // budget remaining, percent
}

// budgetRing is the bounded history of one SLO group. It never holds more than max samples.
// Every sample but the last is at least stride after the one before; the last one is always the
// newest reading (it is replaced until it is stride after its predecessor). When the ring is
// full, every other sample is dropped (the newest kept) and the stride doubles, so the ring
// covers as much of the SLO window as it can at the finest spacing that fits.
type budgetRing struct {
	samples []sample // chronological
	stride  int64    // ms between kept samples
	seen    uint64   // last sampling round that saw the group
}

func (r *budgetRing) add(t, window int64, v float64, max int) {
	// Forget what left the SLO window.
	drop := 0
	for drop < len(r.samples) && r.samples[drop].t < t-window {
		drop++
	}
	if drop > 0 {
		r.samples = append(r.samples[:0], r.samples[drop:]...)
	}
	n := len(r.samples)
	if n > 0 && t <= r.samples[n-1].t {
		return // a clock that stepped back
	}
	if n >= 2 && r.samples[n-1].t-r.samples[n-2].t < r.stride {
		r.samples[n-1] = sample{t: t, v: v}
		return
	}
	if n >= max {
		// Keep the newest and every second one before it.
		kept := r.samples[:0]
		for i := (n - 1) % 2; i < n; i += 2 {
			kept = append(kept, r.samples[i])
		}
		r.samples = kept
		r.stride *= 2
	}
	r.samples = append(r.samples, sample{t: t, v: v})
}

// history holds the rings of every SLO group, bounded by maxSeries.
type history struct {
	mu         sync.Mutex
	maxSamples int
	maxSeries  int
	stride     int64
	round      uint64
	series     map[string]*budgetRing
	dropped    uint64 // groups seen without room for their history (cumulative)
}

func newHistory(cfg HistoryConfig) *history {
	return &history{
		maxSamples: cfg.MaxSamples, maxSeries: cfg.MaxSeries, stride: cfg.SampleInterval.Milliseconds(),
		series: map[string]*budgetRing{},
	}
}

func seriesKey(processor, slo string, labels map[string]string) string {
	return processor + "\x00" + slo + "\x00" + labelKey(labels)
}

// record samples every group of the snapshots and forgets groups that are gone.
func (h *history) record(now time.Time, statuses []sloprocessor.Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.round++
	t := now.UnixMilli()
	type fresh struct {
		key    string
		window int64
		v      float64
	}
	var added []fresh
	for _, st := range statuses {
		for _, s := range st.SLOs {
			for _, g := range s.Groups {
				k := seriesKey(st.ID, s.Name, g.Labels)
				if r := h.series[k]; r != nil {
					r.seen = h.round
					r.add(t, s.Window.Milliseconds(), g.BudgetRemainingPercent, h.maxSamples)
					continue
				}
				added = append(added, fresh{k, s.Window.Milliseconds(), g.BudgetRemainingPercent})
			}
		}
	}
	// Forget the groups that are gone first, so that their room goes to new ones.
	for k, r := range h.series {
		if r.seen != h.round {
			delete(h.series, k)
		}
	}
	for _, f := range added {
		if len(h.series) >= h.maxSeries {
			h.dropped++
			continue
		}
		r := &budgetRing{samples: make([]sample, 0, h.maxSamples), stride: h.stride, seen: h.round}
		h.series[f.key] = r
		r.add(t, f.window, f.v, h.maxSamples)
	}
}

// get returns a copy of a group's history as [unix seconds, percent] pairs.
func (h *history) get(key string) History {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.series[key]
	if r == nil {
		return nil
	}
	out := make(History, len(r.samples))
	for i, s := range r.samples {
		out[i] = [2]Float{Float(float64(s.t) / 1e3), Float(s.v)}
	}
	return out
}

func (h *history) info() HistoryInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return HistoryInfo{Series: len(h.series), SeriesDropped: h.dropped}
}
