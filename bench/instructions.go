package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The instructions phase counts what each pipeline executes per span with valgrind's cachegrind,
// which counts instructions, not seconds: the count does not depend on what else the machine is
// doing, where CPU seconds on a shared two-core machine move by ±10 % from one step to the next.
// Each pipeline runs twice under cachegrind, loaded by the same replayed SDK requests for a short
// and a long time; the difference of the two totals divided by the difference of the accepted
// spans is the cost of one more span: start-up, shutdown and configuration cancel out. What
// remains is the work done per unit of time (timers, the Go runtime's background work), over the
// extra seconds of the long run: small beside the spans, and the same kind for both pipelines.
// Instructions are not cycles (cache misses and memory stalls are not counted): the ramp's CPU
// seconds remain the measure of time; this is the one that can tell a 5 % change apart.

// instrRun is one collector run under cachegrind.
type instrRun struct {
	Pipeline     string  `json:"pipeline"`
	Seconds      float64 `json:"load_s"`
	Accepted     float64 `json:"accepted_spans"`
	Instructions float64 `json:"instructions"`
}

// instrResult is a pipeline's instructions per span.
type instrResult struct {
	Pipeline string     `json:"pipeline"`
	Runs     []instrRun `json:"runs"`
	PerSpan  float64    `json:"instructions_per_span"`
}

func (b *bench) instructions(ctx context.Context, pls []pipeline) {
	for _, p := range pls {
		r := instrResult{Pipeline: p.Name}
		for _, d := range []time.Duration{b.opt.InstrShort, b.opt.InstrLong} {
			run, err := b.instrRun(ctx, p, d)
			if err != nil {
				b.fail("instructions %s %s: %v", p.Name, d, err)
				break
			}
			b.logf("instructions %-4s load %4.0fs: accepted %8.0f spans, %.4g instructions", p.Name, d.Seconds(), run.Accepted, run.Instructions)
			r.Runs = append(r.Runs, run)
		}
		if len(r.Runs) == 2 && r.Runs[1].Accepted > r.Runs[0].Accepted {
			r.PerSpan = (r.Runs[1].Instructions - r.Runs[0].Instructions) / (r.Runs[1].Accepted - r.Runs[0].Accepted)
			b.logf("instructions %-4s %.0f per span", p.Name, r.PerSpan)
		} else if len(r.Runs) == 2 {
			b.fail("instructions %s: the long run accepted no more spans than the short one", p.Name)
		}
		b.res.Instructions = append(b.res.Instructions, r)
	}
}

// instrRun starts the pipeline under cachegrind, replays the benchmark's agent runs at
// InstrRate (a valgrind-run collector carries a few thousand spans/s: senders wait for each
// Export, so the load follows what it accepts) for d, and stops it.
func (b *bench) instrRun(ctx context.Context, p pipeline, d time.Duration) (instrRun, error) {
	b.mu.Lock()
	b.dirSeq++
	dir := filepath.Join(b.opt.Out, fmt.Sprintf("%02d-%s-instructions-%.0fs", b.dirSeq, p.Name, d.Seconds()))
	b.mu.Unlock()
	out := filepath.Join(dir, "cachegrind.out")
	// cachegrind without its cache simulation counts instructions only; callgrind would count
	// the same but its call-graph bookkeeping trips over signals (SIGTERM at shutdown).
	wrap := []string{"valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=" + out}
	// No signal-based preemption under valgrind; one P matches the ramp, where the collector is
	// pinned to one core.
	env := append([]string{"GODEBUG=asyncpreemptoff=1", "GOMAXPROCS=1"}, b.opt.InstrEnv...)
	c, err := startWrapped(b.opt.Bin, p, dir, wrap, env, b.sink.URL(), 5*time.Minute, 5*time.Minute)
	if err != nil {
		return instrRun{}, err
	}
	b.logf("%s collector started under cachegrind (pid %d, %s)", p.Name, c.Pid(), dir)
	gen, err := runReplay(ctx, genConfig{Endpoint: c.OTLP(), Rate: b.opt.InstrRate, Duration: d, Agents: b.opt.Agents, ErrorEvery: 500}, 510, b.opt.Senders)
	if err == nil && gen.Failed > 0 {
		err = fmt.Errorf("%d spans failed to export: %s", gen.Failed, gen.Error)
	}
	var tel telemetry
	if err == nil {
		tel, err = scrapeTelemetry(b.client, c.TelemetryURL())
	}
	if stopErr := c.Stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return instrRun{}, err
	}
	if tel.Accepted != float64(gen.Exported) {
		return instrRun{}, fmt.Errorf("accepted %.0f spans, the generator exported %d", tel.Accepted, gen.Exported)
	}
	n, err := cachegrindTotal(out)
	return instrRun{Pipeline: p.Name, Seconds: d.Seconds(), Accepted: tel.Accepted, Instructions: n}, err
}

// cachegrindTotal reads the total instruction count ("summary:" or "totals:") of a cachegrind
// output file.
func cachegrindTotal(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, prefix := range []string{"summary:", "totals:"} {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				fields := strings.Fields(rest)
				if len(fields) == 0 {
					continue
				}
				return strconv.ParseFloat(fields[0], 64)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New(path + ": no summary or totals line")
}
