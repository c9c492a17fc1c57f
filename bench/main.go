// Command bench is otelcol-amas' end-to-end loopback benchmark. It runs two configurations of
// the same binary (bin/otelcol-amas) side by side in one run and loads them alternately at rising
// rates:
//
//	peer: config/peer-spanmetrics.yaml  OTLP → contrib span_metrics → prometheus
//	ours: config/otelcol-amas.yaml      the full default pipeline (amas_spanmetrics, slo, regression,
//	      + config/overlays/webhook.yaml  alert to a local webhook sink, prometheus)
//
// Figures come from the collector's own telemetry (otelcol_receiver_accepted_spans, refused,
// failed and dropped counters) and from /proc (CPU ticks, VmRSS, VmHWM). Load comes from the
// OpenTelemetry Go SDK (this program re-executed as a generator process, pinned to another CPU)
// and, for an exact-count calibration, from telemetrygen with --batch=false. See
// docs/benchmarks.md for the method and scripts/bench.sh for how `make bench` runs it.
//
//	go run ./bench [-long] [-out DIR] [-phases calibrate,ramp,profile,cardinality,instructions] ...
//	go run ./bench gen -endpoint 127.0.0.1:4317 -rate 10000 -duration 10s -agents 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := mainErr(os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr(args []string) error {
	// The benchmark starts its generators by re-executing itself with AMASBENCH_ROLE=gen.
	if os.Getenv("AMASBENCH_ROLE") == "gen" {
		return genMain(args, os.Stdout)
	}
	if len(args) > 0 && args[0] == "gen" {
		return genMain(args[1:], os.Stdout)
	}
	if len(args) > 0 && args[0] == "reliability" {
		return reliabilityMain(args[1:])
	}
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	opt, err := parseOptions(args)
	if err != nil {
		return err
	}
	fmt.Fprintf(opt.Log, "bench: results in %s\n", opt.Out)
	res, err := run(context.Background(), opt)
	if res != nil {
		report := markdown(res, opt)
		for _, prof := range append(res.Profiles, res.HeapProfiles...) {
			top := pprofTop(opt.Bin, prof)
			txt := strings.TrimSuffix(prof, ".pprof") + "-top.txt"
			_ = os.WriteFile(txt, []byte(top), 0o644)
			report += "- profile " + filepath.Base(prof) + ": `go tool pprof -top` in " + txt + "\n"
		}
		_ = os.WriteFile(filepath.Join(opt.Out, "report.md"), []byte(report), 0o644)
		fmt.Println(report)
		if len(res.Errors) > 0 && err == nil {
			err = errors.New(strconv.Itoa(len(res.Errors)) + " error(s) during the run; see " + opt.Out)
		}
	}
	return err
}

