package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// The reliability runs (`go run ./bench reliability`, `make reliability`): overload with the
// memory limiter on, hostile cardinality (1M agent names, 1 MiB values) and a soak, each against
// the default configuration on free loopback ports, sampling the collector's RSS, goroutines and
// open files. Not part of CI: the soak alone takes ten minutes. docs/reliability.md has the figures.

type relOptions struct {
	Repo, Bin, Out string
	Phases         map[string]bool
	OverloadRate   float64
	OverloadFor    time.Duration
	LimitMiB       int
	Agents         int
	BigValues      int
	SoakFor        time.Duration
	SoakRate       float64
	Sample         time.Duration
	CollectorCPUs  string
	GenCPUs        string
}

// sample is one look at the collector process.
type sample struct {
	At         float64 `json:"t_s"`
	RSSMiB     float64 `json:"rss_mib"`
	Goroutines int     `json:"goroutines"`
	OpenFiles  int     `json:"open_files"`
	Accepted   float64 `json:"accepted_spans"`
	Refused    float64 `json:"refused_spans"`
}

func reliabilityMain(args []string) error {
	fs := flag.NewFlagSet("reliability", flag.ContinueOnError)
	var o relOptions
	phases := fs.String("phases", "overload,cardinality,soak", "phases to run")
	fs.Float64Var(&o.OverloadRate, "overload-rate", 600000, "offered spans/s of the overload phase (2× the highest sustained rate of docs/benchmarks.md)")
	fs.DurationVar(&o.OverloadFor, "overload-for", 60*time.Second, "length of the overload")
	fs.IntVar(&o.LimitMiB, "limit-mib", 200, "memory_limiter limit_mib during the overload (spike: a quarter)")
	fs.IntVar(&o.Agents, "agents", 1_000_000, "distinct agent names of the cardinality phase")
	fs.IntVar(&o.BigValues, "big-values", 300, "spans with 1 MiB attribute values in the cardinality phase")
	fs.DurationVar(&o.SoakFor, "soak-for", 10*time.Minute, "length of the soak")
	fs.Float64Var(&o.SoakRate, "soak-rate", 20000, "spans/s of the soak")
	fs.DurationVar(&o.Sample, "sample", 5*time.Second, "sampling period")
	fs.StringVar(&o.CollectorCPUs, "collector-cpus", "1", "taskset CPU list for the collector (empty: no pinning)")
	fs.StringVar(&o.GenCPUs, "gen-cpus", "0", "taskset CPU list for the generator (empty: no pinning)")
	fs.StringVar(&o.Out, "out", "", "output directory (default $TMPDIR/amas-reliability-<time>)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.Repo, err = findRepo(); err != nil {
		return err
	}
	o.Bin = filepath.Join(o.Repo, "bin", "otelcol-amas")
	if _, err := os.Stat(o.Bin); err != nil {
		return fmt.Errorf("%s: %w (make build)", o.Bin, err)
	}
	if o.Out == "" {
		o.Out = filepath.Join(os.TempDir(), "amas-reliability-"+time.Now().UTC().Format("20060102-150405"))
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	o.Phases = map[string]bool{}
	for p := range strings.SplitSeq(*phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.Phases[p] = true
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r := &relRun{opt: o, self: self, client: &http.Client{Timeout: 10 * time.Second}}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
	}))
	defer sink.Close()
	r.sink = sink.URL
	fmt.Fprintf(os.Stderr, "reliability: results in %s\n", o.Out)
	var errs []error
	for _, ph := range []string{"overload", "cardinality", "soak"} {
		if !o.Phases[ph] {
			continue
		}
		var err error
		switch ph {
		case "overload":
			err = r.overload()
		case "cardinality":
			err = r.cardinality()
		case "soak":
			err = r.soak()
		}
		if err != nil {
			r.logf("%s: ERROR %v", ph, err)
			errs = append(errs, fmt.Errorf("%s: %w", ph, err))
		}
	}
	report := strings.Join(r.report, "\n") + "\n"
	_ = os.WriteFile(filepath.Join(o.Out, "report.md"), []byte(report), 0o644)
	fmt.Print(report)
	return errors.Join(errs...)
}

type relRun struct {
	opt    relOptions
	self   string
	sink   string
	client *http.Client
	report []string
	seq    int
}

