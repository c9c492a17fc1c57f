package slorender

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// Board is one generated dashboard.
type Board struct {
	UID       string
	Dashboard dashboard.Dashboard
}

// Dashboard UIDs (stable, so links between them and provisioning updates keep working).
const (
	UIDOverview    = "amas-slo-overview"
	UIDAgents      = "amas-agents-red"
	UIDTokensCost  = "amas-tokens-cost"
	UIDRegressions = "amas-regressions"
)

var dsRef = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// query is one Prometheus target.
func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(dsRef).Expr(expr).LegendFormat(legend)
}

func targets(qs ...*prometheus.DataqueryBuilder) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(qs))
	for i, qq := range qs {
		out[i] = qq
	}
	return out
}

func thresholds(steps ...any) *dashboard.ThresholdsConfigBuilder {
	var ts []dashboard.Threshold
	for i := 0; i+1 < len(steps); i += 2 {
		t := dashboard.Threshold{Color: steps[i+1].(string)}
		if v, ok := steps[i].(float64); ok {
			t.Value = cog.ToPtr(v)
		}
		ts = append(ts, t)
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(ts)
}

func variables(b *dashboard.DashboardBuilder, withAgent, withSLO bool) *dashboard.DashboardBuilder {
	b = b.WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus"))
	if withSLO {
		b = b.WithVariable(dashboard.NewQueryVariableBuilder("slo").Label("SLO").Datasource(dsRef).
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(amas_slo_objective_ratio, slo)")}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Multi(true).IncludeAll(true).AllValue(".*"))
	}
	if withAgent {
		b = b.WithVariable(dashboard.NewQueryVariableBuilder("agent").Label("Agent").Datasource(dsRef).
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(amas_agent_requests_total, agent)")}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Multi(true).IncludeAll(true).AllValue(".*"))
	}
	return b
}

func links(b *dashboard.DashboardBuilder, jaeger string) *dashboard.DashboardBuilder {
	return b.Link(dashboard.NewDashboardLinkBuilder("otelcol-amas").Type(dashboard.DashboardLinkTypeDashboards).
		Tags([]string{"otelcol-amas"}).AsDropdown(true).KeepTime(true).IncludeVars(false)).
		Link(dashboard.NewDashboardLinkBuilder("Jaeger").Type(dashboard.DashboardLinkTypeLink).
			Url(jaeger + "/search").TargetBlank(true).Icon("external link").Tooltip("Traces of the agents"))
}

func newBoard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).Uid(uid).Description(description).
		Tags([]string{"otelcol-amas", "generated"}).Refresh("30s").Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).Tooltip(dashboard.DashboardCursorSyncCrosshair).Editable()
}

// traceLink opens a trace in Jaeger from a data point that carries trace_id (exemplars).
func traceLink(jaeger string) []cog.Builder[dashboard.DashboardLink] {
	return []cog.Builder[dashboard.DashboardLink]{
		dashboard.NewDashboardLinkBuilder("Trace in Jaeger").Url(jaeger + "/trace/${__data.fields.trace_id}").TargetBlank(true),
	}
}

// tsPanel is a time series panel with a visible legend and a tooltip listing every series.
func tsPanel() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
}

// tablePanel is a table panel (the SDK leaves the footer's reducer null, which Grafana's schema
// does not allow).
func tablePanel() *table.PanelBuilder {
	return table.NewPanelBuilder().Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}))
}

// Dashboards builds the four dashboards from the SLOs.
func Dashboards(c *Collector, opts Options) ([]Board, error) {
	jaeger := strings.TrimRight(opts.JaegerURL, "/")
	builders := []struct {
		uid string
		b   *dashboard.DashboardBuilder
	}{
		{UIDOverview, overview(c, jaeger)},
		{UIDAgents, agents(c, jaeger)},
		{UIDTokensCost, tokensCost(c, jaeger)},
		{UIDRegressions, regressions(jaeger)},
	}
	var out []Board
	for _, x := range builders {
		d, err := x.b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", x.uid, err)
		}
		// Stable panel ids (1, 2, …) so links to a panel (viewPanel=…) survive a regeneration.
		var id uint32
		for _, p := range d.Panels {
			id++
			switch {
			case p.Panel != nil:
				p.Panel.Id = cog.ToPtr(id)
			case p.RowPanel != nil:
				p.RowPanel.Id = id
			}
		}
		out = append(out, Board{UID: x.uid, Dashboard: d})
	}
	return out, nil
}

