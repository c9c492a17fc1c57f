package slosim_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/cmd/amas-slo/slorender"
	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/internal/slosim"
)

// promRules evaluates the Prometheus rules that `amas-slo render` generates from the default
// configuration (config/otelcol-amas.yaml) over the same scenario, in a real Prometheus whose
// TSDB is backfilled with promtool (see the comment in promrules.go for how the evaluation is
// arranged). memory are the processor's own memory_usage SLI samples, which the generated memory
// rules read.
func promRules(tb testing.TB, s slosim.Scenario, memory []memorySample) []slosim.Firing {
	tb.Helper()
	promtool := harness.SystemBinary(tb, "promtool")
	prom := harness.SystemBinary(tb, "prometheus")
	cfg, err := os.ReadFile("../../config/otelcol-amas.yaml")
	require.NoError(tb, err)
	c, err := slorender.Load(cfg)
	require.NoError(tb, err)
	rules, err := slosim.ParseRules(slorender.RulesFile(c, "config/otelcol-amas.yaml"))
	require.NoError(tb, err)
	alerts, err := rules.Alerts()
	require.NoError(tb, err)

	dir := tb.TempDir()
	data := filepath.Join(dir, "data")
	rec := slosim.NewRecorder()
	s.Run(rec.Observe)
	for _, m := range memory {
		if m.At.UnixNano()%int64(slosim.ScrapeInterval) != 0 {
			continue
		}
		for w, v := range m.SLI {
			rec.Add("amas_slo_sli_ratio", "gauge", "amas_slo_sli_ratio", `slo="memory_usage",window="`+w+`"`, m.At.UnixMilli(), v)
		}
		rec.Add("amas_slo_objective_ratio", "gauge", "amas_slo_objective_ratio", `slo="memory_usage"`, m.At.UnixMilli(), 0.85)
	}
	backfill(tb, promtool, rec, dir, data)

	end := s.Start.Add(s.Duration)
	p, stop := startProm(tb, prom, data)
	// The per-slice recording rules first, written back as Prometheus' rule evaluation writes them.
	slices := slosim.NewRecorder()
	for _, r := range rules.SliceRules() {
		vals, err := p.QueryRange(r.Expr, s.Start, end, time.Minute)
		require.NoError(tb, err)
		for i, v := range vals {
			if v == v {
				slices.Add(slosim.SliceRecord, "gauge", slosim.SliceRecord, `slo="`+r.Labels["slo"]+`"`, s.Start.Add(time.Duration(i)*time.Minute).UnixMilli(), v)
			}
		}
	}
	stop()
	backfill(tb, promtool, slices, dir, data)
	p, stop = startProm(tb, prom, data)
	// Then the rules that read their own past, from their other operand's values.
	latches, err := rules.Latches()
	require.NoError(tb, err)
	if len(latches) > 0 {
		rec := slosim.NewRecorder()
		for _, l := range latches {
			x, err := p.QueryRange(l.Else, s.Start, end, time.Minute)
			require.NoError(tb, err)
			labels := ""
			for _, k := range []string{"slo", "window"} {
				if v, ok := l.Labels[k]; ok {
					labels += k + `="` + v + `",`
				}
			}
			for i, v := range slosim.EvaluateLatch(l, x) {
				if v == v {
					rec.Add(l.Record, "gauge", l.Record, strings.TrimSuffix(labels, ","), s.Start.Add(time.Duration(i)*time.Minute).UnixMilli(), v)
				}
			}
		}
		stop()
		backfill(tb, promtool, rec, dir, data)
		p, stop = startProm(tb, prom, data)
	}
	defer stop()
	began := time.Now()
	firings, err := p.EvaluateAlerts(alerts, s.Start, end)
	require.NoError(tb, err)
	tb.Logf("%d alert rules over %s evaluated by Prometheus in %s", len(alerts), s.Duration, time.Since(began).Round(time.Second))
	return firings
}

// backfill writes rec as OpenMetrics and turns it into TSDB blocks moved into data.
func backfill(tb testing.TB, promtool string, rec *slosim.Recorder, dir, data string) {
	tb.Helper()
	om := filepath.Join(dir, "backfill.om")
	f, err := os.Create(om)
	require.NoError(tb, err)
	require.NoError(tb, rec.WriteOpenMetrics(f))
	require.NoError(tb, f.Close())
	blocks := filepath.Join(dir, "blocks")
	require.NoError(tb, os.RemoveAll(blocks))
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h", om, blocks).CombinedOutput()
	require.NoError(tb, err, "%s", out)
	require.NoError(tb, os.MkdirAll(data, 0o755))
	entries, err := os.ReadDir(blocks)
	require.NoError(tb, err)
	for _, e := range entries {
		require.NoError(tb, os.Rename(filepath.Join(blocks, e.Name()), filepath.Join(data, e.Name())))
	}
	require.NoError(tb, os.Remove(om))
}

// startProm starts Prometheus on data (no scrape targets, no rules: queries only) and waits
// until it is ready.
func startProm(tb testing.TB, bin, data string) (slosim.Prometheus, func()) {
	tb.Helper()
	port := harness.FreePort(tb)
	cfg := filepath.Join(filepath.Dir(data), "prometheus.yml")
	require.NoError(tb, os.WriteFile(cfg, []byte("global: {}\n"), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+cfg, "--storage.tsdb.path="+data, "--storage.tsdb.retention.time=100y",
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--query.max-samples=1000000000",
		"--query.timeout=30m", "--log.level=warn")
	logf, err := os.Create(filepath.Join(filepath.Dir(data), "prometheus.log"))
	require.NoError(tb, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(tb, cmd.Start())
	stop := func() {
		cancel()
		_ = cmd.Wait()
		_ = logf.Close()
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: 30 * time.Minute}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			tb.Fatalf("prometheus not ready: %v\n%s", err, tail(filepath.Join(filepath.Dir(data), "prometheus.log")))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return slosim.Prometheus{URL: base, Client: client}, stop
}

func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return fmt.Sprint(lines)
}
