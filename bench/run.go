package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// options of one benchmark run (flags of the `run` subcommand; see main.go).
type options struct {
	Repo, Bin, Telemetrygen, Out string
	// CollectorCPUs and GenCPUs are taskset CPU lists; empty: no pinning.
	CollectorCPUs, GenCPUs string
	Phases                 map[string]bool
	Rates                  []float64 // ramp, spans/s
	Warmup, Measure        time.Duration
	Agents                 int // distinct agents during the ramp
	Cardinalities          []int
	CardRate               float64
	CardMin                time.Duration // shortest cardinality step
	ProfileSeconds         int
	ProfileRate            float64 // 0: 70% of the lower of the two highest sustained rates
	Senders                int     // concurrent senders of the replay generator
	CalibrateTraces        int     // telemetrygen traces (2 spans each) per pipeline
	// InstrShort and InstrLong are the loads of the instructions phase's two runs, at InstrRate.
	InstrShort, InstrLong time.Duration
	InstrRate             float64
	InstrEnv              []string // extra environment of the collectors (e.g. GOGC=off)
	// FlushWait is how long a cardinality step waits after the load before scraping: longer than
	// the flush intervals (15 s for both pipelines).
	FlushWait time.Duration
	Log       io.Writer
}

// stepResult is one measured load step on one pipeline.
type stepResult struct {
	Phase     string  `json:"phase"`
	Pipeline  string  `json:"pipeline"`
	Generator string  `json:"generator"`
	Target    float64 `json:"target_spans_per_s"`
	Agents    int     `json:"agents"`

	MeasureS     float64   `json:"measure_s"`
	AcceptedRate float64   `json:"accepted_spans_per_s"` // over the measure window
	StepAccepted float64   `json:"step_accepted"`        // the whole step, once drained
	Gen          genResult `json:"gen"`

	Refused  float64  `json:"refused"`
	Dropped  float64  `json:"dropped"`
	Skipped  float64  `json:"skipped"`
	Overflow float64  `json:"overflow"`
	Lost     []string `json:"lost,omitempty"`

	CPUSeconds    float64 `json:"cpu_s"`
	CPUPerMillion float64 `json:"cpu_s_per_million_spans"`
	CoreUtil      float64 `json:"core_util"`       // collector CPU-s per wall second
	OtherBusy     float64 `json:"other_busy"`      // share of the collector's CPUs busy with other processes
	GenCPUSeconds float64 `json:"gen_cpu_s"`       // the load generator's CPU over its whole run
	RSS           uint64  `json:"rss_bytes"`       // at the end of the step
	RSSMax        uint64  `json:"rss_max_bytes"`   // highest sample during the step
	HWM           uint64  `json:"rss_peak_bytes"`  // VmHWM since the collector started
	IdleRSS       uint64  `json:"idle_rss_bytes"`  // cardinality steps: before any load
	Series        int     `json:"exporter_series"` // samples a scrape of the prometheus exporter returned
	ScrapeS       float64 `json:"exporter_scrape_s"`
	Load1         float64 `json:"load1"`

	Sustained bool   `json:"sustained"`
	Why       string `json:"why,omitempty"`
}

// results is everything a run measured (written as results.json).
type results struct {
	Started  time.Time    `json:"started"`
	Machine  machineInfo  `json:"machine"`
	Options  optionsJSON  `json:"options"`
	Steps    []stepResult `json:"steps"`
	Profiles []string     `json:"profiles,omitempty"`
	// HeapProfiles are in-use heap profiles at the end of each cardinality step.
	HeapProfiles []string `json:"heap_profiles,omitempty"`
	Alerts       int64    `json:"alert_webhook_posts"`
	// Instructions is the instructions phase: per pipeline, instructions per span under cachegrind.
	Instructions []instrResult `json:"instructions,omitempty"`
	Errors       []string      `json:"errors,omitempty"`
}