func parseOptions(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var (
		opt                      options
		long                     bool
		phases, rates, cards     string
		warmup, measure, cardMin time.Duration
	)
	fs.BoolVar(&long, "long", os.Getenv("BENCH_LONG") == "1", "longer steps, more rates (BENCH_LONG=1)")
	fs.StringVar(&opt.Repo, "repo", "", "repository root (default: found from the working directory)")
	fs.StringVar(&opt.Bin, "bin", "", "collector binary (default <repo>/bin/otelcol-amas)")
	fs.StringVar(&opt.Telemetrygen, "telemetrygen", "", "telemetrygen (default <repo>/.tools/bin/telemetrygen)")
	fs.StringVar(&opt.Out, "out", "", "output directory (default $TMPDIR/amas-bench-<time>)")
	fs.StringVar(&opt.CollectorCPUs, "collector-cpus", "1", "taskset CPU list for the collectors (empty: no pinning)")
	fs.StringVar(&opt.GenCPUs, "gen-cpus", "0", "taskset CPU list for the load generators (empty: no pinning)")
	fs.StringVar(&phases, "phases", "calibrate,ramp,profile,cardinality,instructions", "phases to run")
	fs.StringVar(&rates, "rates", "", "ramp rates in spans/s (default 10000,50000,100000,150000,200000,250000,300000,350000,400000; -long adds more)")
	fs.DurationVar(&warmup, "warmup", 0, "warm-up of each step (default 3s; -long 5s)")
	fs.DurationVar(&measure, "measure", 0, "measured window of each ramp step (default 6s; -long 30s)")
	fs.IntVar(&opt.Agents, "agents", 10, "distinct agents during the ramp")
	fs.StringVar(&cards, "cardinalities", "", "distinct agents of the cardinality steps (default 10,1000,100000; -long adds 10000)")
	fs.Float64Var(&opt.CardRate, "cardinality-rate", 20000, "spans/s of the cardinality steps")
	fs.DurationVar(&cardMin, "cardinality-min", 0, "shortest cardinality step (default 10s; -long 30s)")
	fs.IntVar(&opt.ProfileSeconds, "profile-seconds", 0, "CPU profile length (default 15; -long 30)")
	fs.Float64Var(&opt.ProfileRate, "profile-rate", 0, "spans/s while profiling (default 10000, or 80% of the lower highest sustained rate)")
	fs.IntVar(&opt.Senders, "senders", 4, "concurrent senders of the replay generator (each waits for its request's answer)")
	fs.DurationVar(&opt.InstrShort, "instructions-short", 20*time.Second, "instructions phase: the short run's load")
	fs.DurationVar(&opt.InstrLong, "instructions-long", 60*time.Second, "instructions phase: the long run's load")
	fs.Float64Var(&opt.InstrRate, "instructions-rate", 20000, "instructions phase: target spans/s (a collector under valgrind accepts fewer; the load follows)")
	fs.Func("instructions-env", "instructions phase: an extra VAR=value for the collectors (repeatable; GOGC=off counts the pipeline's own work without the garbage collector's)", func(v string) error {
		opt.InstrEnv = append(opt.InstrEnv, v)
		return nil
	})
	fs.IntVar(&opt.CalibrateTraces, "calibrate-traces", 1000, "telemetrygen traces (2 spans each) per pipeline in the calibration")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	pick := func(d *time.Duration, short, lng time.Duration) {
		if *d == 0 {
			*d = short
			if long {
				*d = lng
			}
		}
	}
	pick(&warmup, 3*time.Second, 5*time.Second)
	pick(&measure, 6*time.Second, 30*time.Second)
	pick(&cardMin, 10*time.Second, 30*time.Second)
	opt.Warmup, opt.Measure, opt.CardMin = warmup, measure, cardMin
	if opt.ProfileSeconds == 0 {
		opt.ProfileSeconds = 15
		if long {
			opt.ProfileSeconds = 30
		}
	}
	if rates == "" {
		rates = "10000,50000,100000,150000,200000,250000,300000,350000,400000"
		if long {
			rates = "5000,10000,25000,50000,75000,100000,125000,150000,175000,200000,225000,250000,275000,300000,350000,400000,450000,500000"
		}
	}
	var err error
	if opt.Rates, err = parseFloats(rates); err != nil {
		return opt, fmt.Errorf("-rates: %w", err)
	}
	if cards == "" {
		cards = "10,1000,100000"
		if long {
			cards = "10,1000,10000,100000"
		}
	}
	cardF, err := parseFloats(cards)
	if err != nil {
		return opt, fmt.Errorf("-cardinalities: %w", err)
	}
	for _, c := range cardF {
		opt.Cardinalities = append(opt.Cardinalities, int(c))
	}
	opt.Phases = map[string]bool{}
	for p := range strings.SplitSeq(phases, ",") {
		switch p = strings.TrimSpace(p); p {
		case "calibrate", "ramp", "profile", "cardinality", "instructions":
			opt.Phases[p] = true
		case "":
		default:
			return opt, fmt.Errorf("-phases: unknown phase %q (calibrate, ramp, profile, cardinality, instructions)", p)
		}
	}
	if opt.Repo == "" {
		if opt.Repo, err = findRepo(); err != nil {
			return opt, err
		}
	}
	if opt.Bin == "" {
		opt.Bin = filepath.Join(opt.Repo, "bin", "otelcol-amas")
	}
	if opt.Telemetrygen == "" {
		opt.Telemetrygen = filepath.Join(opt.Repo, ".tools", "bin", "telemetrygen")
	}
	for _, f := range []string{opt.Bin, opt.Telemetrygen} {
		if _, err := os.Stat(f); err != nil {
			return opt, fmt.Errorf("%s: %w (make build tools)", f, err)
		}
	}
	if opt.Out == "" {
		opt.Out = filepath.Join(os.TempDir(), "amas-bench-"+time.Now().UTC().Format("20060102-150405"))
	}
	if opt.Out, err = filepath.Abs(opt.Out); err != nil {
		return opt, err
	}
	opt.FlushWait = 16 * time.Second // both pipelines flush every 15 s
	opt.Log = os.Stderr
	return opt, nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		v, err := strconv.ParseFloat(part, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", part)
		}
		out = append(out, v)
	}
	return out, nil
}

// findRepo walks up from the working directory to the go.mod of the otelcol-amas module.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/otelcol-amas/otelcol-amas\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (run from the checkout or pass -repo)")
		}
		dir = parent
	}
}