func overview(c *Collector, jaeger string) *dashboard.DashboardBuilder {
	b := newBoard(UIDOverview, "otelcol-amas · SLO overview",
		"Every SLO the slo processor evaluates: error budget remaining, compliance, burn rate per alert window and the alerts. Generated by amas-slo from the collector configuration.")
	b = links(variables(b, false, true), jaeger)
	b = b.WithRow(dashboard.NewRowBuilder("All SLOs")).
		WithPanel(stat.NewPanelBuilder().Title("Error budget remaining").Span(12).Height(6).Unit("percent").
			Description("amas_slo_error_budget_remaining_percent: 100% untouched, 0% spent, negative overspent.").
			Thresholds(thresholds(nil, "red", 5.0, "orange", 15.0, "yellow", 25.0, "green")).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			Targets(targets(query("A", `min by (slo) (amas_slo_error_budget_remaining_percent{slo=~"$slo"})`, "{{slo}}")))).
		WithPanel(stat.NewPanelBuilder().Title("Compliance").Span(6).Height(6).
			Description("1 while the SLI over the SLO window meets the objective.").
			Thresholds(thresholds(nil, "red", 1.0, "green")).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			Targets(targets(query("A", `min by (slo) (amas_slo_compliance{slo=~"$slo"})`, "{{slo}}")))).
		WithPanel(stat.NewPanelBuilder().Title("Firing alerts").Span(6).Height(6).
			Description("amas_alerts series firing now (SLO and regression alerts of the processors).").
			Thresholds(thresholds(nil, "green", 1.0, "red")).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			Targets(targets(query("A", `count(amas_alerts{alertstate="firing"} == 1) or vector(0)`, "firing")))).
		WithPanel(tablePanel().Title("Alerts").Span(24).Height(8).
			Description("Firing and pending alerts of the slo and regression processors (amas_alerts), with the severity the alert exporter routes on.").
			Targets(targets(query("A", `max by (alertname, alertstate, severity, slo, operation, type, long_window, short_window) (amas_alerts{alertstate=~"firing|pending"} == 1) or vector(0)`, "").Instant().Format(prometheus.PromQueryFormatTable)))).
		WithPanel(tsPanel().Title("Error budget remaining over time").Span(12).Height(8).Unit("percent").
			Targets(targets(query("A", `min by (slo) (amas_slo_error_budget_remaining_percent{slo=~"$slo"})`, "{{slo}}")))).
		WithPanel(tsPanel().Title("Violations (alerts starting to fire)").Span(12).Height(8).
			Targets(targets(query("A", `sum by (slo, severity) (increase(amas_slo_violations_total{slo=~"$slo"}[$__rate_interval]))`, "{{slo}} {{severity}}"))))

	// One row per SLO: its burn rate per alert window against the rule factors, its SLI and its
	// budget burn-down, labelled with what the processor was configured with.
	for _, s := range c.SLOs {
		name := s.Config.Name
		title := fmt.Sprintf("%s — objective %s over %s (%s)", name, num(s.Config.Objective), dur(s.Config.Window), budgeting(s))
		var ws []string
		for _, w := range s.Windows {
			if w != s.Config.Window {
				ws = append(ws, dur(w))
			}
		}
		var steps []any
		steps = append(steps, nil, "green")
		seen := map[string]bool{}
		for _, r := range s.Rules {
			// The hard-down page's line is its error ratio as a burn rate at this objective.
			f := round(r.Threshold(s.Config.Objective, s.Config.Window))
			if seen[num(f)] {
				continue
			}
			seen[num(f)] = true
			color := "orange"
			if r.Severity == slomath.Page {
				color = "red"
			}
			steps = append(steps, f, color)
		}
		burn := tsPanel().Title(name + ": burn rate per window").Span(12).Height(8).
			Description("amas_slo_error_budget_burn_rate per alert window; the threshold lines are the factors of the burn-rate rules (red: page, orange: ticket). An alert needs both windows of a pair above its factor.").
			Thresholds(thresholds(steps...)).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine)).
			Targets(targets(query("A", fmt.Sprintf(`max by (window) (amas_slo_error_budget_burn_rate{slo=%q,window=~%q})`, name, strings.Join(ws, "|")), "{{window}}")))
		sli := tsPanel().Title(name + ": SLI and budget").Span(12).Height(8).Unit("percentunit").
			Description("SLI over the SLO window against the objective, and the share of the error budget left.").
			Targets(targets(
				query("A", fmt.Sprintf(`min(amas_slo_sli_ratio{slo=%q,window=%q})`, name, dur(s.Config.Window)), "SLI "+dur(s.Config.Window)),
				query("B", fmt.Sprintf(`max(amas_slo_objective_ratio{slo=%q})`, name), "objective"),
				query("C", fmt.Sprintf(`min(amas_slo_error_budget_remaining_percent{slo=%q}) / 100`, name), "budget remaining"),
			))
		b = b.WithRow(dashboard.NewRowBuilder(title)).WithPanel(burn).WithPanel(sli)
	}
	return b
}

