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

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
)

// The reliability runs (`go run ./bench reliability`, `make reliability`): overload with the
// memory limiter on, hostile cardinality (1M agent names, 1 MiB values) and a soak, each against
// the default configuration on free loopback ports, sampling the collector's RSS, goroutines and
// open files. Not part of CI: the soak alone takes ten minutes. docs/reliability.md has the figures.

type relOptions struct {
	Repo, Bin, Out  string
	Phases          map[string]bool
	OverloadRate    float64
	OverloadFor     time.Duration
	RSSLimitMiB     int
	HeadroomMiB     int
	OverloadWorkers int
	OverloadBatch   int
	Settle          time.Duration
	Agents          int
	BigValues       int
	CardRounds      int
	FlatMiBPerMin   float64
	SoakFor         time.Duration
	SoakRate        float64
	Sample          time.Duration
	CollectorCPUs   string
	GenCPUs         string
}

// sample is one look at the collector process.
type sample struct {
	At         float64 `json:"t_s"`
	RSSMiB     float64 `json:"rss_mib"`
	HWMMiB     float64 `json:"rss_peak_mib"`
	HeapMiB    float64 `json:"heap_mib"`
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
	fs.IntVar(&o.RSSLimitMiB, "rss-limit-mib", 448, "the overload's memory limit (a container's): its peak RSS must stay under it")
	fs.IntVar(&o.HeadroomMiB, "headroom-mib", 248, "memory_limiter limit_mib is rss-limit-mib minus this: the non-heap part of RSS, the requests the receiver decodes before the limiter sees them (senders × request size) and heap not yet returned to the OS; spike: a quarter of limit_mib")
	fs.IntVar(&o.OverloadWorkers, "overload-workers", 64, "concurrent senders of the overload (each waits for its answer)")
	fs.DurationVar(&o.Settle, "settle", 15*time.Second, "calm between the overload and the recovery load (the memory limiter's forced GCs are 10 s apart)")
	fs.IntVar(&o.OverloadBatch, "overload-batch", 3000, "spans per request of the overload (whole runs of 3 spans)")
	fs.IntVar(&o.Agents, "agents", 1_000_000, "new distinct agent names per round of the cardinality phase")
	fs.IntVar(&o.BigValues, "big-values", 100, "spans with 1 MiB attribute values per round of the cardinality phase")
	fs.IntVar(&o.CardRounds, "cardinality-rounds", 36, "rounds of the cardinality phase, each with new names")
	fs.Float64Var(&o.FlatMiBPerMin, "flat-mib-per-min", 16, "the cardinality phase's RSS is flat when the slope of its per-round floor over the second half of the rounds is under this (16: 2 bytes per new agent name at 8 million names a minute)")
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
		s.RSSMiB, s.HWMMiB = float64(m.RSS)/(1<<20), float64(m.HWM)/(1<<20)
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
		s.Accepted, s.Refused, s.HeapMiB = tel.Accepted, tel.ReceiverRefused, tel.HeapBytes/(1<<20)
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

// sampling looks at c every period from now until the returned stop is called; stop returns
// the samples, the last one taken at the stop.
func (r *relRun) sampling(c *collector, t0 time.Time, period time.Duration) (stop func() []sample) {
	done := make(chan struct{})
	var out []sample
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			out = append(out, r.look(c, t0))
			select {
			case <-done:
				out = append(out, r.look(c, t0))
				return
			case <-tick.C:
			}
		}
	})
	return func() []sample {
		close(done)
		wg.Wait()
		return out
	}
}

