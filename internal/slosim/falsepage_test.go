package slosim_test

import (
	"bytes"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-amas/otelcol-amas/internal/slosim"
)

// groupWait is the default configuration's alert route group_wait (config/otelcol-amas.yaml):
// the alert exporter holds a new group that long before the first notification.
const groupWait = 10 * time.Second

var (
	benchDays = flag.Int("slosim.days", 30, "days of simulated traffic for BenchmarkFalsePages")
	benchSeed = flag.Uint64("slosim.seed", 1, "seed of the simulated traffic for BenchmarkFalsePages")
	benchProm = flag.Bool("slosim.prometheus", true, "also evaluate the generated Prometheus rules in BenchmarkFalsePages")
)

// TestFalsePageTargets runs 4 simulated days (a healthy first day, then one block of every
// incident and every kind of noise) through the slo processor and asserts the alert-quality
// targets: no false page; every hard-down incident (all runs, or all tool calls, failing) paged
// within 60 s of its first failure at the receiver (group_wait included); every incident that
// must page paged.
func TestFalsePageTargets(t *testing.T) {
	s := slosim.Default(4, 1)
	firings := newProcessorRun(t, s.Start, false).Run(s)
	res := slosim.Score(s, s.BudgetTruth(), firings, groupWait)
	var buf bytes.Buffer
	slosim.WriteMarkdown(&buf, s.Start, []string{"slo processor"}, [][]slosim.SLOResult{res})
	t.Log("\n" + buf.String())
	for _, r := range res {
		if !assert.Zero(t, r.FalsePages, "%s: false pages and tickets by alert: %v", r.SLO, r.FalseByAlert) {
			for _, f := range r.False {
				if f.Page() {
					t.Logf("false page: %s %s %s %s on day %d at %s", f.SLO, f.Name, f.Severity, f.Labels, int(f.At.Sub(s.Start)/(24*time.Hour)), f.At.Format("15:04:05"))
				}
			}
		}
		for _, inc := range r.Incidents {
			if inc.ExpectPage {
				assert.GreaterOrEqual(t, inc.ToPage, time.Duration(0), "%s: %s on day %s not paged", r.SLO, inc.Name, inc.Start.Format("2 15:04"))
			}
			if inc.HardDown() {
				assert.LessOrEqual(t, inc.ToPage, time.Minute, "%s: %s paged after %s, want ≤ 60s", r.SLO, inc.Name, inc.ToPage)
			}
		}
	}
}

// BenchmarkFalsePages is the full benchmark of docs/alerting.md: -slosim.days (30) simulated
// days through the slo processor, and, with -slosim.prometheus, the same counters through the
// generated Prometheus rules in a real Prometheus. It prints the per-SLO tables on stdout. Run it
// once:
//
//	go test -run='^$' -bench=FalsePages -benchtime=1x -timeout=60m ./internal/slosim/
func BenchmarkFalsePages(b *testing.B) {
	s := slosim.Default(*benchDays, *benchSeed)
	for b.Loop() {
		began := time.Now()
		run := newProcessorRun(b, s.Start, true)
		firings := run.Run(s)
		b.Logf("%d simulated days through the processor in %s", *benchDays, time.Since(began).Round(time.Second))
		names := []string{"slo processor"}
		truth := s.BudgetTruth()
		results := [][]slosim.SLOResult{slosim.Score(s, truth, firings, groupWait)}
		fp, ft, missed := slosim.Totals(results[0])
		b.ReportMetric(float64(fp), "false-pages")
		b.ReportMetric(float64(ft), "false-tickets")
		b.ReportMetric(float64(missed), "missed")
		if *benchProm {
			// The same group_wait, as if Prometheus' alerts went to an Alertmanager routed alike.
			names = append(names, "generated Prometheus rules")
			results = append(results, slosim.Score(s, truth, promRules(b, s, run.MemorySLI), groupWait))
			fp, ft, missed := slosim.Totals(results[1])
			b.ReportMetric(float64(fp), "rules-false-pages")
			b.ReportMetric(float64(ft), "rules-false-tickets")
			b.ReportMetric(float64(missed), "rules-missed")
		}
		var buf bytes.Buffer
		slosim.WriteMarkdown(&buf, s.Start, names, results)
		fmt.Print(buf.String()) // b.Log would truncate the tables
	}
}
