package slorender

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// Origin says where the Prometheus rules of an SLO read its events from.
type Origin string

const (
	// FromConnector: the SLI is recomputed from the amas_spanmetrics connector's counters
	// (or a gauge), so Prometheus evaluates it across every collector replica.
	FromConnector Origin = "connector"
	// FromProcessor: the SLI cannot be written in PromQL over the connector's metrics (an OTTL
	// condition with no matching label, a gauge whose Prometheus name is unknown...): the rules
	// read the processor's own amas_slo_* series, which carry its windows but not its event
	// counts.
	FromProcessor Origin = "processor"
)

// Source is how the rules compute one SLO's events.
type Source struct {
	Origin Origin
	// Exact is true when the rules evaluate what the processor evaluates, up to the scrape and
	// rule intervals and Prometheus' extrapolation of increase().
	Exact bool
	// Notes say what is approximated and why (rendered as comments and in the definitions).
	Notes []string

	// by are the PromQL labels the events are aggregated by (connector labels), and rename maps
	// them to the processor's group labels (the group_by key with dots as underscores).
	by     []string
	rename [][2]string
	// groupLabels are the processor's group label names (for FromProcessor and for `on(...)`).
	groupLabels []string

	kind srcKind
	// hourlyFrom > 0 (ModeCentral, occurrences span SLOs): windows of at least this length are
	// sums of the hourly records.
	hourlyFrom time.Duration
	// noDataBy is the source of the per-group no-data (no_data_group_by), nil without.
	noDataBy *Source
	// spans, occurrences or timeslices:
	total  string // selector of the counter of all events (spans: requests or histogram count)
	bad    string // selector of the counter of bad events (status), when badLE == ""
	bucket string // histogram bucket selector with le = threshold: bad = total − bucket
	// ratio SLI:
	num, den string
	// gauge SLI:
	gauge string
	// threshold and the comparison for which a value is good (ratio, gauge).
	threshold float64
	cmp       slomath.Comparison
}

type srcKind int

const (
	kindProcessor srcKind = iota
	kindSpans
	kindRatio
	kindGauge
)

var (
	reAttrEq  = regexp.MustCompile(`^attributes\["([^"]+)"\]\s*==\s*"([^"\\]*)"$`)
	reStatus  = regexp.MustCompile(`^status\.code\s*==\s*STATUS_CODE_ERROR$`)
	reSlow    = regexp.MustCompile(`^end_time_unix_nano\s*-\s*start_time_unix_nano\s*>\s*([0-9]+)$`)
	labelName = regexp.MustCompile(`[^a-zA-Z0-9_]`)
)

// promLabel is the label name the Prometheus exporter gives an attribute key.
func promLabel(key string) string {
	s := labelName.ReplaceAllString(key, "_")
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "key_" + s
	}
	return s
}

// mapSource decides how the rules compute s, given the connector (nil when the configuration
// has none), and how they compute its per-group no-data (nodata.go).
func mapSource(s SLO, conn *spanmetrics.Config) Source {
	src := mapEvents(s, conn)
	src.noDataBy = mapNoDataGroups(s, conn)
	return src
}