type optionsJSON struct {
	CollectorCPUs string    `json:"collector_cpus"`
	GenCPUs       string    `json:"generator_cpus"`
	Rates         []float64 `json:"rates"`
	WarmupS       float64   `json:"warmup_s"`
	MeasureS      float64   `json:"measure_s"`
	Agents        int       `json:"agents"`
	Cardinalities []int     `json:"cardinalities"`
	CardRate      float64   `json:"cardinality_rate"`
}

type machineInfo struct {
	CPUs    int     `json:"cpus"`
	Model   string  `json:"cpu_model"`
	MemMB   uint64  `json:"mem_mb"`
	Kernel  string  `json:"kernel"`
	GoVer   string  `json:"go"`
	Load1At float64 `json:"load1_at_start"`
}

// bench holds what the phases share.
type bench struct {
	opt    options
	res    *results
	sink   *alertSink
	client *http.Client
	self   string
	mu     sync.Mutex
	dirSeq int
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.opt.Log, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func (b *bench) pipelines() []pipeline {
	cfg := filepath.Join(b.opt.Repo, "config")
	peerOverlay := b.writeFile("peer-pprof.yaml", pprofOverlay("health_check"))
	oursOverlay := b.writeFile("ours-pprof.yaml", pprofOverlay("health_check, file_storage"))
	return []pipeline{
		{Name: "peer", Configs: []string{filepath.Join(cfg, "peer-spanmetrics.yaml"), peerOverlay}},
		// The webhook overlay: alerts are delivered over HTTP to the sink, as a deployment would.
		{Name: "ours", Configs: []string{filepath.Join(cfg, "otelcol-amas.yaml"), filepath.Join(cfg, "overlays", "webhook.yaml"), oursOverlay}},
	}
}

func (b *bench) writeFile(name, content string) string {
	p := filepath.Join(b.opt.Out, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		panic(err) // the output directory was just created: only a full disk gets here
	}
	return p
}

func (b *bench) start(p pipeline, tag string) (*collector, error) {
	b.mu.Lock()
	b.dirSeq++
	dir := filepath.Join(b.opt.Out, fmt.Sprintf("%02d-%s-%s", b.dirSeq, p.Name, tag))
	b.mu.Unlock()
	c, err := startCollector(b.opt.Bin, p, dir, b.opt.CollectorCPUs, b.sink.URL())
	if err == nil {
		b.logf("%s collector started (pid %d, %s)", p.Name, c.Pid(), dir)
	}
	return c, err
}

func (b *bench) stop(c *collector) {
	if err := c.Stop(); err != nil {
		b.fail("%s collector: %v", c.Pipeline.Name, err)
	}
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.logf("ERROR %s", msg)
	b.res.Errors = append(b.res.Errors, msg)
}

// run executes the selected phases and returns the results (also written to opt.Out).
func run(ctx context.Context, opt options) (*results, error) {
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sink, err := startAlertSink()
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	b := &bench{opt: opt, sink: sink, self: self, client: &http.Client{Timeout: 10 * time.Second},
		res: &results{Started: time.Now().UTC(), Machine: describeMachine(), Options: optionsJSON{
			CollectorCPUs: opt.CollectorCPUs, GenCPUs: opt.GenCPUs, Rates: opt.Rates,
			WarmupS: opt.Warmup.Seconds(), MeasureS: opt.Measure.Seconds(), Agents: opt.Agents,
			Cardinalities: opt.Cardinalities, CardRate: opt.CardRate,
		}}}
	pls := b.pipelines()
	if opt.Phases["calibrate"] || opt.Phases["ramp"] || opt.Phases["profile"] {
		if err := b.longRunning(ctx, pls); err != nil {
			return b.res, err
		}
	}
	if opt.Phases["cardinality"] {
		b.cardinality(ctx, pls)
	}
	if opt.Phases["instructions"] {
		b.instructions(ctx, pls)
	}
	b.res.Alerts = sink.posts.Load()
	js, _ := json.MarshalIndent(b.res, "", "  ")
	b.writeFile("results.json", string(js)+"\n")
	return b.res, nil
}

// longRunning starts one collector per pipeline and keeps both for the calibration, the ramp and
// the profiles, loading one at a time (the idle one costs next to nothing).
func (b *bench) longRunning(ctx context.Context, pls []pipeline) error {
	cols := make([]*collector, len(pls))
	for i, p := range pls {
		c, err := b.start(p, "ramp")
		if err != nil {
			for _, s := range cols[:i] {
				b.stop(s)
			}
			return err
		}
		cols[i] = c
	}
	defer func() {
		for _, c := range cols {
			b.stop(c)
		}
	}()
	if b.opt.Phases["calibrate"] {
		for _, c := range cols {
			b.calibrate(ctx, c)
		}
	}
	if b.opt.Phases["ramp"] {
		b.ramp(ctx, cols)
	}
	if b.opt.Phases["profile"] {
		b.profile(ctx, cols)
	}
	return nil
}

// calibrate checks the counting with an independent client: telemetrygen with --batch=false
// (one export per span) sends an exact number of spans, which the collector's
// otelcol_receiver_accepted_spans must show exactly.
func (b *bench) calibrate(ctx context.Context, c *collector) {
	traces := b.opt.CalibrateTraces
	rate := 500.0 // traces/s (2 spans each): 1000 spans/s, one gRPC request per span
	args := []string{"traces", "--otlp-endpoint", c.OTLP(), "--otlp-insecure", "--batch=false",
		"--workers", "1", "--traces", strconv.Itoa(traces), "--child-spans", "1", "--rate", formatFloat(rate),
		"--service", "bench-telemetrygen",
		"--telemetry-attributes", `gen_ai.operation.name="invoke_agent"`,
		"--telemetry-attributes", `gen_ai.agent.name="telemetrygen-agent"`}
	want := float64(2 * traces)
	step := stepResult{Phase: "calibrate", Pipeline: c.Pipeline.Name, Generator: "telemetrygen --batch=false", Target: 2 * rate, Agents: 1}
	b.measure(ctx, c, &step, func() (genResult, float64, error) {
		var out bytes.Buffer
		cmd, cancel := b.pinned(b.opt.GenCPUs, b.opt.Telemetrygen, args...)
		defer cancel()
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		r := genResult{Created: int64(want), Exported: int64(want), Runs: int64(traces), Elapsed: time.Since(start).Seconds()}
		if err != nil {
			r.Exported, r.Failed = 0, int64(want)
			return r, 0, fmt.Errorf("telemetrygen: %v\n%s", err, lastLines(out.String(), 20))
		}
		return r, cpuOf(cmd), nil
	}, time.Duration(float64(traces)/rate*float64(time.Second)))
	if step.StepAccepted != want {
		step.Sustained = false
		step.Why = joinWhy(step.Why, fmt.Sprintf("accepted %s of the %s spans telemetrygen sent", formatFloat(step.StepAccepted), formatFloat(want)))
	}
	b.record(step)
}

// ramp loads the two pipelines alternately at rising rates (the order flips each rate) until each
// has failed to sustain a rate twice in a row (a failure is retried once: the machine is shared).
func (b *bench) ramp(ctx context.Context, cols []*collector) {
	failures := make([]int, len(cols))
	for ri, rate := range b.opt.Rates {
		order := []int{0, 1}
		if ri%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			c := cols[i]
			for failures[i] < 2 {
				step := b.genStep(ctx, c, "ramp", "replay", rate, b.opt.Agents, b.opt.Measure, true)
				b.record(step)
				if step.Sustained {
					failures[i] = 0
					break
				}
				failures[i]++
				if failures[i] < 2 {
					b.logf("%s did not sustain %s spans/s (%s); retrying once", c.Pipeline.Name, formatFloat(rate), step.Why)
				}
			}
		}
		if failures[0] >= 2 && failures[1] >= 2 {
			return
		}
	}
}

