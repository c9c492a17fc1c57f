package slostatusextension

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-amas/otelcol-amas/extension/slostatusextension/internal/metadata"
	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// groupedStatus is the six default SLOs, each with n groups.
func groupedStatus(now time.Time, n int) sloprocessor.Status {
	st := sloprocessor.Status{ID: "slo", LastTick: now, EvaluationInterval: 10 * time.Second}
	for _, name := range []string{"agent_availability", "agent_latency_p95", "tool_call_success_rate", "memory_usage", "cost_efficiency", "queue_depth"} {
		s := sloprocessor.SLOStatus{Name: name, Objective: 0.99, Window: 720 * time.Hour, Budgeting: "occurrences", Rules: defaultRules, BudgetThresholds: defaultThresholds}
		for i := range n {
			s.Groups = append(s.Groups, sloprocessor.GroupStatus{
				Labels: map[string]string{"gen_ai.agent.name": "agent-" + strconv.Itoa(i)}, Windows: windows(0.99, 0.01, 0.005, 1000),
				Events: 1000, BadEvents: 5, BudgetRemainingPercent: 50, Compliant: true, Violations: map[string]uint64{},
			})
		}
		st.SLOs = append(st.SLOs, s)
	}
	return st
}

// BenchmarkStatusRequest is one GET /observability/slo/status?history=true, encoded, by the
// number of groups per SLO (six SLOs), with a full history (720 samples) per group; the page's
// request (history_groups=12) as well.
func BenchmarkStatusRequest(b *testing.B) {
	for _, c := range []struct {
		n       int
		history string
		query   string
	}{{1, "all", "?history=true"}, {100, "all", "?history=true"}, {100, "page", "?history=true&history_groups=12"}, {100, "none", ""}} {
		n := c.n
		b.Run("groups_per_slo="+strconv.Itoa(n)+"/history="+c.history, func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			clock := clockwork.NewFakeClockAt(epoch)
			src := &fakeSource{slo: []sloprocessor.Status{groupedStatus(epoch, n)}, reg: []regressionprocessor.Status{sampleRegressions(epoch)}}
			e := newExtension(extensiontest.NewNopSettings(metadata.Type), cfg, src, clock)
			e.startedAt = epoch
			for range cfg.History.MaxSamples {
				clock.Advance(cfg.History.SampleInterval)
				e.sample()
			}
			h := e.handler()
			req := httptest.NewRequest(http.MethodGet, pathStatus+c.query, nil)
			b.ReportAllocs()
			var bytes int
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				bytes = w.Body.Len()
				_, _ = io.Copy(io.Discard, w.Body)
			}
			b.ReportMetric(float64(bytes), "bytes/response")
		})
	}
}

// BenchmarkHistoryRecord is one sampling round over 6 × 1000 groups, in steady state.
func BenchmarkHistoryRecord(b *testing.B) {
	st := []sloprocessor.Status{groupedStatus(epoch, 1000)}
	h := newHistory(HistoryConfig{SampleInterval: 10 * time.Second, MaxSamples: 720, MaxSeries: 10000})
	now := epoch
	for range 720 {
		now = now.Add(10 * time.Second)
		h.record(now, st)
	}
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Second)
		h.record(now, st)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/6000, "ns/group")
}

// BenchmarkHistoryMemory fills the history of 600 groups (6 SLOs × 100) to max_samples and
// reports the heap it keeps per group.
func BenchmarkHistoryMemory(b *testing.B) {
	st := []sloprocessor.Status{groupedStatus(epoch, 100)}
	var kept uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h := newHistory(HistoryConfig{SampleInterval: 10 * time.Second, MaxSamples: 720, MaxSeries: 1000})
		now := epoch
		for range 720 {
			now = now.Add(10 * time.Second)
			h.record(now, st)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		kept = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(h)
	}
	b.ReportMetric(float64(kept)/600, "bytes/group")
}