// gen runs the bench generator (replay mode) against c for d at rate,
// with workers concurrent senders of batch spans per request.
func (r *relRun) gen(c *collector, rate float64, d time.Duration, agents, workers, batch int) (genResult, error) {
	cmd, cancel := (&bench{opt: options{Warmup: d, Measure: d, CardMin: d}}).pinned(r.opt.GenCPUs, r.self,
		"-mode", "replay", "-endpoint", c.OTLP(), "-rate", formatFloat(rate), "-duration", d.String(),
		"-agents", strconv.Itoa(agents), "-workers", strconv.Itoa(workers), "-batch", strconv.Itoa(batch))
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

// overload offers OverloadRate for OverloadFor from OverloadWorkers senders with the memory
// limiter sized for a memory limit of RSSLimitMiB (limit_mib = RSSLimitMiB − HeadroomMiB), then a
// normal load. It fails unless the receiver refused spans, every
// refusal reached the client as a retryable gRPC code, the collector stayed up with its peak RSS
// under the bound, and afterwards the normal load was accepted in full with no refusal and every
// accepted run of both loads was counted once in amas_agent_requests_total.
func (r *relRun) overload() error {
	limit := r.opt.RSSLimitMiB - r.opt.HeadroomMiB
	if limit <= 0 {
		return fmt.Errorf("rss-limit-mib %d leaves no heap after headroom-mib %d", r.opt.RSSLimitMiB, r.opt.HeadroomMiB)
	}
	spike := limit / 4
	extra := fmt.Sprintf("processors:\n  memory_limiter:\n    check_interval: 100ms\n    limit_mib: %d\n    spike_limit_mib: %d\n", limit, spike)
	c, err := r.start("overload", extra)
	if err != nil {
		return err
	}
	defer c.Stop()
	t0 := time.Now()
	idle := r.look(c, t0)
	rssBound := float64(r.opt.RSSLimitMiB)
	stop := r.sampling(c, t0, time.Second)
	res, genErr := r.gen(c, r.opt.OverloadRate, r.opt.OverloadFor, 10, r.opt.OverloadWorkers, r.opt.OverloadBatch)
	ss := stop()
	r.writeSamples("overload-samples.json", ss)
	alive := !c.Exited()
	// Recovery: after a calm of Settle (the memory limiter forces a GC at most every 10 s while
	// over its soft limit, min_gc_interval_when_soft_limited, so it may refuse for that long after
	// the load stops), a normal load (10k spans/s for 20 s, 8 senders of 510 spans) is accepted in
	// full and nothing more is refused.
	time.Sleep(r.opt.Settle)
	mid := r.look(c, t0)
	rec, recErr := r.gen(c, 10000, 20*time.Second, 10, 8, 510)
	after := r.look(c, t0)
	for deadline := time.Now().Add(30 * time.Second); after.Accepted-mid.Accepted < float64(rec.Exported) && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		after = r.look(c, t0)
	}
	// Counts exact: every run the client was told was accepted (both loads) is one invoke_agent
	// request in the connector's counter, once its next flush (15 s) has run.
	wantRuns := float64(res.Exported+rec.Exported) / spansPerRun
	var gotRuns float64
	for deadline := time.Now().Add(45 * time.Second); ; {
		gotRuns = r.seriesSum(c, "amas_agent_requests_total", "operation", "invoke_agent")
		if gotRuns == wantRuns || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	peakHeap := 0.0
	for _, s := range ss {
		peakHeap = math.Max(peakHeap, s.HeapMiB)
	}
	hwm := r.look(c, t0).HWMMiB
	retryable := res.FailedByCode[codes.Unavailable.String()] + res.FailedByCode[codes.ResourceExhausted.String()]
	r.addf("## overload: %.0f spans/s offered for %v by %d senders of %d spans, memory_limiter limit_mib %d (spike %d, check every 100ms)",
		r.opt.OverloadRate, r.opt.OverloadFor, r.opt.OverloadWorkers, r.opt.OverloadBatch, limit, spike)
	r.addf("- generator: %d spans created, %d accepted, %d failed %v, %.1f s behind schedule; first error: %q",
		res.Created, res.Exported, res.Failed, res.FailedByCode, res.Behind, res.Error)
	r.addf("- collector: accepted %.0f, refused %.0f spans (otelcol_receiver_*); alive after: %v", mid.Accepted, mid.Refused, alive)
	r.addf("- memory: idle RSS %.1f MiB (heap %.1f); peak RSS (VmHWM) %.1f MiB against the limit of %.0f MiB; peak heap sampled every 1 s %.1f MiB",
		idle.RSSMiB, idle.HeapMiB, hwm, rssBound, peakHeap)
	r.addf("- recovery (10k spans/s for 20 s, after %v without load): %d exported, %.0f accepted, %d failed, %.0f refused; error %v",
		r.opt.Settle, rec.Exported, after.Accepted-mid.Accepted, rec.Failed, after.Refused-mid.Refused, recErr)
	r.addf("- counted: %.0f invoke_agent requests in amas_agent_requests_total, %.0f runs accepted", gotRuns, wantRuns)
	if genErr != nil && res.Created == 0 {
		r.addf("- generator error: %v", genErr)
	}
	var errs []error
	if !alive {
		errs = append(errs, errors.New("the collector died under overload"))
	}
	if mid.Refused <= 0 || retryable <= 0 {
		errs = append(errs, fmt.Errorf("nothing was refused (receiver refused %.0f, client saw %d retryable): the load did not exceed the limit", mid.Refused, retryable))
	}
	for code, n := range res.FailedByCode {
		if code != codes.Unavailable.String() && code != codes.ResourceExhausted.String() {
			errs = append(errs, fmt.Errorf("%d spans failed with %s, not a retryable refusal", n, code))
		}
	}
	if hwm > rssBound {
		errs = append(errs, fmt.Errorf("peak RSS %.1f MiB over the limit %.0f MiB", hwm, rssBound))
	}
	if after.Accepted-mid.Accepted < float64(rec.Exported) || rec.Failed > 0 || after.Refused != mid.Refused {
		errs = append(errs, errors.New("no full recovery after the overload"))
	}
	if gotRuns != wantRuns {
		errs = append(errs, fmt.Errorf("counted %.0f runs, the client was told %.0f were accepted", gotRuns, wantRuns))
	}
	return errors.Join(errs...)
}

// seriesSum adds up the series of a family on the collector's Prometheus exporter whose label
// key has value val.
func (r *relRun) seriesSum(c *collector, family, key, val string) float64 {
	resp, err := r.client.Get(c.MetricsURL())
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return -1
	}
	var sum float64
	for _, m := range fams[family].GetMetric() {
		if label(m, key) == val {
			sum += value(m)
		}
	}
	return sum
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

// cardinality runs CardRounds rounds; each sends Agents new distinct agent names (1000 per
// request), then BigValues spans whose agent name and error.type are 1 MiB each. It samples RSS
// every second, saves a heap profile and the runtime's heap figures after each round, and fails
// unless every span was accepted and RSS is flat: the slope of the rounds' RSS floors over the
// second half of the rounds under FlatMiBPerMin.
func (r *relRun) cardinality() error {
	c, err := r.start("cardinality", "")
	if err != nil {
		return err
	}
	defer c.Stop()
	t0 := time.Now()
	stop := r.sampling(c, t0, time.Second)
	var sent, failed atomic.Int64
	var bigSent, bigFailed int
	const perReq = 1000
	big := strings.Repeat("x", 1<<20)
	var roundEnds []sample
	var live []memStats // after a forced GC, at the end of each round
	halfAt := 0.0       // seconds since t0 when the second half of the rounds starts
	for round := range r.opt.CardRounds {
		if round == r.opt.CardRounds/2 {
			halfAt = time.Since(t0).Seconds()
		}
		for base := 0; base < r.opt.Agents; base += perReq {
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", "hostile")
			spans := rs.ScopeSpans().AppendEmpty().Spans()
			for i := base; i < min(base+perReq, r.opt.Agents); i++ {
				n := round*r.opt.Agents + i
				agentSpan(spans, n, "agent-"+strconv.Itoa(n), "")
			}
			code, err := r.postSpans(c, td)
			if err != nil || code != http.StatusOK {
				failed.Add(int64(spans.Len()))
			} else {
				sent.Add(int64(spans.Len()))
			}
		}
		for i := range r.opt.BigValues {
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			spans := rs.ScopeSpans().AppendEmpty().Spans()
			n := r.opt.CardRounds*r.opt.Agents + round*r.opt.BigValues + i
			agentSpan(spans, n, strconv.Itoa(n)+big, big+strconv.Itoa(n))
			code, err := r.postSpans(c, td)
			if err != nil || code != http.StatusOK {
				bigFailed++
			} else {
				bigSent++
			}
		}
		roundEnds = append(roundEnds, r.look(c, t0))
		live = append(live, r.memStats(c))
		r.heapProfile(c, fmt.Sprintf("cardinality-heap-round-%d.pprof", round+1))
		r.logf("cardinality: round %d done, RSS %.1f MiB, live heap %.1f MiB, retained free heap %.1f MiB", round+1, roundEnds[round].RSSMiB, live[round].HeapAlloc, live[round].Retained())
	}
	// Two flushes of the connector (15 s each), so the series are built and exported.
	time.Sleep(32 * time.Second)
	ss := stop()
	r.writeSamples("cardinality-samples.json", ss)
	r.heapProfile(c, "cardinality-heap-end.pprof")
	tel, _ := scrapeTelemetry(r.client, c.TelemetryURL())
	raw := r.rawTelemetry(c)
	series, scrapeTook, _ := countSeries(r.client, c.MetricsURL())
	// Flat: the RSS floor of each round (its lowest 1-second sample, between the 1 MiB requests'
	// transient peaks) over the second half of the rounds grows less than FlatMiBPerMin. A
	// structure that kept even a byte per new agent name would grow by about a MiB a round.
	var floors []sample
	for i, end := range roundEnds {
		start := 0.0
		if i > 0 {
			start = roundEnds[i-1].At
		}
		floor := sample{At: end.At, RSSMiB: math.Inf(1)}
		for _, s := range ss {
			if s.At > start && s.At <= end.At {
				floor.RSSMiB = math.Min(floor.RSSMiB, s.RSSMiB)
			}
		}
		if !math.IsInf(floor.RSSMiB, 1) {
			floors = append(floors, floor)
		}
	}
	second := floors[len(floors)/2:]
	rssSlope := slope(second, func(s sample) float64 { return s.RSSMiB })
	var sampled []sample
	for _, s := range ss {
		if s.At >= halfAt && s.At <= roundEnds[len(roundEnds)-1].At {
			sampled = append(sampled, s)
		}
	}
	names := float64(r.opt.Agents) * float64(len(roundEnds)) / (roundEnds[len(roundEnds)-1].At / 60)
	r.addf("## hostile cardinality: %d rounds of %d new agent names (%d per request) and %d spans with a 1 MiB agent name and a 1 MiB error.type", r.opt.CardRounds, r.opt.Agents, perReq, r.opt.BigValues)
	r.addf("- accepted %d name spans (%d failed), %d big-value spans (%d failed); accepted by the receiver %.0f", sent.Load(), failed.Load(), bigSent, bigFailed, tel.Accepted)
	for i, s := range roundEnds {
		r.addf("- after round %d (%.0f s): RSS %.1f MiB, peak so far %.1f MiB; after a GC: heap alloc %.1f, in use %.1f, idle %.1f, released %.1f MiB",
			i+1, s.At, s.RSSMiB, s.HWMMiB, live[i].HeapAlloc, live[i].HeapInuse, live[i].HeapIdle, live[i].HeapReleased)
	}
	last := ss[len(ss)-1]
	r.addf("- RSS peak (VmHWM) %.1f MiB, last %.1f MiB; per-round floors %s MiB", last.HWMMiB, last.RSSMiB, floorList(floors))
	r.addf("- slope of the floors over the second half (%d rounds, %.0f–%.0f s) %+.2f MiB/min (flat: under %.1f; %.0f new names a minute); of every 1 s sample there %+.2f MiB/min",
		len(second), halfAt, roundEnds[len(roundEnds)-1].At, rssSlope, r.opt.FlatMiBPerMin, names, slope(sampled, func(s sample) float64 { return s.RSSMiB }))
	r.addf("- overflow counted (otelcol_connector_amas_spanmetrics_series_overflowed + slo groups dropped + regression evictions): %.0f; labels sanitized: %.0f", tel.Overflow, sumFamilyText(raw, "otelcol_connector_amas_spanmetrics_labels_sanitized"))
	r.addf("- /metrics: %d series, scrape %v", series, scrapeTook.Round(time.Millisecond))
	var errs []error
	if failed.Load() > 0 || bigFailed > 0 {
		errs = append(errs, fmt.Errorf("%d name spans and %d big-value spans were not accepted", failed.Load(), bigFailed))
	}
	if len(second) >= 2 && rssSlope >= r.opt.FlatMiBPerMin {
		errs = append(errs, fmt.Errorf("the RSS floor grows %+.2f MiB/min over the second half, not flat (< %.1f)", rssSlope, r.opt.FlatMiBPerMin))
	}
	return errors.Join(errs...)
}

// memStats are the collector's runtime.MemStats right after a forced GC, in MiB, from the
// "# Name = value" lines of the pprof heap page in text form.
type memStats struct {
	// HeapAlloc is what the heap still references; HeapInuse adds the unused parts of the spans
	// holding it; HeapIdle−HeapReleased is free heap the runtime keeps mapped (counted in RSS).
	HeapAlloc, HeapInuse, HeapIdle, HeapReleased float64
}

func (m memStats) Retained() float64 { return m.HeapIdle - m.HeapReleased }

func (r *relRun) memStats(c *collector) memStats {
	var m memStats
	resp, err := r.client.Get("http://" + addr(c.Ports.Pprof) + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		for name, dst := range map[string]*float64{"HeapAlloc": &m.HeapAlloc, "HeapInuse": &m.HeapInuse, "HeapIdle": &m.HeapIdle, "HeapReleased": &m.HeapReleased} {
			if v, ok := strings.CutPrefix(line, "# "+name+" = "); ok {
				n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				*dst = n / (1 << 20)
			}
		}
	}
	return m
}

func floorList(ss []sample) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = strconv.FormatFloat(s.RSSMiB, 'f', 0, 64)
	}
	return strings.Join(parts, " ")
}

// heapProfile saves the collector's in-use heap (after a GC) under name in the output directory.
func (r *relRun) heapProfile(c *collector, name string) {
	b := &bench{}
	if err := b.fetch(c, "/debug/pprof/heap?gc=1", filepath.Join(r.opt.Out, name), 30*time.Second); err != nil {
		r.logf("heap profile %s: %v", name, err)
	}
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
	stop := r.sampling(c, t0, r.opt.Sample)
	res, genErr := r.gen(c, r.opt.SoakRate, r.opt.SoakFor, 100, 8, 510)
	ss := stop()
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