// profile takes a CPU profile of each pipeline under the same steady load (ours first: it is the
// one the report explains).
func (b *bench) profile(ctx context.Context, cols []*collector) {
	rate := b.opt.ProfileRate
	if rate == 0 {
		// 70% of the lower of the two highest sustained rates: busy, but below saturation, so
		// the profile shows the work per span rather than queueing.
		rate = 50000
		if peer, ours := b.maxSustained("peer"), b.maxSustained("ours"); peer > 0 && ours > 0 {
			rate = 0.7 * min(peer, ours)
		}
	}
	for _, i := range []int{1, 0} {
		c := cols[i]
		dur := time.Duration(b.opt.ProfileSeconds) * time.Second
		path := filepath.Join(b.opt.Out, c.Pipeline.Name+"-cpu.pprof")
		var perr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(b.opt.Warmup)
			perr = b.fetchProfile(c, path, b.opt.ProfileSeconds)
		}()
		step := b.genStep(ctx, c, "profile", "replay", rate, b.opt.Agents, dur, false)
		wg.Wait()
		b.record(step)
		if perr != nil {
			b.fail("%s CPU profile: %v", c.Pipeline.Name, perr)
			continue
		}
		b.res.Profiles = append(b.res.Profiles, path)
		b.logf("%s CPU profile written to %s", c.Pipeline.Name, path)
	}
}

