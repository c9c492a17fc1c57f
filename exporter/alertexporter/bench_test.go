package alertexporter

import (
	"strconv"
	"testing"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"

	"github.com/jonboulle/clockwork"
)

// BenchmarkConsumeMetrics measures the data path: a batch of amas_alerts points for alerts
// already tracked (steady state), each with a budget and two burn-rate siblings to join.
func BenchmarkConsumeMetrics(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run("alerts="+strconv.Itoa(n), func(b *testing.B) {
			r := newRecorder(&testing.T{})
			defer r.srv.Close()
			cfg := testConfig(r.srv.URL)
			clk := clockwork.NewFakeClockAt(t0)
			e, err := newExporter(ctx(), exportertestSettings(), cfg, clk)
			if err != nil {
				b.Fatal(err)
			}
			var pts []point
			var vals []value
			for i := 0; i < n; i++ {
				slo := "slo_" + strconv.Itoa(i)
				pts = append(pts, burn(slo, t0, alertstate.StateFiring))
				if i < 10 { // siblings for a few SLOs: the join is alerts × siblings
					vals = append(vals,
						value{"amas_slo_error_budget_remaining_percent", map[string]string{"slo": slo}, 50},
						value{"amas_slo_error_budget_burn_rate", map[string]string{"slo": slo, "window": "1h"}, 2},
						value{"amas_slo_error_budget_burn_rate", map[string]string{"slo": slo, "window": "5m"}, 3})
				}
			}
			md := batch(t0, pts, vals...)
			_ = e.ConsumeMetrics(ctx(), md) // the first batch creates the alerts
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = e.ConsumeMetrics(ctx(), md)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/point")
		})
	}
}

// BenchmarkFlush measures one dispatcher flush deciding over 100 groups (no network: the
// notification log already holds every alert; once per repeat_interval the re-sends are built,
// nothing is queued).
func BenchmarkFlush(b *testing.B) {
	r := newRecorder(&testing.T{})
	defer r.srv.Close()
	cfg := testConfig(r.srv.URL)
	cfg.Route.GroupBy = []string{"slo"}
	clk := clockwork.NewFakeClockAt(t0)
	e, err := newExporter(ctx(), exportertestSettings(), cfg, clk)
	if err != nil {
		b.Fatal(err)
	}
	var pts []point
	for i := 0; i < 100; i++ {
		pts = append(pts, burn("slo_"+strconv.Itoa(i), t0, alertstate.StateFiring))
	}
	_ = e.ConsumeMetrics(ctx(), batch(t0, pts))
	for _, g := range e.groups {
		for _, in := range e.byReceiver[g.route.receiver] {
			f := map[uint64]struct{}{}
			for fp := range g.alerts {
				f[fp] = struct{}{}
			}
			e.nflog[g.key+"|"+in.receiver()+"|"+in.kind()] = &logEntry{firing: f, at: t0}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clk.Advance(cfg.Route.GroupInterval)
		e.mu.Lock()
		// Commit what the flush decided, as tick does: every repeat_interval (60 flushes) each
		// group is re-sent once, so the cost per flush does not depend on b.N.
		for _, p := range e.flushDue(clk.Now()) {
			e.nflog[p.key] = &logEntry{firing: p.firing, at: clk.Now()}
		}
		e.mu.Unlock()
	}
}

// BenchmarkConsumeMetricsEverySLOFiring is a large incident: every one of n SLO groups fires and
// each brings its budget and burn-rate points, so the join would be n × 3n without the index
// by slo/operation.
func BenchmarkConsumeMetricsEverySLOFiring(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run("alerts="+strconv.Itoa(n), func(b *testing.B) {
			cfg := testConfig("http://127.0.0.1:1/")
			clk := clockwork.NewFakeClockAt(t0)
			e, err := newExporter(ctx(), exportertestSettings(), cfg, clk)
			if err != nil {
				b.Fatal(err)
			}
			var pts []point
			var vals []value
			for i := 0; i < n; i++ {
				slo := "slo_" + strconv.Itoa(i)
				pts = append(pts, burn(slo, t0, alertstate.StateFiring))
				vals = append(vals,
					value{"amas_slo_error_budget_remaining_percent", map[string]string{"slo": slo}, 50},
					value{"amas_slo_error_budget_burn_rate", map[string]string{"slo": slo, "window": "1h"}, 2},
					value{"amas_slo_error_budget_burn_rate", map[string]string{"slo": slo, "window": "5m"}, 3})
			}
			md := batch(t0, pts, vals...)
			_ = e.ConsumeMetrics(ctx(), md)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = e.ConsumeMetrics(ctx(), md)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/point")
		})
	}
}
