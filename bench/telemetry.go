package main

import (
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// telemetry is what one scrape of a collector's own metrics (service.telemetry, the port in
// AMAS_TELEMETRY_PORT) says about spans in and spans lost. Counters are cumulative since start.
type telemetry struct {
	// Accepted is otelcol_receiver_accepted_spans: spans the OTLP receiver took in.
	Accepted float64
	// Refused: families whose name says refused (receiver refused spans: the memory limiter or a
	// downstream error pushed back to the client).
	Refused float64
	// Dropped: families whose name says failed or dropped (exporter send/enqueue failures,
	// receiver failed spans, alert notifications given up), plus spans a traces processor took in
	// and did not pass on (incoming − outgoing items).
	Dropped float64
	// Overflow counts data routed to an overflow series or evicted by a configured bound: the
	// bounds working as designed, not a loss of spans.
	Overflow float64
	// Skipped counts spans or values a component rejected as bad input.
	Skipped float64
	// Lost names every non-zero refused/dropped/skipped series, for the report.
	Lost map[string]float64
}

// overflowFamilies count the configured bounds at work (more series or operations than a limit
// allows); their data still lands in an overflow series or replaces the least recently seen.
var overflowFamilies = map[string]bool{
	"otelcol_connector_amas_spanmetrics_series_overflowed": true,
	"otelcol_processor_slo_groups_dropped":                 true,
	"otelcol_processor_regression_operations_evicted":      true,
	"otelcol_exporter_alert_values_dropped":                true,
}

// classify puts a family in refused, dropped, overflow, skipped or none of them.
func classify(name string) string {
	name = strings.TrimSuffix(name, "_total")
	switch {
	case overflowFamilies[name]:
		return "overflow"
	case strings.Contains(name, "refused"):
		return "refused"
	case strings.Contains(name, "failed"), strings.Contains(name, "dropped"), strings.HasSuffix(name, "_emit_errors"):
		return "dropped"
	case strings.HasSuffix(name, "_skipped"):
		return "skipped"
	}
	return ""
}

// scrapeTelemetry fetches and parses the collector's internal metrics endpoint.
func scrapeTelemetry(client *http.Client, url string) (telemetry, error) {
	resp, err := client.Get(url)
	if err != nil {
		return telemetry{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return telemetry{}, errors.New("GET " + url + ": " + resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return telemetry{}, err
	}
	return parseTelemetry(string(body))
}

func parseTelemetry(text string) (telemetry, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return telemetry{}, err
	}
	t := telemetry{Lost: map[string]float64{}}
	if _, ok := fams["otelcol_process_uptime"]; !ok {
		if _, ok := fams["otelcol_process_uptime_total"]; !ok {
			// Every collector reports it from the start: its absence means another endpoint.
			return t, errors.New("no otelcol_process_uptime: not a collector's internal telemetry")
		}
	}
	// The receiver's counters appear with the first span.
	for _, name := range []string{"otelcol_receiver_accepted_spans", "otelcol_receiver_accepted_spans_total"} {
		if f, ok := fams[name]; ok {
			t.Accepted += sumFamily(f)
		}
	}
	in := map[string]float64{}
	out := map[string]float64{}
	for name, f := range fams {
		base := strings.TrimSuffix(name, "_total")
		switch base {
		case "otelcol_processor_incoming_items", "otelcol_processor_outgoing_items":
			dst := in
			if base == "otelcol_processor_outgoing_items" {
				dst = out
			}
			for _, m := range f.GetMetric() {
				if label(m, "otel_signal") == "traces" {
					dst[label(m, "processor")] += value(m)
				}
			}
			continue
		}
		class := classify(name)
		if class == "" {
			continue
		}
		v := sumFamily(f)
		switch class {
		case "refused":
			t.Refused += v
		case "dropped":
			t.Dropped += v
		case "overflow":
			t.Overflow += v
		case "skipped":
			t.Skipped += v
		}
		if v != 0 && class != "overflow" {
			t.Lost[base] += v
		}
	}
	for proc, v := range in {
		if gap := v - out[proc]; gap > 0 {
			t.Dropped += gap
			t.Lost["processor "+proc+" traces incoming-outgoing"] += gap
		}
	}
	return t, nil
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

func sumFamily(f *dto.MetricFamily) float64 {
	var s float64
	for _, m := range f.GetMetric() {
		s += value(m)
	}
	return s
}

// lostDelta lists the loss series that grew between two scrapes, "name +n" sorted by name.
func lostDelta(before, after telemetry) []string {
	var out []string
	for k, v := range after.Lost {
		if d := v - before.Lost[k]; d > 0 {
			out = append(out, k+" +"+formatFloat(d))
		}
	}
	sort.Strings(out)
	return out
}

// countSeries fetches a Prometheus text endpoint and counts its samples (lines that are not
// comments), which is how many series a scrape returns; it also reports how long the scrape took.
func countSeries(client *http.Client, url string) (int, time.Duration, error) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return 0, time.Since(start), err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, time.Since(start), err
	}
	n := 0
	for line := range strings.SplitSeq(string(body), "\n") {
		if line != "" && line[0] != '#' {
			n++
		}
	}
	return n, time.Since(start), nil
}