func (b *bench) fetchProfile(c *collector, path string, seconds int) error {
	return b.fetch(c, "/debug/pprof/profile?seconds="+strconv.Itoa(seconds), path, time.Duration(seconds+30)*time.Second)
}

// fetch saves what the collector's pprof extension serves at pathQuery into path.
func (b *bench) fetch(c *collector, pathQuery, path string, timeout time.Duration) error {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get("http://" + addr(c.Ports.Pprof) + pathQuery)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cardinality runs each pipeline fresh for each number of distinct agents and records how its
// memory grows: idle RSS, RSS after every agent was seen (at least once) and a scrape of the
// exporter (what Prometheus would fetch), and the peak.
func (b *bench) cardinality(ctx context.Context, pls []pipeline) {
	for ci, n := range b.opt.Cardinalities {
		order := []int{0, 1}
		if ci%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			p := pls[i]
			c, err := b.start(p, "agents-"+strconv.Itoa(n))
			if err != nil {
				b.fail("%v", err)
				continue
			}
			idle := b.settledRSS(c)
			// Long enough for every agent to send at least one run.
			need := time.Duration(float64(n)*spansPerRun/b.opt.CardRate*1.1*float64(time.Second)) + b.opt.Warmup
			dur := max(b.opt.CardMin, need)
			step := b.genStep(ctx, c, "cardinality", "sdk", b.opt.CardRate, n, dur-b.opt.Warmup, false)
			step.IdleRSS = idle
			// Past the pipeline's flush interval, then what Prometheus would fetch. A scrape that
			// fails or times out is a result (the exporter cannot serve that many series in time),
			// not an error of the benchmark.
			time.Sleep(b.flushWait(p))
			series, took, err := countSeries(&http.Client{Timeout: 20 * time.Second}, c.MetricsURL())
			if err != nil {
				step.Why = joinWhy(step.Why, "exporter scrape failed: "+err.Error())
				step.Sustained = false
			}
			step.Series, step.ScrapeS = series, took.Seconds()
			if m, err := readProcMem(c.Pid()); err == nil {
				step.RSS, step.HWM = m.RSS, m.HWM
				step.RSSMax = max(step.RSSMax, m.RSS)
			}
			// Where the memory is: a heap profile (in-use bytes) of each cardinality step.
			heap := filepath.Join(b.opt.Out, p.Name+"-heap-agents-"+strconv.Itoa(n)+".pprof")
			if err := b.fetch(c, "/debug/pprof/heap?gc=1", heap, 30*time.Second); err != nil {
				b.fail("%s heap profile with %d agents: %v", p.Name, n, err)
			} else {
				b.res.HeapProfiles = append(b.res.HeapProfiles, heap)
			}
			b.stop(c)
			b.record(step)
		}
	}
}

