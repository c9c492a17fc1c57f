package harness

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Prometheus is a real Prometheus server (Debian's package) scraping the given targets every
// second, with exemplar storage on so a histogram's exemplars can be queried.
type Prometheus struct {
	*Process
	URL string
}

// PrometheusOptions configures StartPrometheusWith.
type PrometheusOptions struct {
	// Targets are host:port addresses scraped at /metrics.
	Targets []string
	// RuleFiles are rule files (recording/alerting) to load.
	RuleFiles []string
	// ScrapeInterval defaults to 1s; it is also the rule evaluation interval.
	ScrapeInterval time.Duration
	// RemoteWriteReceiver accepts remote-written samples at URL + "/api/v1/write", as a
	// central Prometheus that replicas push to.
	RemoteWriteReceiver bool
}

// StartPrometheus starts Prometheus scraping targets (host:port, path /metrics).
func StartPrometheus(tb testing.TB, targets ...string) *Prometheus {
	tb.Helper()
	return StartPrometheusWith(tb, PrometheusOptions{Targets: targets})
}

// StartPrometheusWith starts Prometheus with opts and waits until it is ready.
func StartPrometheusWith(tb testing.TB, opts PrometheusOptions) *Prometheus {
	tb.Helper()
	bin := SystemBinary(tb, "prometheus")
	if opts.ScrapeInterval == 0 {
		opts.ScrapeInterval = time.Second
	}
	dir := tb.TempDir()
	quoted := make([]string, len(opts.Targets))
	for i, t := range opts.Targets {
		quoted[i] = strconv.Quote(t)
	}
	rules := make([]string, len(opts.RuleFiles))
	for i, r := range opts.RuleFiles {
		rules[i] = strconv.Quote(r)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
rule_files: [%s]
scrape_configs:
  - job_name: otelcol-amas
    static_configs:
      - targets: [%s]
`, opts.ScrapeInterval, opts.ScrapeInterval, strings.Join(rules, ", "), strings.Join(quoted, ", "))
	port := FreePort(tb)
	p := &Prometheus{URL: "http://" + Addr(port)}
	args := []string{
		"--config.file=" + writeFile(tb, dir, "prometheus.yml", cfg),
		"--storage.tsdb.path=" + dir + "/data",
		"--web.listen-address=" + Addr(port),
		"--enable-feature=exemplar-storage",
		"--log.level=warn",
	}
	if opts.RemoteWriteReceiver {
		args = append(args, "--web.enable-remote-write-receiver")
	}
	p.Process = startProcess(tb, "prometheus", dir, bin, args...)
	p.stopOnCleanup(tb)
	waitHTTP200(tb, p.Process, p.URL+"/-/ready", 60*time.Second)
	return p
}

// Sample is one element of an instant-vector result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query and returns its vector; a failing query fails the test.
func (p *Prometheus) Query(tb testing.TB, promql string) []Sample {
	tb.Helper()
	s, err := p.TryQuery(promql)
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	return s
}

// TryQuery is Query returning the error instead, for use inside Eventually.
func (p *Prometheus) TryQuery(promql string) ([]Sample, error) {
	code, body, err := HTTPGet(p.URL + "/api/v1/query?query=" + url.QueryEscape(promql))
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", promql, err)
	}
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		return nil, fmt.Errorf("query %q: HTTP %d, decoding %q: %w", promql, code, body, err)
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", promql, resp.Error)
	}
	if resp.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %s, want vector", promql, resp.Data.ResultType)
	}
	out := make([]Sample, 0, len(resp.Data.Result))
	for _, r := range resp.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %q: %w", promql, s, err)
		}
		out = append(out, Sample{Metric: r.Metric, Value: v})
	}
	return out, nil
}

// Exemplar is one exemplar returned by /api/v1/query_exemplars.
type Exemplar struct {
	SeriesLabels map[string]string
	Labels       map[string]string // trace_id, span_id
	Value        float64
}

// QueryExemplars returns the exemplars of the series that promql selects over the last window.
func (p *Prometheus) QueryExemplars(promql string, window time.Duration) ([]Exemplar, error) {
	end := time.Now()
	start := end.Add(-window)
	u := fmt.Sprintf("%s/api/v1/query_exemplars?query=%s&start=%d&end=%d", p.URL, url.QueryEscape(promql), start.Unix(), end.Unix())
	_, body, err := HTTPGet(u)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels map[string]string `json:"labels"`
				Value  string            `json:"value"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		return nil, fmt.Errorf("exemplars %q: decoding %q: %w", promql, body, err)
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("exemplars %q: %s", promql, resp.Error)
	}
	var out []Exemplar
	for _, d := range resp.Data {
		for _, e := range d.Exemplars {
			v, _ := strconv.ParseFloat(e.Value, 64)
			out = append(out, Exemplar{SeriesLabels: d.SeriesLabels, Labels: e.Labels, Value: v})
		}
	}
	return out, nil
}

// RuleHealth returns how many rules Prometheus has loaded and evaluated at least once, and a
// line for each rule whose last evaluation failed (its name and error). Rules not evaluated yet
// (health "unknown") are in neither.
func (p *Prometheus) RuleHealth() (evaluated int, failed []string, err error) {
	code, body, err := HTTPGet(p.URL + "/api/v1/rules")
	if err != nil {
		return 0, nil, fmt.Errorf("rules: %w", err)
	}
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Status != "success" {
		return 0, nil, fmt.Errorf("rules: HTTP %d, %q: %v", code, body, err)
	}
	for _, g := range resp.Data.Groups {
		for _, r := range g.Rules {
			switch r.Health {
			case "ok":
				evaluated++
			case "err":
				failed = append(failed, g.Name+"/"+r.Name+": "+r.LastError)
			}
		}
	}
	return evaluated, failed, nil
}