func (r *relRun) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func (r *relRun) addf(format string, args ...any) {
	r.report = append(r.report, fmt.Sprintf(format, args...))
}

// start runs the default configuration (plus the pprof overlay for goroutine counts, plus extra
// YAML) in a fresh directory.
func (r *relRun) start(tag, extra string) (*collector, error) {
	r.seq++
	dir := filepath.Join(r.opt.Out, fmt.Sprintf("%02d-%s", r.seq, tag))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	configs := []string{filepath.Join(r.opt.Repo, "config", "otelcol-amas.yaml")}
	overlay := filepath.Join(dir, "pprof.yaml")
	if err := os.WriteFile(overlay, []byte(pprofOverlay("health_check, file_storage, slo_status")), 0o644); err != nil {
		return nil, err
	}
	configs = append(configs, overlay)
	if extra != "" {
		p := filepath.Join(dir, "extra.yaml")
		if err := os.WriteFile(p, []byte(extra), 0o644); err != nil {
			return nil, err
		}
		configs = append(configs, p)
	}
	c, err := startCollector(r.opt.Bin, pipeline{Name: "ours", Configs: configs}, dir, r.opt.CollectorCPUs, r.sink)
	if err == nil {
		r.logf("%s: collector pid %d in %s", tag, c.Pid(), dir)
	}
	return c, err
}

// look samples the process and its telemetry.
func (r *relRun) look(c *collector, t0 time.Time) sample {
	s := sample{At: time.Since(t0).Seconds()}
	if m, err := readProcMem(c.Pid()); err == nil {
		s.RSSMiB = float64(m.RSS) / (1 << 20)
	}
	if ents, err := os.ReadDir("/proc/" + strconv.Itoa(c.Pid()) + "/fd"); err == nil {
		s.OpenFiles = len(ents)
	}
	if resp, err := r.client.Get("http://" + addr(c.Ports.Pprof) + "/debug/pprof/goroutine?debug=1"); err == nil {
		line, _ := bufioFirstLine(resp.Body)
		resp.Body.Close()
		// "goroutine profile: total N"
		if i := strings.LastIndex(line, " "); i >= 0 {
			s.Goroutines, _ = strconv.Atoi(strings.TrimSpace(line[i+1:]))
		}
	}
	if tel, err := scrapeTelemetry(r.client, c.TelemetryURL()); err == nil {
		s.Accepted, s.Refused = tel.Accepted, tel.Refused
	}
	return s
}

func bufioFirstLine(rd io.Reader) (string, error) {
	b := make([]byte, 256)
	n, err := io.ReadAtLeast(rd, b, 1)
	line := string(b[:n])
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return line, err
}

// sampleWhile samples c every opt.Sample until done is closed.
func (r *relRun) sampleWhile(c *collector, t0 time.Time, done <-chan struct{}) []sample {
	var out []sample
	tick := time.NewTicker(r.opt.Sample)
	defer tick.Stop()
	for {
		out = append(out, r.look(c, t0))
		select {
		case <-done:
			return append(out, r.look(c, t0))
		case <-tick.C:
		}
	}
}

// gen runs the bench generator (replay mode) against c for d at rate.
func (r *relRun) gen(c *collector, rate float64, d time.Duration, agents int) (genResult, error) {
	cmd, cancel := (&bench{opt: options{Warmup: d, Measure: d, CardMin: d}}).pinned(r.opt.GenCPUs, r.self,
		"-mode", "replay", "-endpoint", c.OTLP(), "-rate", formatFloat(rate), "-duration", d.String(),
		"-agents", strconv.Itoa(agents), "-workers", "8")
	defer cancel()
	cmd.Env = append(cmd.Env, "AMASBENCH_ROLE=gen")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	var res genResult
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("generator: %v\n%s", err, lastLines(errOut.String(), 10))
	}
	err := json.Unmarshal(out.Bytes(), &res)
	return res, err
}

func (r *relRun) writeSamples(name string, ss []sample) {
	b, _ := json.MarshalIndent(ss, "", " ")
	_ = os.WriteFile(filepath.Join(r.opt.Out, name), b, 0o644)
}

func maxRSS(ss []sample) float64 {
	m := 0.0
	for _, s := range ss {
		m = math.Max(m, s.RSSMiB)
	}
	return m
}