// flushWait is how long to wait for a pipeline's span metrics to reach its exporter: both
// flush every 15 s (amas_spanmetrics by default, the peer's span_metrics as configured).
func (b *bench) flushWait(pipeline) time.Duration {
	return b.opt.FlushWait
}

// settledRSS is the RSS of an idle collector a moment after start.
func (b *bench) settledRSS(c *collector) uint64 {
	time.Sleep(2 * time.Second)
	m, err := readProcMem(c.Pid())
	if err != nil {
		return 0
	}
	return m.RSS
}

// genStep runs the generator (mode replay or sdk) against c at rate for warmup+measure and measures the window.
func (b *bench) genStep(ctx context.Context, c *collector, phase, mode string, rate float64, agents int, measure time.Duration, midScrape bool) stepResult {
	step := stepResult{Phase: phase, Pipeline: c.Pipeline.Name, Generator: mode, Target: rate, Agents: agents}
	dur := b.opt.Warmup + measure
	b.measure(ctx, c, &step, func() (genResult, float64, error) {
		cmd, cancel := b.pinned(b.opt.GenCPUs, b.self, "-mode", mode, "-endpoint", c.OTLP(), "-rate", formatFloat(rate),
			"-duration", dur.String(), "-agents", strconv.Itoa(agents), "-workers", strconv.Itoa(max(1, b.opt.Senders)))
		defer cancel()
		cmd.Env = append(cmd.Env, "AMASBENCH_ROLE=gen")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if midScrape {
			// One scrape of the exporter in the middle of the window, as Prometheus would (every
			// 10–15 s), so its cost is part of the CPU measured.
			scraped := make(chan struct{})
			t := time.AfterFunc(b.opt.Warmup+measure/2, func() {
				defer close(scraped)
				step.Series, _, _ = countSeries(b.client, c.MetricsURL())
			})
			defer func() {
				if t.Stop() {
					return
				}
				<-scraped
			}()
		}
		err := cmd.Run()
		var r genResult
		if err != nil {
			return r, cpuOf(cmd), fmt.Errorf("generator: %v\n%s", err, lastLines(errOut.String(), 20))
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			return r, cpuOf(cmd), fmt.Errorf("generator output %q: %v", out.String(), err)
		}
		if r.Error != "" {
			return r, cpuOf(cmd), errors.New("generator: " + r.Error)
		}
		return r, cpuOf(cmd), nil
	}, dur)
	return step
}