// mapEvents decides how the rules compute the events of s.
func mapEvents(s SLO, conn *spanmetrics.Config) Source {
	src := Source{Origin: FromProcessor, kind: kindProcessor}
	for _, g := range s.Config.GroupBy {
		src.groupLabels = append(src.groupLabels, promLabel(g))
	}
	fallback := func(why string) Source {
		out := Source{Origin: FromProcessor, kind: kindProcessor, groupLabels: src.groupLabels}
		out.Notes = append(out.Notes, why,
			"read from the processor's amas_slo_sli_ratio{window} and amas_slo_error_budget_remaining_percent (the worst replica wins); the processor's min_events cannot be applied (its event counts are not exported); no-data means the processor stopped reporting the SLO")
		return out
	}
	if conn == nil {
		return fallback("the configuration has no amas_spanmetrics connector")
	}
	ns := conn.Namespace
	sli := s.Config.SLI
	switch {
	case sli.Spans != nil:
		return mapSpans(s, conn, ns, src, fallback)
	case sli.Ratio != nil:
		r := sli.Ratio
		num, ok1 := counterName(ns, r.Numerator.Name)
		den, ok2 := counterName(ns, r.Denominator.Name)
		if !ok1 || !ok2 {
			return fallback("sli.ratio: only the amas_spanmetrics connector's counters have a known Prometheus name")
		}
		// The connector's counters carry its configured dimensions too.
		by, ok := metricGroupBy(s.Config.GroupBy, conn.Dimensions)
		if !ok {
			return fallback("group_by: not a label name of the connector's metrics")
		}
		src.Origin, src.kind, src.by = FromConnector, kindRatio, by
		src.num = selector(num, r.Numerator.Attributes)
		src.den = selector(den, r.Denominator.Attributes)
		src.threshold = r.Threshold
		src.cmp, _ = slomath.ParseComparison(r.Comparison)
		src.Notes = append(src.Notes, sliceNote(s))
		return src
	case sli.Gauge != nil:
		g := sli.Gauge
		if len(g.Metrics) != 1 {
			return fallback("sli.gauge.metrics: several metrics in order of preference per resource cannot be written in PromQL")
		}
		name, ok := gaugeName(ns, g.Metrics[0].Name)
		if !ok {
			return fallback("sli.gauge.metrics[0].name: only the amas_spanmetrics connector's gauges have a known Prometheus name")
		}
		if s.Config.Budgeting.MaxBadRatio != 0 {
			return fallback("budgeting.max_bad_ratio: a share of bad gauge points per slice is not visible in scraped samples")
		}
		// The connector's gauges carry no dimensions.
		by, ok := metricGroupBy(s.Config.GroupBy, nil)
		if !ok {
			return fallback("group_by: not a label name of the connector's metrics")
		}
		src.Origin, src.kind, src.by = FromConnector, kindGauge, by
		src.gauge = selector(name, g.Metrics[0].Attributes)
		src.threshold = g.Threshold
		src.cmp, _ = slomath.ParseComparison(g.Comparison)
		src.Notes = append(src.Notes, sliceNote(s),
			"a slice is bad when a scraped sample is bad: the processor sees every point the agents send, Prometheus the last value at each scrape")
		return src
	}
	return fallback("no SLI source")
}

func sliceNote(s SLO) string {
	return "timeslices: Prometheus records one slice per rule evaluation (group interval = the slice, " +
		slomath.FormatWindow(s.Config.Budgeting.Slice) +
		") from increase() over it; the processor's slices are aligned to the epoch, so slice edges may differ by up to one rule interval"
}

