package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func mib(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB" }

func joinWhy(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func joinList(l []string) string { return strings.Join(l, "; ") }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func describeMachine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVer: runtime.Version(), Load1At: loadAvg1()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					kb, _ := strconv.ParseUint(f[1], 10, 64)
					m.MemMB = kb / 1024
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// summary are the headline figures of one pipeline.
type summary struct {
	MaxSustained  float64 // spans/s, collector on one core
	TopCPU        float64 // CPU-s per million spans at that rate
	CPUPerMillion float64 // mean over the ramp rates both pipelines sustained
	RSSAt10k      uint64
	RSSAtMax      uint64
	at10k         bool
}

func summarize(r *results, pipeline string, common map[float64]bool) summary {
	var s summary
	var cpuSum float64
	var n int
	for _, st := range r.Steps {
		if st.Phase != "ramp" || st.Pipeline != pipeline || !st.Sustained {
			continue
		}
		if st.Target >= s.MaxSustained {
			s.MaxSustained, s.RSSAtMax, s.TopCPU = st.Target, st.RSSMax, st.CPUPerMillion
		}
		if st.Target == 10000 {
			s.RSSAt10k, s.at10k = st.RSSMax, true
		}
		if common[st.Target] {
			cpuSum += st.CPUPerMillion
			n++
		}
	}
	if n > 0 {
		s.CPUPerMillion = cpuSum / float64(n)
	}
	return s
}

// commonRates are the ramp rates that both pipelines sustained (the last sustained attempt counts).
func commonRates(r *results) map[float64]bool {
	ok := map[string]map[float64]bool{"peer": {}, "ours": {}}
	for _, st := range r.Steps {
		if st.Phase == "ramp" && st.Sustained {
			ok[st.Pipeline][st.Target] = true
		}
	}
	out := map[float64]bool{}
	for rate := range ok["peer"] {
		if ok["ours"][rate] {
			out[rate] = true
		}
	}
	return out
}

func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "×"
}

// markdown renders the results as the tables docs/benchmarks.md shows.
func markdown(r *results, opt options) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	m := r.Machine
	p("## Run of %s\n\n", r.Started.Format("2006-01-02 15:04 UTC"))
	p("Machine: %d × %s, %d MiB, Linux %s, %s. Load average at start: %.2f. Collector pinned to CPU %q, load generator to CPU %q (GOMAXPROCS=1). Steps: %s warm-up + %s measured.\n\n",
		m.CPUs, m.Model, m.MemMB, m.Kernel, m.GoVer, m.Load1At, opt.CollectorCPUs, opt.GenCPUs, opt.Warmup, opt.Measure)
	common := commonRates(r)
	peer, ours := summarize(r, "peer", common), summarize(r, "ours", common)
	if len(common) > 0 || peer.MaxSustained > 0 || ours.MaxSustained > 0 {
		p("### Headline: ours (b) against the peer (a)\n\n")
		p("| figure | peer (a) | ours (b) | (b)/(a) | target |\n|---|---|---|---|---|\n")
		top := 0.0
		for _, r := range opt.Rates {
			top = max(top, r)
		}
		atTop := func(v float64) string {
			if v == top {
				return "≥ " + formatFloat(v) + " (top of the ramp)"
			}
			return formatFloat(v)
		}
		p("| highest sustained spans/s, collector on one core | %s | %s | %s | ≥ 0.7× |\n",
			atTop(peer.MaxSustained), atTop(ours.MaxSustained), ratio(ours.MaxSustained, peer.MaxSustained))
		if peer.TopCPU > 0 && ours.TopCPU > 0 {
			p("| spans/s per fully used core (10⁶ / CPU-s per million spans, at that rate) | %.0f | %.0f | %s | ≥ 0.7× |\n",
				1e6/peer.TopCPU, 1e6/ours.TopCPU, ratio(peer.TopCPU, ours.TopCPU))
		}
		p("| CPU-seconds per million spans (mean over the %d rates both sustained) | %.2f | %.2f | %s | ≤ 1.3× |\n",
			len(common), peer.CPUPerMillion, ours.CPUPerMillion, ratio(ours.CPUPerMillion, peer.CPUPerMillion))
		if peer.at10k && ours.at10k {
			p("| RSS at 10k spans/s | %s | %s | %s | |\n", mib(peer.RSSAt10k), mib(ours.RSSAt10k), ratio(float64(ours.RSSAt10k), float64(peer.RSSAt10k)))
		}
		p("| RSS at the highest sustained rate | %s | %s | %s | |\n\n", mib(peer.RSSAtMax), mib(ours.RSSAtMax), ratio(float64(ours.RSSAtMax), float64(peer.RSSAtMax)))
	}
	if has(r, "ramp") {
		p("### Ramp (%d distinct agents; SDK-built requests of 510 spans replayed by %d senders)\n\n", opt.Agents, opt.Senders)
		p("| target spans/s | pipeline | accepted spans/s | collector CPU (cores) | CPU-s / M spans | RSS max | other load on its CPU | generator CPU-s | load1 | sustained |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.Steps {
			if s.Phase == "ramp" {
				p("| %s | %s | %.0f | %.2f | %.2f | %s | %.0f%% | %.1f | %.1f | %s |\n", formatFloat(s.Target), s.Pipeline, s.AcceptedRate,
					s.CoreUtil, s.CPUPerMillion, mib(s.RSSMax), 100*s.OtherBusy, s.GenCPUSeconds, s.Load1, verdict(s))
			}
		}
		p("\n")
	}
	if has(r, "cardinality") {
		p("### Memory against the number of distinct agents (fresh collector each, %s spans/s)\n\n", formatFloat(opt.CardRate))
		p("| agents | pipeline | idle RSS | RSS after load + scrape | growth | peak RSS (VmHWM) | exporter series | scrape | CPU-s / M spans | overflowed/evicted | sustained |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.Steps {
			if s.Phase == "cardinality" {
				growth := int64(s.RSS) - int64(s.IdleRSS)
				series := strconv.Itoa(s.Series)
				if strings.Contains(s.Why, "scrape failed") {
					series = "scrape failed"
				}
				p("| %d | %s | %s | %s | %+.1f MiB | %s | %s | %.2fs | %.2f | %s | %s |\n", s.Agents, s.Pipeline, mib(s.IdleRSS), mib(s.RSS),
					float64(growth)/(1<<20), mib(s.HWM), series, s.ScrapeS, s.CPUPerMillion, formatFloat(s.Overflow), verdict(s))
			}
		}
		p("\n")
	}
	if has(r, "calibrate") || has(r, "profile") {
		p("### Calibration (telemetrygen, one span per request) and profile steps\n\n")
		p("| phase | pipeline | generator | spans sent | spans accepted | accepted spans/s | CPU-s / M spans | RSS max | sustained |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.Steps {
			if s.Phase == "calibrate" || s.Phase == "profile" {
				p("| %s | %s | %s | %d | %.0f | %.0f | %.2f | %s | %s |\n", s.Phase, s.Pipeline, s.Generator, s.Gen.Exported, s.StepAccepted,
					s.AcceptedRate, s.CPUPerMillion, mib(s.RSSMax), verdict(s))
			}
		}
		p("\n")
	}
	if len(r.Instructions) > 0 {
		p("### Instructions per span (valgrind cachegrind; independent of the machine's load)\n\n")
		p("Each pipeline twice under cachegrind, loaded for %s and %s; instructions per span = the difference of the totals over the difference of the accepted spans.\n\n", opt.InstrShort, opt.InstrLong)
		p("| pipeline | short run: spans, instructions | long run: spans, instructions | instructions per span |\n|---|---|---|---|\n")
		per := map[string]float64{}
		for _, ir := range r.Instructions {
			row := []string{ir.Pipeline, "", "", ""}
			for i, run := range ir.Runs {
				row[1+i] = fmt.Sprintf("%.0f, %.4g", run.Accepted, run.Instructions)
			}
			if ir.PerSpan > 0 {
				row[3] = fmt.Sprintf("%.0f", ir.PerSpan)
				per[ir.Pipeline] = ir.PerSpan
			}
			p("| %s |\n", strings.Join(row, " | "))
		}
		if per["peer"] > 0 && per["ours"] > 0 {
			p("\nOurs (b) against the peer (a): %.3f× the instructions per span.\n", per["ours"]/per["peer"])
		}
		p("\n")
	}
	p("Alert webhook posts received by the sink: %d.\n\n", r.Alerts)
	if len(r.Errors) > 0 {
		p("Errors:\n\n")
		for _, e := range r.Errors {
			p("- %s\n", e)
		}
		p("\n")
	}
	return w.String()
}