func agents(c *Collector, jaeger string) *dashboard.DashboardBuilder {
	ns := "amas"
	if c.Connector != nil {
		ns = c.Connector.Namespace
	}
	sel := `agent=~"$agent"`
	b := newBoard(UIDAgents, "otelcol-amas · agents (RED)",
		"Rate, errors and duration per agent from the amas_spanmetrics connector. Exemplars on the latency panel link slow requests to their traces in Jaeger.")
	b = links(variables(b, true, false), jaeger)
	req := fmt.Sprintf(`sum by (agent) (rate(%s_agent_requests_total{%s,operation="invoke_agent"}[$__rate_interval]))`, ns, sel)
	b = b.WithRow(dashboard.NewRowBuilder("Rate and errors")).
		WithPanel(tsPanel().Title("Agent runs per second").Span(12).Height(8).Unit("reqps").
			Targets(targets(query("A", req, "{{agent}}")))).
		WithPanel(tsPanel().Title("Requests per second by operation").Span(12).Height(8).Unit("reqps").
			Targets(targets(query("A", fmt.Sprintf(`sum by (agent, operation) (rate(%s_agent_requests_total{%s}[$__rate_interval]))`, ns, sel), "{{agent}} {{operation}}")))).
		WithPanel(tsPanel().Title("Error ratio of agent runs").Span(12).Height(8).Unit("percentunit").
			Description("Failed invoke_agent spans over all; 0 when nothing failed.").
			Targets(targets(query("A", fmt.Sprintf(`(sum by (agent) (rate(%[1]s_agent_requests_total{%[2]s,operation="invoke_agent",status="error"}[$__rate_interval])) or 0 * %[3]s) / (%[3]s > 0)`, ns, sel, req), "{{agent}}")))).
		WithPanel(tsPanel().Title("Errors per second by type").Span(12).Height(8).
			Targets(targets(query("A", fmt.Sprintf(`sum by (agent, operation, error_type) (rate(%s_agent_errors_total{%s}[$__rate_interval]))`, ns, sel), "{{agent}} {{operation}} {{error_type}}")))).
		WithRow(dashboard.NewRowBuilder("Duration")).
		WithPanel(tsPanel().Title("Agent run latency p50 / p95 / p99 (exemplars → Jaeger)").Span(24).Height(9).Unit("s").
			Description("From the amas_agent_duration_seconds histogram. The dots are exemplars: the slowest spans of each interval, each linked to its trace in Jaeger (the Prometheus data source's exemplar link, see grafana_datasource.yaml).").
			DataLinks(traceLink(jaeger)).
			Targets(targets(
				query("A", fmt.Sprintf(`histogram_quantile(0.95, sum by (le, agent) (rate(%s_agent_duration_seconds_bucket{%s,operation="invoke_agent"}[$__rate_interval])))`, ns, sel), "p95 {{agent}}").Exemplar(true),
				query("B", fmt.Sprintf(`histogram_quantile(0.5, sum by (le, agent) (rate(%s_agent_duration_seconds_bucket{%s,operation="invoke_agent"}[$__rate_interval])))`, ns, sel), "p50 {{agent}}"),
				query("C", fmt.Sprintf(`histogram_quantile(0.99, sum by (le, agent) (rate(%s_agent_duration_seconds_bucket{%s,operation="invoke_agent"}[$__rate_interval])))`, ns, sel), "p99 {{agent}}"),
			))).
		WithPanel(tsPanel().Title("p95 latency by operation").Span(12).Height(8).Unit("s").
			DataLinks(traceLink(jaeger)).
			Targets(targets(query("A", fmt.Sprintf(`histogram_quantile(0.95, sum by (le, operation) (rate(%s_agent_duration_seconds_bucket{%s}[$__rate_interval])))`, ns, sel), "{{operation}}").Exemplar(true)))).
		WithPanel(tsPanel().Title("Tool calls per second").Span(12).Height(8).Unit("reqps").
			Targets(targets(query("A", fmt.Sprintf(`sum by (agent, tool, status) (rate(%s_tool_calls_total{%s}[$__rate_interval]))`, ns, sel), "{{agent}} {{tool}} {{status}}")))).
		WithRow(dashboard.NewRowBuilder("Saturation")).
		WithPanel(tsPanel().Title("Active agents").Span(12).Height(7).
			Targets(targets(query("A", fmt.Sprintf(`sum(%s_active_agents_current)`, ns), "active agents")))).
		WithPanel(tsPanel().Title("Queue depth").Span(12).Height(7).
			Targets(targets(query("A", fmt.Sprintf(`max by (queue) (%s_queue_depth_current)`, ns), "{{queue}}"))))
	return b
}