func mapSpans(s SLO, conn *spanmetrics.Config, ns string, src Source, fallback func(string) Source) Source {
	sp := s.Config.SLI.Spans
	labels := map[string]string{}
	exact := true
	var notes []string
	if len(sp.Conditions) == 0 {
		return fallback("sli.spans.conditions: the connector counts spans by operation; one condition naming the operation is needed")
	}
	for _, part := range strings.Split(sp.Conditions[0], " and ") {
		m := reAttrEq.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			return fallback("sli.spans.conditions[0]: " + strconvQuote(part) + " has no equivalent label on the connector's metrics")
		}
		switch m[1] {
		case conn.Attributes.OperationName:
			if !slices.Contains(conn.Operations.Agent, m[2]) && !slices.Contains(conn.Operations.Tool, m[2]) && !slices.Contains(conn.Operations.Model, m[2]) {
				return fallback("sli.spans.conditions[0]: operation " + strconvQuote(m[2]) + " is not one the connector counts (operations.agent/tool/model)")
			}
			labels["operation"] = m[2]
		case conn.Attributes.AgentName:
			labels["agent"] = m[2]
			exact = false
			notes = append(notes, "agent: the connector also charges a span without "+m[1]+" to its nearest ancestor's agent, the processor's condition does not")
		default:
			return fallback("sli.spans.conditions[0]: attribute " + strconvQuote(m[1]) + " is not a label of the connector's metrics")
		}
	}
	if _, ok := labels["operation"]; !ok {
		return fallback("sli.spans.conditions[0]: the connector counts only classified operations; the condition must name " + conn.Attributes.OperationName)
	}
	// Further conditions are accepted only when they are the connector's own profile
	// equivalents of that operation: its metrics already count those spans under it.
	if extra := sp.Conditions[1:]; len(extra) > 0 && !slices.Equal(extra, sloprocessor.ProfileConditions(labels["operation"])) {
		return fallback("sli.spans.conditions: the connector counts spans by operation; beside the condition naming the operation, only its instrumentation-profile equivalents (as in the default SLOs) have a label on the connector's metrics")
	}
	if len(sp.BadConditions) != 1 {
		return fallback("sli.spans.bad_conditions: several bad conditions (any may hold) overlap, which counters cannot subtract")
	}
	var by []string
	for _, g := range s.Config.GroupBy {
		switch g {
		case conn.Attributes.AgentName:
			by = append(by, "agent")
			src.rename = append(src.rename, [2]string{"agent", promLabel(g)})
			if exact {
				notes = append(notes, "group_by "+g+": the connector also charges a span without it to its nearest ancestor's agent")
			}
			exact = false
		case conn.Attributes.OperationName:
			by = append(by, "operation")
			src.rename = append(src.rename, [2]string{"operation", promLabel(g)})
		default:
			// A connector dimension is read as the processor reads group_by (span, then
			// resource) and named as the processor's group label: service.name → service_name.
			if !isDimension(g, conn.Dimensions) {
				return fallback("group_by: " + strconvQuote(g) + " is not a label of the connector's metrics (add it to the connector's dimensions)")
			}
			by = append(by, promLabel(g))
		}
	}
	bad := strings.TrimSpace(sp.BadConditions[0])
	switch {
	case reStatus.MatchString(bad):
		src.total = selector(ns+"_agent_requests_total", labels)
		withStatus := map[string]string{"status": "error"}
		for k, v := range labels {
			withStatus[k] = v
		}
		src.bad = selector(ns+"_agent_requests_total", withStatus)
	case reSlow.MatchString(bad):
		n, err := strconv.ParseInt(reSlow.FindStringSubmatch(bad)[1], 10, 64)
		if err != nil {
			return fallback("sli.spans.bad_conditions[0]: duration out of range")
		}
		if conn.Histogram.Type != "explicit" || !slices.Contains(conn.Histogram.Explicit.Buckets, time.Duration(n)) {
			return fallback("sli.spans.bad_conditions[0]: " + time.Duration(n).String() + " is not a bucket bound of the connector's duration histogram (histogram.explicit.buckets)")
		}
		src.total = selector(ns+"_agent_duration_seconds_count", labels)
		src.bucket = selector(ns+"_agent_duration_seconds_bucket", labels) // le added by leMatcher
		src.bucket = strings.TrimSuffix(src.bucket, "}") + "," + leMatcher(time.Duration(n).Seconds()) + "}"
	default:
		return fallback("sli.spans.bad_conditions[0]: " + strconvQuote(bad) + " has no equivalent on the connector's metrics (error status and duration above a bucket bound do)")
	}
	src.Origin, src.kind, src.by, src.Exact = FromConnector, kindSpans, by, exact
	if s.Timeslices() {
		src.Exact = false
		notes = append(notes, sliceNote(s))
	}
	src.Notes = append(src.Notes, notes...)
	return src
}

// leMatcher matches the bucket bound v as the Prometheus exporter writes it: OpenMetrics writes
// integral bounds as "2.0", the text format as "2".
func leMatcher(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		return `le=~"` + s + `(\\.0)?"`
	}
	return `le="` + s + `"`
}

// counterName is the Prometheus name of one of the connector's counters.
func counterName(ns, otel string) (string, bool) {
	for _, n := range []string{"agent.requests", "agent.errors", "tool.calls", "tokens.used", "cost.usd"} {
		if otel == ns+"."+n {
			return ns + "_" + strings.ReplaceAll(n, ".", "_") + "_total", true
		}
	}
	return "", false
}

// gaugeName is the Prometheus name of one of the connector's gauges.
func gaugeName(ns, otel string) (string, bool) {
	for _, n := range []string{"queue_depth.current", "active_agents.current"} {
		if otel == ns+"."+n {
			return ns + "_" + strings.ReplaceAll(n, ".", "_"), true
		}
	}
	return "", false
}

// metricGroupBy: a metric SLI groups by the points' attributes, which are the connector's label
// names (agent, model, operation, queue...) and the dimensions dims of its metrics, named as
// Prometheus shows them.
func metricGroupBy(keys []string, dims []spanmetrics.Dimension) ([]string, bool) {
	var by []string
	for _, k := range keys {
		if promLabel(k) != k && !isDimension(k, dims) {
			return nil, false
		}
		by = append(by, promLabel(k))
	}
	return by, true
}

// isDimension reports whether key is one of the connector's extra dimensions.
func isDimension(key string, dims []spanmetrics.Dimension) bool {
	return slices.ContainsFunc(dims, func(d spanmetrics.Dimension) bool { return d.Name == key })
}

// selector writes name{k="v",...} with the labels sorted.
func selector(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(promLabel(k))
		b.WriteByte('=')
		b.WriteString(strconvQuote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func strconvQuote(s string) string { return strconv.Quote(s) }