// measure runs gen (which must take about total) against c, snapshotting the collector's
// telemetry, CPU ticks and memory at the end of the warm-up and at the end of the load, then waits
// for the collector to have accepted everything the generator exported, and fills step.
func (b *bench) measure(ctx context.Context, c *collector, step *stepResult, gen func() (genResult, float64, error), total time.Duration) {
	step.Load1 = loadAvg1()
	before, err := scrapeTelemetry(b.client, c.TelemetryURL())
	if err != nil {
		step.Why = "telemetry scrape: " + err.Error()
		return
	}
	type snap struct {
		t     time.Time
		tel   telemetry
		ticks uint64
		cpus  cpuTimes
		err   error
	}
	take := func() snap {
		s := snap{t: time.Now()}
		s.tel, s.err = scrapeTelemetry(b.client, c.TelemetryURL())
		if s.err == nil {
			s.ticks, s.err = procCPUTicks(c.Pid())
		}
		if s.err == nil {
			s.cpus, s.err = readCPUTimes()
		}
		return s
	}
	var genRes genResult
	var genCPU float64
	var genErr error
	genDone := make(chan struct{})
	go func() {
		defer close(genDone)
		genRes, genCPU, genErr = gen()
	}()
	started := time.Now()
	var rssMax atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := readProcMem(c.Pid()); err == nil && m.RSS > rssMax.Load() {
				rssMax.Store(m.RSS)
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()
	// The measured window: from the end of the warm-up to the end of the load (or the generator
	// ending early).
	warm := min(b.opt.Warmup, total/4)
	var s1, s2 snap
	select {
	case <-time.After(warm):
		s1 = take()
	case <-genDone:
	}
	select {
	case <-time.After(time.Until(started.Add(total))):
		s2 = take()
	case <-genDone:
		s2 = take()
	}
	<-genDone
	step.Gen, step.GenCPUSeconds = genRes, genCPU
	if genErr != nil {
		step.Why = joinWhy(step.Why, genErr.Error())
	}
	// Drain: everything exported must show as accepted (a few batches may still be in flight).
	var after telemetry
	deadline := time.Now().Add(15 * time.Second)
	for {
		after, err = scrapeTelemetry(b.client, c.TelemetryURL())
		if err == nil && after.Accepted-before.Accepted >= float64(genRes.Exported) {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stopSampling)
	<-sampled
	if err != nil {
		step.Why = joinWhy(step.Why, "telemetry scrape: "+err.Error())
		return
	}
	if m, err := readProcMem(c.Pid()); err == nil {
		step.RSS, step.HWM = m.RSS, m.HWM
		rssMax.Store(max(rssMax.Load(), m.RSS))
	}
	step.RSSMax = rssMax.Load()
	step.StepAccepted = after.Accepted - before.Accepted
	step.Refused = after.Refused - before.Refused
	step.Dropped = after.Dropped - before.Dropped
	step.Skipped = after.Skipped - before.Skipped
	step.Overflow = after.Overflow - before.Overflow
	step.Lost = lostDelta(before, after)
	if s1.t.IsZero() || s1.err != nil || s2.err != nil {
		step.Why = joinWhy(step.Why, "no measurement window (the load ended during the warm-up, or a snapshot failed)")
		return
	}
	dt := s2.t.Sub(s1.t).Seconds()
	acc := s2.tel.Accepted - s1.tel.Accepted
	step.MeasureS = dt
	step.AcceptedRate = acc / dt
	step.CPUSeconds = float64(s2.ticks-s1.ticks) / userHZ
	step.CoreUtil = step.CPUSeconds / dt
	if acc > 0 {
		step.CPUPerMillion = step.CPUSeconds / acc * 1e6
	}
	step.OtherBusy = otherBusy(s1.cpus, s2.cpus, b.opt.CollectorCPUs, step.CPUSeconds, dt)
	b.judge(step)
}

// judge decides whether the step's rate was sustained and says why not.
func (b *bench) judge(s *stepResult) {
	var why []string
	if s.Refused > 0 {
		why = append(why, "refused "+formatFloat(s.Refused))
	}
	if s.Dropped > 0 {
		why = append(why, "dropped "+formatFloat(s.Dropped))
	}
	if s.Gen.Failed > 0 {
		why = append(why, "generator export failures "+formatFloat(float64(s.Gen.Failed)))
	}
	if s.StepAccepted < float64(s.Gen.Exported) {
		why = append(why, "accepted "+formatFloat(s.StepAccepted)+" < exported "+formatFloat(float64(s.Gen.Exported)))
	}
	// The calibration checks counts only: telemetrygen's one request per span sets its own pace.
	if s.Phase != "calibrate" && s.AcceptedRate < 0.95*s.Target {
		w := "accepted " + strconv.FormatFloat(s.AcceptedRate, 'f', 0, 64) + " spans/s < 95% of " + formatFloat(s.Target)
		if s.CoreUtil < 0.85 && s.OtherBusy < 0.15 {
			w += " (collector core not saturated: generator-bound?)"
		}
		why = append(why, w)
	}
	if s.Why != "" {
		why = append([]string{s.Why}, why...)
	}
	s.Sustained = len(why) == 0
	s.Why = joinList(why)
}

func (b *bench) record(s stepResult) {
	b.res.Steps = append(b.res.Steps, s)
	verdict := "sustained"
	if !s.Sustained {
		verdict = "NOT sustained: " + s.Why
	}
	b.logf("%-11s %-4s target %7s spans/s agents %6d: accepted %8.0f/s, CPU %.2f core, %.2f CPU-s/M spans, RSS %s (max %s), other load on its CPU %.0f%%, gen CPU %.1fs — %s",
		s.Phase, s.Pipeline, formatFloat(s.Target), s.Agents, s.AcceptedRate, s.CoreUtil, s.CPUPerMillion,
		mib(s.RSS), mib(s.RSSMax), 100*s.OtherBusy, s.GenCPUSeconds, verdict)
}

func (b *bench) maxSustained(pipeline string) float64 {
	best := 0.0
	for _, s := range b.res.Steps {
		if s.Phase == "ramp" && s.Pipeline == pipeline && s.Sustained {
			best = max(best, s.Target)
		}
	}
	return best
}

// pinned is name args run under taskset on cpus (when cpus is set). Every load generator is
// killed if it is still running two minutes after the longest step could need: the benchmark
// always ends by itself.
func (b *bench) pinned(cpus, name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), b.maxStep()+2*time.Minute)
	var cmd *exec.Cmd
	if cpus == "" {
		cmd = exec.CommandContext(ctx, name, args...)
	} else {
		cmd = exec.CommandContext(ctx, "taskset", append([]string{"-c", cpus, name}, args...)...)
	}
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, cancel
}

