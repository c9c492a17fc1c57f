package slorender

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// Names of the generated files (the AMAS specification's names under config/observability/).
const (
	FileDefinitions = "slo_definitions.yaml"
	FileRules       = "prometheus_alerts.yaml"
	FileDashboards  = "grafana_dashboards.json"
	FileDatasource  = "grafana_datasource.yaml"
	DashboardsDir   = "dashboards"
)

// Options of a render.
type Options struct {
	// Origin names the collector configuration in the generated headers.
	Origin string
	// JaegerURL overrides the alert exporter's jaeger_url for the exemplar and trace links.
	JaegerURL string
	// Mode of the rules ("" is ModeDirect).
	Mode Mode
}

// Render returns every generated file by its path relative to the output directory.
func Render(c *Collector, opts Options) (map[string][]byte, error) {
	if opts.JaegerURL == "" {
		opts.JaegerURL = c.JaegerURL
	}
	if opts.JaegerURL == "" {
		opts.JaegerURL = "http://127.0.0.1:16686"
	}
	defs, err := DefinitionsFile(c, opts.Origin)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{
		FileDefinitions: defs,
		FileRules:       RulesFileMode(c, opts.Origin, opts.Mode),
	}
	boards, err := Dashboards(c, opts)
	if err != nil {
		return nil, err
	}
	all, err := marshalDashboards(boards)
	if err != nil {
		return nil, err
	}
	out[FileDashboards] = all
	for _, b := range boards {
		one, err := marshalJSON(b.Dashboard)
		if err != nil {
			return nil, err
		}
		out[DashboardsDir+"/"+b.UID+".json"] = one
	}
	out[FileDatasource] = DatasourceFile(opts)
	return out, nil
}

// definition is one SLO in slo_definitions.yaml: the configuration as the processor resolves it
// and how the Prometheus rules compute it.
type definition struct {
	Name        string         `yaml:"name"`
	Description string         `yaml:"description,omitempty"`
	Processor   string         `yaml:"processor"`
	Objective   float64        `yaml:"objective"`
	ErrorBudget float64        `yaml:"error_budget"`
	Window      string         `yaml:"window"`
	Budgeting   map[string]any `yaml:"budgeting"`
	SLI         any            `yaml:"sli"`
	GroupBy     []string       `yaml:"group_by,omitempty"`
	// NoDataGroupBy: one no-data alert per group of these attributes, the budget one series.
	NoDataGroupBy []string      `yaml:"no_data_group_by,omitempty"`
	Alerting      defAlerting   `yaml:"alerting"`
	Windows       []string      `yaml:"windows"`
	Prometheus    defPrometheus `yaml:"prometheus"`
}

type defAlerting struct {
	BurnRateRules    []defRule          `yaml:"burn_rate_rules"`
	MinEvents        uint64             `yaml:"min_events"`
	MinBadEvents     uint64             `yaml:"min_bad_events"`
	BudgetThresholds map[string]float64 `yaml:"budget_thresholds"`
	// BudgetSeverity is page or ticket per threshold.
	BudgetSeverity  map[string]string `yaml:"budget_severity"`
	BudgetMinEvents uint64            `yaml:"budget_min_events"`
	NoData          map[string]any    `yaml:"no_data"`
}

type defRule struct {
	Alert       string  `yaml:"alert"`
	Severity    string  `yaml:"severity"`
	LongWindow  string  `yaml:"long_window"`
	ShortWindow string  `yaml:"short_window"`
	BurnRate    float64 `yaml:"burn_rate"`
	// ErrorRatio is the error ratio both windows must reach: burn_rate × (1 − objective).
	ErrorRatio float64 `yaml:"error_ratio"`
	// HardDown: the rule is the objective-independent page, set by its error ratio.
	HardDown     bool   `yaml:"hard_down,omitempty"`
	MinEvents    uint64 `yaml:"min_events"`
	MinBadEvents uint64 `yaml:"min_bad_events"`
	For          string `yaml:"for,omitempty"`
}

type defPrometheus struct {
	Source string   `yaml:"source"`
	Exact  bool     `yaml:"exact"`
	Notes  []string `yaml:"notes,omitempty"`
}

