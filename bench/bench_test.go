package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary act as the load generator the benchmark re-executes.
func TestMain(m *testing.M) {
	if os.Getenv("AMASBENCH_ROLE") == "gen" {
		if err := genMain(os.Args[1:], os.Stdout); err != nil {
			os.Stderr.WriteString("gen: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const telemetryFixture = `# HELP otelcol_process_uptime Uptime of the process
# TYPE otelcol_process_uptime counter
otelcol_process_uptime 16.1
# TYPE otelcol_receiver_accepted_spans counter
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 200
otelcol_receiver_accepted_spans{receiver="otlp",transport="http"} 50
# TYPE otelcol_receiver_refused_spans counter
otelcol_receiver_refused_spans{receiver="otlp",transport="grpc"} 3
# TYPE otelcol_receiver_failed_spans counter
otelcol_receiver_failed_spans{receiver="otlp",transport="grpc"} 1
# TYPE otelcol_exporter_send_failed_metric_points counter
otelcol_exporter_send_failed_metric_points{exporter="prometheus"} 4
# TYPE otelcol_processor_incoming_items counter
otelcol_processor_incoming_items{otel_signal="traces",processor="slo"} 250
otelcol_processor_incoming_items{otel_signal="metrics",processor="slo"} 9
# TYPE otelcol_processor_outgoing_items counter
otelcol_processor_outgoing_items{otel_signal="traces",processor="slo"} 240
otelcol_processor_outgoing_items{otel_signal="metrics",processor="slo"} 3
# TYPE otelcol_connector_amas_spanmetrics_series_overflowed counter
otelcol_connector_amas_spanmetrics_series_overflowed{metric="amas.agent.requests"} 7
# TYPE otelcol_connector_amas_spanmetrics_spans_skipped counter
otelcol_connector_amas_spanmetrics_spans_skipped{reason="invalid_duration"} 2
# TYPE otelcol_exporter_alert_notifications_sent counter
otelcol_exporter_alert_notifications_sent 5
`

func TestParseTelemetry(t *testing.T) {
	got, err := parseTelemetry(telemetryFixture)
	require.NoError(t, err)
	assert.Equal(t, 250.0, got.Accepted, "accepted spans of every transport are added")
	assert.Equal(t, 3.0, got.Refused)
	// failed spans (1) + exporter failures (4) + slo traces incoming−outgoing (10); metrics-side
	// processor differences are not spans and are ignored.
	assert.Equal(t, 15.0, got.Dropped)
	assert.Equal(t, 7.0, got.Overflow, "an overflow series is a bound at work, not a loss")
	assert.Equal(t, 2.0, got.Skipped)
	assert.Equal(t, map[string]float64{
		"otelcol_receiver_refused_spans":                   3,
		"otelcol_receiver_failed_spans":                    1,
		"otelcol_exporter_send_failed_metric_points":       4,
		"otelcol_connector_amas_spanmetrics_spans_skipped": 2,
		"processor slo traces incoming-outgoing":           10,
	}, got.Lost)
}

func TestParseTelemetryRejectsOtherEndpoints(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
	}{
		{"an exporter's /metrics without the collector's own uptime is not internal telemetry",
			"# TYPE amas_agent_requests_total counter\namas_agent_requests_total 3\n", "otelcol_process_uptime"},
		{"text that is not the Prometheus format is an error", "{not prometheus", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTelemetry(tt.text)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParseTelemetryBeforeTheFirstSpanCountsZero(t *testing.T) {
	got, err := parseTelemetry("# TYPE otelcol_process_uptime counter\notelcol_process_uptime 1\n")
	require.NoError(t, err)
	assert.Zero(t, got.Accepted)
	assert.Empty(t, got.Lost)
}

func TestLostDeltaListsOnlyWhatGrew(t *testing.T) {
	before := telemetry{Lost: map[string]float64{"a": 1, "b": 2}}
	after := telemetry{Lost: map[string]float64{"a": 1, "b": 5, "c": 1}}
	assert.Equal(t, []string{"b +3", "c +1"}, lostDelta(before, after))
}

func TestProcfsParsers(t *testing.T) {
	t.Run("stat ticks are utime+stime, counted after a command name with spaces and parentheses", func(t *testing.T) {
		stat := "4242 (otel col (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 170 30 0 0 20 0 9 0 123 456 789"
		got, err := parseStatTicks(stat)
		require.NoError(t, err)
		assert.Equal(t, uint64(200), got)
	})
	t.Run("status gives VmRSS and VmHWM in bytes", func(t *testing.T) {
		got, err := parseStatusMem("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t3\n")
		require.NoError(t, err)
		assert.Equal(t, procMem{RSS: 1 << 20, HWM: 2 << 20}, got)
	})
	t.Run("a status without VmRSS is an error", func(t *testing.T) {
		_, err := parseStatusMem("Name:\tx\n")
		require.Error(t, err)
	})
	t.Run("proc stat busy excludes idle and iowait, per CPU", func(t *testing.T) {
		got, err := parseProcStat("cpu  9 9 9 9 9 9 9 9 0 0\ncpu0 10 1 5 100 7 1 1 0 0 0\ncpu1 20 0 10 50 0 0 0 0 0 0\nintr 1\n")
		require.NoError(t, err)
		assert.Equal(t, []uint64{18, 30}, got.Busy)
		assert.Equal(t, []uint64{125, 80}, got.Total)
	})
	t.Run("this process has CPU ticks and a resident set", func(t *testing.T) {
		_, err := procCPUTicks(os.Getpid())
		require.NoError(t, err)
		m, err := readProcMem(os.Getpid())
		require.NoError(t, err)
		assert.Positive(t, m.RSS)
		assert.GreaterOrEqual(t, m.HWM, m.RSS)
	})
}

func TestParseCPUList(t *testing.T) {
	assert.Equal(t, []int{1}, parseCPUList("1", 2))
	assert.Equal(t, []int{0, 2, 3}, parseCPUList("0,2-3", 4))
	assert.Equal(t, []int{0, 1}, parseCPUList("", 2), "no list means every CPU")
}

// TestSmokeRun is a few seconds of every phase against the built binary, both pipelines, to prove
// the measuring works end to end: exact counts from telemetrygen, the generator's exported spans
// all accepted with nothing refused or dropped, CPU and memory read, profiles fetched, a report
// written. It asserts counts, never rates (the machine is shared).
func TestSmokeRun(t *testing.T) {
	repo, err := findRepo()
	require.NoError(t, err)
	bin := filepath.Join(repo, "bin", "otelcol-amas")
	tg := filepath.Join(repo, ".tools", "bin", "telemetrygen")
	for _, f := range []string{bin, tg} {
		_, err := os.Stat(f)
		require.NoError(t, err, "build it first: make build tools")
	}
	var log strings.Builder
	opt := options{
		Repo: repo, Bin: bin, Telemetrygen: tg, Out: t.TempDir(),
		Phases:          map[string]bool{"calibrate": true, "ramp": true, "profile": true, "cardinality": true},
		Rates:           []float64{1500},
		Warmup:          500 * time.Millisecond,
		Measure:         1500 * time.Millisecond,
		Agents:          10,
		Cardinalities:   []int{20},
		CardRate:        600,
		CardMin:         1500 * time.Millisecond,
		ProfileSeconds:  1,
		ProfileRate:     1500,
		CalibrateTraces: 50,
		Senders:         2,
		FlushWait:       16 * time.Second, // both pipelines flush every 15 s
		Log:             &log,
	}
	res, err := run(context.Background(), opt)
	require.NoError(t, err, log.String())
	require.Empty(t, res.Errors, log.String())

	phases := map[string]int{}
	for _, s := range res.Steps {
		phases[s.Phase+"/"+s.Pipeline]++
		name := s.Phase + " " + s.Pipeline
		assert.Zero(t, s.Refused, name)
		assert.Zero(t, s.Dropped, name)
		assert.Zero(t, s.Gen.Failed, name)
		assert.Positive(t, s.Gen.Exported, name)
		assert.Equal(t, float64(s.Gen.Exported), s.StepAccepted, "%s: every exported span is accepted", name)
		assert.Positive(t, s.RSS, name)
		if s.Phase == "calibrate" {
			assert.Equal(t, 100.0, s.StepAccepted, "telemetrygen --batch=false sent exactly 50 traces of 2 spans")
		}
		if s.Phase == "cardinality" {
			assert.Positive(t, s.IdleRSS, name)
			assert.Positive(t, s.ScrapeS, "%s: the exporter was scraped", name)
			// Past both pipelines' 15 s flush.
			assert.Positive(t, s.Series, "%s: the exporter serves the span metrics", name)
		}
	}
	for _, k := range []string{"calibrate/peer", "calibrate/ours", "profile/peer", "profile/ours", "cardinality/peer", "cardinality/ours"} {
		assert.Equal(t, 1, phases[k], k)
	}
	assert.GreaterOrEqual(t, phases["ramp/peer"], 1)
	assert.GreaterOrEqual(t, phases["ramp/ours"], 1)
	require.Len(t, res.Profiles, 2)
	require.Len(t, res.HeapProfiles, 2)
	for _, p := range append(res.Profiles, res.HeapProfiles...) {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Positive(t, fi.Size(), p)
	}
	_, err = os.Stat(filepath.Join(opt.Out, "results.json"))
	require.NoError(t, err)
	md := markdown(res, opt)
	assert.Contains(t, md, "### Ramp")
	assert.Contains(t, md, "### Memory against the number of distinct agents")
}

// TestInstructionsPhase runs both pipelines under cachegrind with short loads: the counts come
// out of the tool, the accepted spans equal what the generator exported (checked in instrRun),
// and each pipeline's instructions per span are positive and of a sane size.
func TestInstructionsPhase(t *testing.T) {
	if _, err := exec.LookPath("valgrind"); err != nil {
		t.Fatalf("valgrind is needed (Debian package valgrind; make bench installs it): %v", err)
	}
	repo, err := findRepo()
	require.NoError(t, err)
	bin := filepath.Join(repo, "bin", "otelcol-amas")
	_, err = os.Stat(bin)
	require.NoError(t, err, "build it first: make build")
	var log strings.Builder
	opt := options{
		Repo: repo, Bin: bin, Out: t.TempDir(),
		Phases:     map[string]bool{"instructions": true},
		Agents:     10,
		Senders:    2,
		InstrShort: 2 * time.Second,
		InstrLong:  5 * time.Second,
		InstrRate:  5000,
		Log:        &log,
	}
	res, err := run(context.Background(), opt)
	require.NoError(t, err, log.String())
	require.Empty(t, res.Errors, log.String())
	require.Len(t, res.Instructions, 2)
	for _, ir := range res.Instructions {
		require.Len(t, ir.Runs, 2, ir.Pipeline)
		assert.Greater(t, ir.Runs[1].Accepted, ir.Runs[0].Accepted, ir.Pipeline)
		// Thousands of instructions per span (about 16,000 measured); a broken difference would be
		// negative, zero or absurd.
		assert.Greater(t, ir.PerSpan, 1000.0, ir.Pipeline)
		assert.Less(t, ir.PerSpan, 1e6, ir.Pipeline)
	}
	assert.Contains(t, markdown(res, opt), "Ours (b) against the peer (a):")
}

func TestCachegrindTotalReadsTheSummary(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "cachegrind.out")
	require.NoError(t, os.WriteFile(f, []byte("desc: I1 cache: ...\ncmd: x\nevents: Ir\nfl=a.go\nfn=main\n3 12\nsummary: 1719480619\n"), 0o644))
	n, err := cachegrindTotal(f)
	require.NoError(t, err)
	assert.Equal(t, 1719480619.0, n)
	require.NoError(t, os.WriteFile(f, []byte("events: Ir\n"), 0o644))
	_, err = cachegrindTotal(f)
	assert.Error(t, err, "a file without a total is an error, not zero")
}