func tokensCost(c *Collector, jaeger string) *dashboard.DashboardBuilder {
	ns := "amas"
	if c.Connector != nil {
		ns = c.Connector.Namespace
	}
	sel := `agent=~"$agent"`
	b := newBoard(UIDTokensCost, "otelcol-amas · tokens and cost",
		"Token usage and USD cost per agent and model from the amas_spanmetrics connector (cost from the span attribute, else tokens × the connector's price table).")
	b = links(variables(b, true, false), jaeger)
	perRequest := tsPanel().Title("Cost per agent run").Span(12).Height(8).Unit("currencyUSD").
		Description("Increase of amas_cost_usd_total over that of invoke_agent requests, per agent.").
		Targets(targets(query("A", fmt.Sprintf(`sum by (agent) (increase(%[1]s_cost_usd_total{%[2]s}[$__rate_interval])) / (sum by (agent) (increase(%[1]s_agent_requests_total{%[2]s,operation="invoke_agent"}[$__rate_interval])) > 0)`, ns, sel), "{{agent}}")))
	// The cost_efficiency-like SLOs give the panel its threshold line.
	for _, s := range c.SLOs {
		if r := s.Config.SLI.Ratio; r != nil && strings.HasSuffix(r.Numerator.Name, ".cost.usd") {
			perRequest = perRequest.Thresholds(thresholds(nil, "green", r.Threshold, "red")).
				ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))
			break
		}
	}
	b = b.WithRow(dashboard.NewRowBuilder("Cost")).
		WithPanel(stat.NewPanelBuilder().Title("Cost over the time range").Span(6).Height(6).Unit("currencyUSD").
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			Targets(targets(query("A", fmt.Sprintf(`sum(increase(%s_cost_usd_total{%s}[$__range]))`, ns, sel), "USD")))).
		WithPanel(tsPanel().Title("Cost per hour by agent").Span(18).Height(6).Unit("currencyUSD").
			Targets(targets(query("A", fmt.Sprintf(`sum by (agent) (rate(%s_cost_usd_total{%s}[$__rate_interval])) * 3600`, ns, sel), "{{agent}}")))).
		WithPanel(perRequest).
		WithPanel(tsPanel().Title("Cost per hour by model").Span(12).Height(8).Unit("currencyUSD").
			Targets(targets(query("A", fmt.Sprintf(`sum by (model) (rate(%s_cost_usd_total{%s}[$__rate_interval])) * 3600`, ns, sel), "{{model}}")))).
		WithRow(dashboard.NewRowBuilder("Tokens")).
		WithPanel(tsPanel().Title("Tokens per second by type").Span(12).Height(8).
			Targets(targets(query("A", fmt.Sprintf(`sum by (agent, token_type) (rate(%s_tokens_used_total{%s}[$__rate_interval]))`, ns, sel), "{{agent}} {{token_type}}")))).
		WithPanel(tsPanel().Title("Tokens per second by model").Span(12).Height(8).
			Targets(targets(query("A", fmt.Sprintf(`sum by (model, token_type) (rate(%s_tokens_used_total{%s}[$__rate_interval]))`, ns, sel), "{{model}} {{token_type}}"))))
	return b
}