// DefinitionsFile renders slo_definitions.yaml.
func DefinitionsFile(c *Collector, origin string) ([]byte, error) {
	var defs []definition
	for _, s := range c.SLOs {
		cfg := s.Config
		d := definition{
			Name: cfg.Name, Description: cfg.Description, Processor: s.Processor,
			Objective: cfg.Objective, ErrorBudget: round(1 - cfg.Objective), Window: dur(cfg.Window),
			GroupBy: cfg.GroupBy,
		}
		d.Budgeting = map[string]any{"method": "occurrences"}
		if s.Timeslices() {
			d.Budgeting = map[string]any{"method": "timeslices", "slice": dur(cfg.Budgeting.Slice), "max_bad_ratio": cfg.Budgeting.MaxBadRatio}
		}
		switch {
		case cfg.SLI.Spans != nil:
			d.SLI = map[string]any{"spans": map[string]any{"conditions": cfg.SLI.Spans.Conditions, "bad_conditions": cfg.SLI.Spans.BadConditions}}
		case cfg.SLI.Gauge != nil:
			var ms []map[string]any
			for _, m := range cfg.SLI.Gauge.Metrics {
				ms = append(ms, selectorMap(m))
			}
			d.SLI = map[string]any{"gauge": map[string]any{"metrics": ms, "threshold": cfg.SLI.Gauge.Threshold, "comparison": cfg.SLI.Gauge.Comparison}}
		case cfg.SLI.Ratio != nil:
			r := cfg.SLI.Ratio
			d.SLI = map[string]any{"ratio": map[string]any{
				"numerator": selectorMap(r.Numerator), "denominator": selectorMap(r.Denominator),
				"threshold": r.Threshold, "comparison": r.Comparison,
			}}
		}
		for _, r := range s.Rules {
			sev := alertstate.SeverityWarning
			if r.Severity == slomath.Page {
				sev = alertstate.SeverityCritical
			}
			f := r.Threshold(cfg.Objective, cfg.Window)
			dr := defRule{
				Alert: alertstate.AlertSLOBurnRate, Severity: sev + " (" + string(r.Severity) + ")",
				LongWindow: dur(r.LongWindow), ShortWindow: dur(r.ShortWindow),
				BurnRate: round(f), ErrorRatio: round(f * (1 - cfg.Objective)),
				HardDown: r.HardDown(), MinEvents: r.MinEvents, MinBadEvents: r.MinBadEvents,
			}
			if r.HardDown() {
				dr.ErrorRatio = r.ErrorRatio
			}
			if r.For > 0 {
				dr.For = dur(r.For)
			}
			d.Alerting.BurnRateRules = append(d.Alerting.BurnRateRules, dr)
		}
		d.Alerting.MinEvents = s.MinEvents
		d.Alerting.MinBadEvents = s.MinBadEvents
		d.Alerting.BudgetThresholds = map[string]float64{"critical": s.Budget.Critical, "high": s.Budget.High, "warning": s.Budget.Warning}
		d.Alerting.BudgetSeverity = map[string]string{}
		for i, k := range []string{"critical", "high", "warning"} {
			d.Alerting.BudgetSeverity[k] = string(s.Budget.SeverityOf(i))
		}
		d.Alerting.BudgetMinEvents = s.BudgetMinEvents
		d.Alerting.NoData = map[string]any{"enabled": s.NoData.Enabled, "after": dur(s.NoData.After), "for": dur(s.NoData.For), "severity": s.NoData.Severity,
			"lookback": dur(min(s.NoData.Lookback, cfg.Window)), "min_predicted": s.NoData.MinPredicted, "retire_after": dur(retireAfter(s))}
		if len(s.Config.GroupBy) == 0 {
			d.NoDataGroupBy = s.Config.NoDataGroupBy
		}
		for _, w := range s.Windows {
			d.Windows = append(d.Windows, dur(w))
		}
		src := mapSource(s, c.Connector)
		d.Prometheus = defPrometheus{Source: string(src.Origin), Exact: src.Exact, Notes: src.Notes}
		defs = append(defs, d)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Generated by `amas-slo definitions` from %s — do not edit.\n", origin)
	buf.WriteString("# The SLOs the slo processor evaluates, as it resolves them (defaults and inherited alerting\n")
	buf.WriteString("# applied), and how prometheus_alerts.yaml computes each one (prometheus.source: connector =\n")
	buf.WriteString("# from the amas_spanmetrics metrics across replicas, processor = from the amas_slo_* series).\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"slos": defs}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// round drops float noise (1 − 0.995 = 0.0050000000000000044) from displayed figures.
func round(v float64) float64 {
	var out float64
	_, _ = fmt.Sscan(fmt.Sprintf("%.10g", v), &out)
	return out
}
