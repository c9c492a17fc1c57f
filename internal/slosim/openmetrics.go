package slosim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"
)

// ScrapeInterval is how often the simulated Prometheus scrapes the collector's /metrics for the
// rules baseline.
const ScrapeInterval = 30 * time.Second

// Recorder keeps what Prometheus would scrape from the collector during a scenario: the
// amas_spanmetrics connector's counters per agent (a series is born with the agent's first run),
// the queue depth gauge, and any series a driver adds (the processor's own memory_usage SLI,
// which the generated memory rules read). Nothing is scraped while the collector is down.
type Recorder struct {
	series    map[string]*omSeries
	agents    []string
	cum       map[string]*agentCounters
	lastQueue float64
}

type agentCounters struct {
	runsOK, runsErr, toolsOK, toolsErr, runs, fast, cost, durSum float64
}

type omSeries struct {
	family, typ, name, labels string
	t                         []int64 // Unix ms
	v                         []float64
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{series: map[string]*omSeries{}, cum: map[string]*agentCounters{}, lastQueue: math.NaN()}
}

// Observe adds a tick's traffic to the counters and scrapes them when the tick ends on a scrape.
func (r *Recorder) Observe(tk *Tick) {
	for _, a := range tk.Agents {
		c, ok := r.cum[a.Name]
		if !ok {
			if a.Runs == 0 && a.Tools == 0 {
				continue
			}
			c = &agentCounters{}
			r.cum[a.Name] = c
			r.agents = append(r.agents, a.Name)
		}
		c.runsOK += float64(a.Runs - a.Failed)
		c.runsErr += float64(a.Failed)
		c.toolsOK += float64(a.Tools - a.ToolsFailed)
		c.toolsErr += float64(a.ToolsFailed)
		c.runs += float64(a.Runs)
		c.fast += float64(a.Runs - a.Slow)
		c.cost += a.CostUSD
		c.durSum += 0.6*float64(a.Runs-a.Slow) + 2.5*float64(a.Slow)
	}
	if !math.IsNaN(tk.Queue) {
		r.lastQueue = tk.Queue
	}
	if !tk.CollectorUp || tk.At.UnixNano()%int64(ScrapeInterval) != 0 {
		return
	}
	ts := tk.At.UnixMilli()
	for _, name := range r.agents {
		c := r.cum[name]
		ag := `agent="` + name + `",`
		r.Add("amas_agent_requests", "counter", "amas_agent_requests_total", ag+`operation="invoke_agent",status="ok"`, ts, c.runsOK)
		r.Add("amas_agent_requests", "counter", "amas_agent_requests_total", ag+`operation="invoke_agent",status="error"`, ts, c.runsErr)
		r.Add("amas_agent_requests", "counter", "amas_agent_requests_total", ag+`operation="execute_tool",status="ok"`, ts, c.toolsOK)
		r.Add("amas_agent_requests", "counter", "amas_agent_requests_total", ag+`operation="execute_tool",status="error"`, ts, c.toolsErr)
		r.Add("amas_agent_duration_seconds", "histogram", "amas_agent_duration_seconds_bucket", ag+`operation="invoke_agent",le="1.5"`, ts, c.fast)
		r.Add("amas_agent_duration_seconds", "histogram", "amas_agent_duration_seconds_bucket", ag+`operation="invoke_agent",le="+Inf"`, ts, c.runs)
		r.Add("amas_agent_duration_seconds", "histogram", "amas_agent_duration_seconds_count", ag+`operation="invoke_agent"`, ts, c.runs)
		r.Add("amas_agent_duration_seconds", "histogram", "amas_agent_duration_seconds_sum", ag+`operation="invoke_agent"`, ts, c.durSum)
		r.Add("amas_cost_usd", "counter", "amas_cost_usd_total", ag+`model="m"`, ts, c.cost)
	}
	if !math.IsNaN(r.lastQueue) {
		r.Add("amas_queue_depth_current", "gauge", "amas_queue_depth_current", `queue="default"`, ts, r.lastQueue)
	}
}

// Add records one sample (ts in Unix ms) of a series; family and typ are its OpenMetrics family.
func (r *Recorder) Add(family, typ, name, labels string, ts int64, v float64) {
	key := name + "{" + labels + "}"
	s, ok := r.series[key]
	if !ok {
		s = &omSeries{family: family, typ: typ, name: name, labels: labels}
		r.series[key] = s
	}
	s.t = append(s.t, ts)
	s.v = append(s.v, v)
}

// WriteOpenMetrics writes every series in the OpenMetrics text format that
// `promtool tsdb create-blocks-from openmetrics` reads: families not interleaved, each series'
// samples in time order.
func (r *Recorder) WriteOpenMetrics(w io.Writer) error {
	keys := make([]string, 0, len(r.series))
	for k := range r.series {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := r.series[keys[i]], r.series[keys[j]]
		if a.family != b.family {
			return a.family < b.family
		}
		return keys[i] < keys[j]
	})
	bw := bufio.NewWriterSize(w, 1<<20)
	family := ""
	for _, k := range keys {
		s := r.series[k]
		if s.family != family {
			family = s.family
			fmt.Fprintf(bw, "# TYPE %s %s\n", s.family, s.typ)
		}
		for i := range s.t {
			bw.WriteString(s.name)
			if s.labels != "" {
				bw.WriteString("{" + s.labels + "}")
			}
			bw.WriteByte(' ')
			bw.WriteString(strconv.FormatFloat(s.v[i], 'g', -1, 64))
			bw.WriteByte(' ')
			bw.WriteString(strconv.FormatFloat(float64(s.t[i])/1000, 'f', 3, 64))
			bw.WriteByte('\n')
		}
	}
	bw.WriteString("# EOF\n")
	return bw.Flush()
}