func verdict(s stepResult) string {
	if s.Sustained {
		return "yes"
	}
	return "no: " + strings.ReplaceAll(s.Why, "|", "/")
}

func has(r *results, phase string) bool {
	for _, s := range r.Steps {
		if s.Phase == phase {
			return true
		}
	}
	return false
}

// pprofTop renders a CPU profile with `go tool pprof -top`, flat and cumulative; a heap profile
// by in-use bytes.
func pprofTop(bin, profile string) string {
	var out strings.Builder
	runs := [][]string{
		{"tool", "pprof", "-top", "-nodecount=30", bin, profile},
		{"tool", "pprof", "-top", "-cum", "-nodecount=45", bin, profile},
	}
	if strings.Contains(filepath.Base(profile), "heap") {
		runs = [][]string{
			{"tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=30", bin, profile},
			{"tool", "pprof", "-top", "-cum", "-sample_index=inuse_space", "-nodecount=40", bin, profile},
		}
	}
	for _, args := range runs {
		b, err := exec.Command("go", args...).CombinedOutput()
		out.WriteString("$ go " + strings.Join(args, " ") + "\n")
		if err != nil {
			out.WriteString("error: " + err.Error() + "\n")
		}
		out.Write(b)
		out.WriteString("\n")
	}
	return out.String()
}