// maxStep bounds the length of any load step.
func (b *bench) maxStep() time.Duration {
	longest := b.opt.Warmup + max(b.opt.Measure, time.Duration(b.opt.ProfileSeconds)*time.Second, b.opt.CardMin)
	for _, n := range b.opt.Cardinalities {
		longest = max(longest, b.opt.Warmup+time.Duration(float64(n)*spansPerRun/b.opt.CardRate*1.1*float64(time.Second)))
	}
	return longest
}

func cpuOf(cmd *exec.Cmd) float64 {
	if cmd.ProcessState == nil {
		return 0
	}
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

// otherBusy is the share of the collector's CPUs that other processes kept busy during the window:
// (busy ticks of those CPUs − the collector's own) / (their total ticks).
func otherBusy(a, b cpuTimes, cpuList string, collectorCPU, dt float64) float64 {
	cpus := parseCPUList(cpuList, len(a.Busy))
	var busy, total float64
	for _, i := range cpus {
		if i < len(a.Busy) && i < len(b.Busy) {
			busy += float64(b.Busy[i] - a.Busy[i])
			total += float64(b.Total[i] - a.Total[i])
		}
	}
	if total == 0 {
		return 0
	}
	other := (busy/userHZ - collectorCPU) / (total / userHZ)
	return max(0, other)
}

// parseCPUList reads a taskset list such as "1" or "0,2-3"; empty means every CPU.
func parseCPUList(s string, n int) []int {
	var out []int
	if s == "" {
		for i := range n {
			out = append(out, i)
		}
		return out
	}
	for _, part := range bytes.Split([]byte(s), []byte(",")) {
		lo, hi, found := bytes.Cut(part, []byte("-"))
		a, err := strconv.Atoi(string(lo))
		if err != nil {
			continue
		}
		z := a
		if found {
			if z, err = strconv.Atoi(string(hi)); err != nil {
				continue
			}
		}
		for i := a; i <= z; i++ {
			out = append(out, i)
		}
	}
	return out
}

// alertSink stands in for the alert webhook: it accepts and counts every POST.
type alertSink struct {
	srv   *http.Server
	ln    net.Listener
	posts atomic.Int64
}

func startAlertSink() (*alertSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &alertSink{ln: ln}
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.posts.Add(1)
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *alertSink) URL() string { return "http://" + s.ln.Addr().String() + "/alerts" }
func (s *alertSink) Close()      { _ = s.srv.Close() }