// slope is the least-squares slope of f over the samples, per minute.
func slope(ss []sample, f func(sample) float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, s := range ss {
		x, y := s.At/60, f(s)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	if n < 2 || n*sxx-sx*sx == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// overload offers OverloadRate for OverloadFor with the memory limiter at LimitMiB, then checks
// that a normal load is accepted in full afterwards.
func (r *relRun) overload() error {
	spike := r.opt.LimitMiB / 4
	extra := fmt.Sprintf("processors:\n  memory_limiter:\n    check_interval: 100ms\n    limit_mib: %d\n    spike_limit_mib: %d\n", r.opt.LimitMiB, spike)
	c, err := r.start("overload", extra)
	if err != nil {
		return err
	}
	defer c.Stop()
	t0 := time.Now()
	done := make(chan struct{})
	var ss []sample
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ss = r.sampleWhile(c, t0, done) }()
	res, genErr := r.gen(c, r.opt.OverloadRate, r.opt.OverloadFor, 10)
	close(done)
	wg.Wait()
	r.writeSamples("overload-samples.json", ss)
	alive := c.cmd.ProcessState == nil
	// Recovery: a normal load (10k spans/s for 20 s) after the overload is accepted in full.
	before := r.look(c, t0)
	rec, recErr := r.gen(c, 10000, 20*time.Second, 10)
	deadline := time.Now().Add(30 * time.Second)
	after := r.look(c, t0)
	for after.Accepted-before.Accepted < float64(rec.Exported) && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		after = r.look(c, t0)
	}
	last := ss[len(ss)-1]
	r.addf("## overload: %.0f spans/s offered for %v, memory_limiter limit_mib %d (spike %d)", r.opt.OverloadRate, r.opt.OverloadFor, r.opt.LimitMiB, spike)
	r.addf("- generator: %d spans created, %d exported (accepted), %d failed (refused or timed out), %.1f s behind schedule; error: %q",
		res.Created, res.Exported, res.Failed, res.Behind, res.Error)
	r.addf("- collector: accepted %.0f, refused %.0f spans (otelcol_receiver_*); peak RSS %.1f MiB; alive after: %v", last.Accepted, last.Refused, maxRSS(ss), alive)
	r.addf("- recovery (10k spans/s for 20 s after): %d exported, %.0f accepted, %d failed; error %v", rec.Exported, after.Accepted-before.Accepted, rec.Failed, recErr)
	if genErr != nil {
		r.addf("- generator error: %v", genErr)
	}
	if !alive {
		return errors.New("the collector died under overload")
	}
	if after.Accepted-before.Accepted < float64(rec.Exported) || rec.Failed > 0 {
		return errors.New("no full recovery after the overload")
	}
	return nil
}

// postSpans sends one OTLP/HTTP protobuf request.
func (r *relRun) postSpans(c *collector, td ptrace.Traces) (int, error) {
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return 0, err
	}
	resp, err := r.client.Post("http://"+addr(c.Ports.HTTP)+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func agentSpan(ss ptrace.SpanSlice, i int, agent, errType string) {
	sp := ss.AppendEmpty()
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	for k := range 8 {
		tid[8+k] = byte(uint64(i) >> (8 * k))
		sid[k] = byte(uint64(i+1) >> (8 * k))
	}
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName("invoke_agent")
	now := time.Now()
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-200 * time.Millisecond)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	sp.Attributes().PutStr("gen_ai.operation.name", "invoke_agent")
	sp.Attributes().PutStr("gen_ai.agent.name", agent)
	if errType != "" {
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Attributes().PutStr("error.type", errType)
	}
}