func regressions(jaeger string) *dashboard.DashboardBuilder {
	b := newBoard(UIDRegressions, "otelcol-amas · performance regressions",
		"Per-operation baselines of latency, error rate and cost per request learned by the regression processor, the current figures, and the regressions it detects. Series appear once an operation is past its warm-up; the queries show 0 until then.")
	b = links(variables(b, false, false), jaeger)
	b = b.WithRow(dashboard.NewRowBuilder("Regressions")).
		WithPanel(stat.NewPanelBuilder().Title("Active regressions").Span(6).Height(6).
			Thresholds(thresholds(nil, "green", 1.0, "red")).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			Targets(targets(query("A", `sum(amas_performance_regression) or vector(0)`, "regressions")))).
		WithPanel(tablePanel().Title("Regressed operations").Span(18).Height(6).
			Description("Operations with a firing regression; open Jaeger to see their marked spans (regression.detected).").
			DataLinks([]cog.Builder[dashboard.DashboardLink]{
				dashboard.NewDashboardLinkBuilder("Marked spans in Jaeger").Url(jaeger + `/search?tags=%7B%22regression.detected%22%3A%22true%22%7D`).TargetBlank(true),
			}).
			Targets(targets(query("A", `max by (operation, type) (amas_performance_regression == 1) or vector(0)`, "").Instant().Format(prometheus.PromQueryFormatTable)))).
		WithPanel(tsPanel().Title("Current / baseline").Span(24).Height(8).
			Description("amas_performance_regression_ratio: 1 is the baseline; a regression needs the margins of the regression processor on top.").
			Targets(targets(query("A", `max by (operation, type) (amas_performance_regression_ratio) or vector(0)`, "{{operation}} {{type}}")))).
		WithRow(dashboard.NewRowBuilder("Baselines")).
		WithPanel(tsPanel().Title("Latency: baseline vs current").Span(8).Height(8).Unit("s").
			Targets(targets(
				query("A", `max by (operation, quantile) (amas_performance_regression_baseline{type="latency_regression"}) or vector(0)`, "baseline p{{quantile}} {{operation}}"),
				query("B", `max by (operation, quantile) (amas_performance_regression_current{type="latency_regression"}) or vector(0)`, "current p{{quantile}} {{operation}}"),
			))).
		WithPanel(tsPanel().Title("Error rate: baseline vs current").Span(8).Height(8).Unit("percentunit").
			Targets(targets(
				query("A", `max by (operation) (amas_performance_regression_baseline{type="error_rate_regression"}) or vector(0)`, "baseline {{operation}}"),
				query("B", `max by (operation) (amas_performance_regression_current{type="error_rate_regression"}) or vector(0)`, "current {{operation}}"),
			))).
		WithPanel(tsPanel().Title("Cost per request: baseline vs current").Span(8).Height(8).Unit("currencyUSD").
			Targets(targets(
				query("A", `max by (operation) (amas_performance_regression_baseline{type="cost_regression"}) or vector(0)`, "baseline {{operation}}"),
				query("B", `max by (operation) (amas_performance_regression_current{type="cost_regression"}) or vector(0)`, "current {{operation}}"),
			))).
		WithPanel(tsPanel().Title("Regression alerts").Span(24).Height(6).
			Targets(targets(query("A", `max by (operation, type, alertstate) (amas_alerts{alertname="PerformanceRegression"}) or vector(0)`, "{{operation}} {{type}} {{alertstate}}"))))
	return b
}

func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// marshalDashboards writes grafana_dashboards.json: a JSON array of the dashboards (the AMAS specification's
// one file); dashboards/<uid>.json hold the same dashboards one per file for import and
// provisioning.
func marshalDashboards(boards []Board) ([]byte, error) {
	ds := make([]dashboard.Dashboard, len(boards))
	for i, b := range boards {
		ds[i] = b.Dashboard
	}
	return marshalJSON(ds)
}

// DatasourceFile is a Grafana provisioning file for the Prometheus data source with the exemplar
// link to Jaeger (`$$` keeps Grafana from expanding the variable as an environment variable).
func DatasourceFile(opts Options) []byte {
	jaeger := strings.TrimRight(opts.JaegerURL, "/")
	return []byte(`# Generated by amas-slo — Grafana data source provisioning (put it in provisioning/datasources/).
# The exemplar link turns the trace_id of each exemplar of amas_agent_duration_seconds into a link
# to the trace in Jaeger. Change url to your Prometheus.
apiVersion: 1
datasources:
  - name: Prometheus (otelcol-amas)
    uid: otelcol-amas-prometheus
    type: prometheus
    access: proxy
    url: http://127.0.0.1:9090
    jsonData:
      exemplarTraceIdDestinations:
        - name: trace_id
          url: ` + jaeger + `/trace/$${__value.raw}
          urlDisplayLabel: Trace in Jaeger
`)
}