// cardinality sends Agents distinct agent names (1000 per request), then BigValues spans whose
// agent name and error.type are 1 MiB each, sampling RSS throughout.
func (r *relRun) cardinality() error {
	c, err := r.start("cardinality", "")
	if err != nil {
		return err
	}
	defer c.Stop()
	t0 := time.Now()
	done := make(chan struct{})
	var ss []sample
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ss = r.sampleWhile(c, t0, done) }()
	var sent, failed atomic.Int64
	const perReq = 1000
	for base := 0; base < r.opt.Agents; base += perReq {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "hostile")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := base; i < min(base+perReq, r.opt.Agents); i++ {
			agentSpan(spans, i, "agent-"+strconv.Itoa(i), "")
		}
		code, err := r.postSpans(c, td)
		if err != nil || code != http.StatusOK {
			failed.Add(int64(spans.Len()))
		} else {
			sent.Add(int64(spans.Len()))
		}
	}
	namesDone := r.look(c, t0)
	big := strings.Repeat("x", 1<<20)
	var bigSent, bigFailed int
	for i := range r.opt.BigValues {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		agentSpan(spans, r.opt.Agents+i, strconv.Itoa(i)+big, big+strconv.Itoa(i))
		code, err := r.postSpans(c, td)
		if err != nil || code != http.StatusOK {
			bigFailed++
		} else {
			bigSent++
		}
	}
	// Two flushes of the connector (15 s each), so the series are built and exported.
	time.Sleep(32 * time.Second)
	close(done)
	wg.Wait()
	r.writeSamples("cardinality-samples.json", ss)
	tel, _ := scrapeTelemetry(r.client, c.TelemetryURL())
	raw := r.rawTelemetry(c)
	series, scrapeTook, _ := countSeries(r.client, c.MetricsURL())
	r.addf("## hostile cardinality: %d distinct agent names (%d per request), then %d spans with a 1 MiB agent name and a 1 MiB error.type", r.opt.Agents, perReq, r.opt.BigValues)
	r.addf("- accepted %d name spans (%d failed), %d big-value spans (%d failed); accepted by the receiver %.0f", sent.Load(), failed.Load(), bigSent, bigFailed, tel.Accepted)
	r.addf("- RSS: %.1f MiB after the names, peak %.1f MiB, last %.1f MiB", namesDone.RSSMiB, maxRSS(ss), ss[len(ss)-1].RSSMiB)
	r.addf("- overflow counted (otelcol_connector_amas_spanmetrics_series_overflowed + slo groups dropped + regression evictions): %.0f; labels sanitized: %.0f", tel.Overflow, sumFamilyText(raw, "otelcol_connector_amas_spanmetrics_labels_sanitized"))
	r.addf("- /metrics: %d series, scrape %v", series, scrapeTook.Round(time.Millisecond))
	return nil
}

func (r *relRun) rawTelemetry(c *collector) string {
	resp, err := r.client.Get(c.TelemetryURL())
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// sumFamilyText adds up every sample line of a family in Prometheus text.
func sumFamilyText(text, name string) float64 {
	var sum float64
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ' && !strings.HasPrefix(rest, "_total")) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// soak runs SoakRate for SoakFor and samples RSS, goroutines and open files.
func (r *relRun) soak() error {
	c, err := r.start("soak", "")
	if err != nil {
		return err
	}
	defer c.Stop()
	t0 := time.Now()
	done := make(chan struct{})
	var ss []sample
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ss = r.sampleWhile(c, t0, done) }()
	res, genErr := r.gen(c, r.opt.SoakRate, r.opt.SoakFor, 100)
	close(done)
	wg.Wait()
	r.writeSamples("soak-samples.json", ss)
	half := ss[len(ss)/2:]
	first, last := ss[0], ss[len(ss)-1]
	minG, maxG, minF, maxF := math.MaxInt, 0, math.MaxInt, 0
	for _, s := range half {
		minG, maxG = min(minG, s.Goroutines), max(maxG, s.Goroutines)
		minF, maxF = min(minF, s.OpenFiles), max(maxF, s.OpenFiles)
	}
	r.addf("## soak: %.0f spans/s for %v (100 agents), %d samples every %v", r.opt.SoakRate, r.opt.SoakFor, len(ss), r.opt.Sample)
	r.addf("- generator: %d exported, %d failed, %.1f s behind; error %v", res.Exported, res.Failed, res.Behind, genErr)
	r.addf("- RSS: %.1f MiB at start, %.1f MiB at the end, peak %.1f MiB; slope over the second half %+.2f MiB/min", first.RSSMiB, last.RSSMiB, maxRSS(ss), slope(half, func(s sample) float64 { return s.RSSMiB }))
	r.addf("- goroutines over the second half: %d–%d (slope %+.2f/min); open files %d–%d (slope %+.2f/min)", minG, maxG,
		slope(half, func(s sample) float64 { return float64(s.Goroutines) }), minF, maxF, slope(half, func(s sample) float64 { return float64(s.OpenFiles) }))
	return genErr
}
