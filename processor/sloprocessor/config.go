package sloprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/spancond"
)

// maxLabelLengthLimit is the largest max_label_length (a group label the checkpoint holds whole).
const maxLabelLengthLimit = 1 << 14

// Config is the slo processor's configuration.
type Config struct {
	// EvaluationInterval is how often every SLO is evaluated and its metrics are emitted.
	EvaluationInterval time.Duration `mapstructure:"evaluation_interval"`
	// MaxGroupsPerSLO bounds the group_by series of one SLO; further groups go to one overflow
	// series labelled otel.metric.overflow="true".
	MaxGroupsPerSLO int `mapstructure:"max_groups_per_slo"`
	// MaxRatioStreams bounds the cumulative counter streams remembered for ratio SLIs.
	MaxRatioStreams int `mapstructure:"max_ratio_streams"`
	// MaxLabelLength bounds each group_by value taken from telemetry, in bytes: a longer value
	// is truncated with a marker, control characters are replaced (internal/safelabel), before
	// it becomes a group, a series label, a checkpoint entry or an alert label.
	MaxLabelLength int `mapstructure:"max_label_length"`
	// ResolvedRetention is how long a resolved alert is still sent (value 0) before it is dropped.
	ResolvedRetention time.Duration `mapstructure:"resolved_retention"`
	// Storage is the ID of a storage extension (file_storage) to checkpoint state through.
	Storage *component.ID `mapstructure:"storage"`
	// CheckpointInterval is how often state is written to Storage (also written at shutdown).
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
	// EventTime is where a span's event is placed in time: arrival (the processor's clock when
	// the span arrives) or span_end (its end time, clamped to [arrival − MaxLateness, arrival]).
	EventTime string `mapstructure:"event_time"`
	// MaxLateness bounds how far back span_end may place an event.
	MaxLateness time.Duration `mapstructure:"max_lateness"`
	// InstanceLabel is added to every emitted series and alert when its value is set (one of
	// several replicas); see alertstate.InstanceLabel.
	InstanceLabel alertstate.InstanceLabel `mapstructure:"instance_label"`
	// Alerting is the default alerting of every SLO.
	Alerting AlertingConfig `mapstructure:"alerting"`
	// SLOs to evaluate; empty means the six SLOs of the AMAS specification (DefaultSLOs).
	SLOs []SLOConfig `mapstructure:"slos"`
	// Bootstrap seeds a group that appears with no local state from Prometheus (off by default).
	Bootstrap BootstrapConfig `mapstructure:"bootstrap"`
}

// AlertingConfig holds the alert rules of an SLO.
type AlertingConfig struct {
	// BurnRateRules replaces the default table (SRE workbook, rescaled, without the rules that
	// cannot apply to the SLO) when set.
	BurnRateRules []BurnRateRuleConfig `mapstructure:"burn_rate_rules"`
	// MinEvents is the least number of events (slices for timeslices SLOs) each window of a
	// burn-rate rule must hold. 0 means 10 for occurrences and 1 for timeslices.
	MinEvents uint64 `mapstructure:"min_events"`
	// MinBadEvents is the least number of bad events (bad slices for timeslices SLOs) each window
	// of a burn-rate rule must hold, so one failure never pages whatever the window's total.
	MinBadEvents uint64 `mapstructure:"min_bad_events"`
	// BudgetMinEvents is the least number of events (slices) the SLO window must hold before a
	// budget threshold may fire. 0 means 10/(1 − objective), so one bad event spends at most a
	// tenth of the budget.
	BudgetMinEvents uint64 `mapstructure:"budget_min_events"`
	// BudgetThresholds of the remaining budget, as fractions.
	BudgetThresholds *BudgetThresholdsConfig `mapstructure:"budget_thresholds"`
	// HardDown pages an occurrences SLO whose recent error ratio is high, whatever its objective.
	HardDown *HardDownConfig `mapstructure:"hard_down"`
	// NoData raises an alert for a series whose traffic stops after having had some.
	NoData *NoDataConfig `mapstructure:"no_data"`
}

// BurnRateRuleConfig is one multi-window multi-burn-rate rule.
type BurnRateRuleConfig struct {
	Severity       string        `mapstructure:"severity"`
	LongWindow     time.Duration `mapstructure:"long_window"`
	ShortWindow    time.Duration `mapstructure:"short_window"`
	BudgetConsumed float64       `mapstructure:"budget_consumed"`
	BurnRate       float64       `mapstructure:"burn_rate"`
	For            time.Duration `mapstructure:"for"`
	// MinBadEvents overrides the SLO's min_bad_events for this rule (0: the SLO's).
	MinBadEvents uint64 `mapstructure:"min_bad_events"`
}

// HardDownConfig is the objective-independent page: error ratio ≥ ErrorRatio over Window with at
// least MinBadEvents bad events. Occurrences SLOs only.
type HardDownConfig struct {
	Enabled      bool          `mapstructure:"enabled"`
	Window       time.Duration `mapstructure:"window"`
	ErrorRatio   float64       `mapstructure:"error_ratio"`
	MinBadEvents uint64        `mapstructure:"min_bad_events"`
	For          time.Duration `mapstructure:"for"`
}

// BudgetThresholdsConfig are the remaining-budget thresholds (fractions; 0 disables one).
type BudgetThresholdsConfig struct {
	Critical float64 `mapstructure:"critical"`
	High     float64 `mapstructure:"high"`
	Warning  float64 `mapstructure:"warning"`
	// Severity of each threshold: page or ticket (unset: ticket).
	Severity BudgetSeverityConfig `mapstructure:"severity"`
}

// BudgetSeverityConfig is page or ticket per budget threshold.
type BudgetSeverityConfig struct {
	Critical string `mapstructure:"critical"`
	High     string `mapstructure:"high"`
	Warning  string `mapstructure:"warning"`
}

func (b *BudgetThresholdsConfig) math() slomath.BudgetThresholds {
	return slomath.BudgetThresholds{
		Critical: b.Critical, High: b.High, Warning: b.Warning,
		Severity: [3]slomath.Severity{slomath.Severity(b.Severity.Critical), slomath.Severity(b.Severity.High), slomath.Severity(b.Severity.Warning)},
	}
}

// NoDataConfig configures the no-data alert (the rule: slomath.NoData).
type NoDataConfig struct {
	Enabled  bool          `mapstructure:"enabled"`
	After    time.Duration `mapstructure:"after"`
	For      time.Duration `mapstructure:"for"`
	Severity string        `mapstructure:"severity"`
	// Lookback is how much traffic before the last event sets the expected rate (at most the SLO
	// window).
	Lookback time.Duration `mapstructure:"lookback"`
	// MinPredicted is the least number of events the expected rate must predict in the silence
	// (0 turns the prediction and the gap check off: any silence of After alerts).
	MinPredicted float64 `mapstructure:"min_predicted"`
	// RetireAfter is the silence after which a group is retired and stops alerting (0: the SLO
	// window; at most the SLO window).
	RetireAfter time.Duration `mapstructure:"retire_after"`
	// HandoffCheck asks Prometheus, when a group's no-data condition becomes true, whether its
	// events counter rose on another replica during the silence; if so the service moved there
	// and the group is retired instead of alerting. Unset means true; only active with
	// bootstrap.endpoint and instance_label.value set (see handoff.go).
	HandoffCheck *bool `mapstructure:"handoff_check"`
}

// handoffCheck is HandoffCheck with its default (true).
func (n *NoDataConfig) handoffCheck() bool {
	return n.Enabled && (n.HandoffCheck == nil || *n.HandoffCheck)
}

// spec is the math's no-data rule for an SLO window.
func (n *NoDataConfig) spec(window time.Duration) slomath.NoData {
	nd := slomath.NoData{Enabled: n.Enabled, After: n.After, For: n.For, Lookback: n.Lookback, MinPredicted: n.MinPredicted, RetireAfter: n.RetireAfter}
	if window > 0 {
		nd.Lookback = min(nd.Lookback, window)
		nd.RetireAfter = min(nd.RetireAfter, window)
	}
	return nd
}

// SLOConfig is one SLO.
type SLOConfig struct {
	Name        string          `mapstructure:"name"`
	Description string          `mapstructure:"description"`
	Objective   float64         `mapstructure:"objective"`
	Window      time.Duration   `mapstructure:"window"`
	Budgeting   BudgetingConfig `mapstructure:"budgeting"`
	SLI         SLIConfig       `mapstructure:"sli"`
	GroupBy     []string        `mapstructure:"group_by"`
	// NoDataGroupBy gives a span SLO without group_by one no-data alert per group of these
	// attributes (per agent for the default agent_availability) while its budget stays one series.
	NoDataGroupBy []string `mapstructure:"no_data_group_by"`
	// Alerting overrides the processor's alerting for this SLO; unset parts are inherited.
	Alerting *AlertingConfig `mapstructure:"alerting"`
}

// BudgetingConfig is the budgeting method.
type BudgetingConfig struct {
	// Method is occurrences (every event counts) or timeslices (every slice of time counts).
	Method string `mapstructure:"method"`
	// Slice is the length of a time slice.
	Slice time.Duration `mapstructure:"slice"`
	// MaxBadRatio: a slice is good when at most this share of its events is bad (p95 ≤ x is 0.05).
	MaxBadRatio float64 `mapstructure:"max_bad_ratio"`
}

// SLIConfig is where an SLI comes from: exactly one of Spans, Gauge, Ratio.
type SLIConfig struct {
	Spans *SpansSLIConfig `mapstructure:"spans"`
	Gauge *GaugeSLIConfig `mapstructure:"gauge"`
	Ratio *RatioSLIConfig `mapstructure:"ratio"`
}

// SpansSLIConfig picks spans with OTTL conditions (ottlspan context).
type SpansSLIConfig struct {
	// Conditions choose the spans that count (any may hold); empty counts every span.
	Conditions []string `mapstructure:"conditions"`
	// BadConditions mark a counted span bad (any may hold).
	BadConditions []string `mapstructure:"bad_conditions"`
}

// MetricSelector names a metric and the attribute values its points must carry.
type MetricSelector struct {
	Name       string            `mapstructure:"name"`
	Attributes map[string]string `mapstructure:"attributes"`
}

// GaugeSLIConfig compares each point of a gauge (or non-monotonic sum) with a threshold.
type GaugeSLIConfig struct {
	// Metrics in order of preference: per resource, the first one present is used.
	Metrics    []MetricSelector `mapstructure:"metrics"`
	Threshold  float64          `mapstructure:"threshold"`
	Comparison string           `mapstructure:"comparison"`
}

// RatioSLIConfig divides the increase of two counters per time slice.
type RatioSLIConfig struct {
	Numerator   MetricSelector `mapstructure:"numerator"`
	Denominator MetricSelector `mapstructure:"denominator"`
	Threshold   float64        `mapstructure:"threshold"`
	Comparison  string         `mapstructure:"comparison"`
}

const (
	methodOccurrences = "occurrences"
	methodTimeslices  = "timeslices"
)

var _ component.Config = (*Config)(nil)

// Validate checks every field and compiles every OTTL condition once, reporting each problem
// with its YAML path and value.
func (c *Config) Validate() error {
	_, err := c.compile(componenttest.NewNopTelemetrySettings())
	return err
}

// effectiveSLOs are the configured SLOs, or the AMAS specification's six when none are.
func (c *Config) effectiveSLOs() []SLOConfig {
	if len(c.SLOs) == 0 {
		return DefaultSLOs()
	}
	return c.SLOs
}

// compiledSLO is one SLO ready to evaluate.
type compiledSLO struct {
	cfg      SLOConfig
	model    *slomath.Model
	filter   *spancond.Set
	bad      *spancond.Set
	noDataSv string
	// handoffCheck: no_data.handoff_check is on for this SLO (the processor still needs
	// bootstrap.endpoint and instance_label.value to run it).
	handoffCheck bool
	gaugeCmp     slomath.Comparison
	// beat is the model of the per-group no-data series (no_data_group_by), nil without.
	beat *slomath.Model
}

func (c *Config) compile(set component.TelemetrySettings) ([]*compiledSLO, error) {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.EvaluationInterval < 100*time.Millisecond {
		add("evaluation_interval: must be at least 100ms, got %s", c.EvaluationInterval)
	}
	if c.MaxGroupsPerSLO < 1 {
		add("max_groups_per_slo: must be ≥ 1, got %d", c.MaxGroupsPerSLO)
	}
	if c.MaxLabelLength < safelabel.MinMax || c.MaxLabelLength > maxLabelLengthLimit {
		add("max_label_length: must be in [%d,%d], got %d", safelabel.MinMax, maxLabelLengthLimit, c.MaxLabelLength)
	}
	if c.MaxRatioStreams < 1 {
		add("max_ratio_streams: must be ≥ 1, got %d", c.MaxRatioStreams)
	}
	if c.ResolvedRetention < 0 {
		add("resolved_retention: must be ≥ 0, got %s", c.ResolvedRetention)
	}
	if c.CheckpointInterval <= 0 {
		add("checkpoint_interval: must be > 0, got %s", c.CheckpointInterval)
	}
	errs = append(errs, c.validateEventTime()...)
	errs = append(errs, c.Bootstrap.validate()...)
	var groupKeys []string
	for _, s := range c.effectiveSLOs() {
		groupKeys = append(groupKeys, s.GroupBy...)
		groupKeys = append(groupKeys, s.NoDataGroupBy...)
	}
	errs = append(errs, c.InstanceLabel.Validate("instance_label", groupKeys...)...)
	if err := c.Alerting.validate("alerting"); err != nil {
		errs = append(errs, err)
	}
	// The processor's rules are checked once on their own; what depends on an SLO's window is
	// checked per SLO.
	if c.Alerting.MinBadEvents < 1 {
		add("alerting.min_bad_events: must be ≥ 1, got %d", c.Alerting.MinBadEvents)
	}
	procRuleErrs := map[string]bool{}
	for j, r := range c.Alerting.BurnRateRules {
		rule := slomath.BurnRule{
			Severity: slomath.Severity(r.Severity), LongWindow: r.LongWindow, ShortWindow: r.ShortWindow,
			BudgetConsumed: r.BudgetConsumed, BurnRate: r.BurnRate, For: r.For,
		}
		for _, e := range leafErrors(rule.Validate(math.MaxInt64)) {
			procRuleErrs[fmt.Sprintf("burn_rate_rules[%d].%s", j, e.Error())] = true
			add("alerting.burn_rate_rules[%d].%w", j, e)
		}
	}
	slos := c.effectiveSLOs()
	out := make([]*compiledSLO, 0, len(slos))
	names := map[string]int{}
	for i, s := range slos {
		path := fmt.Sprintf("slos[%d]", i)
		if s.Name == "" {
			add("%s.name: must not be empty", path)
		} else if j, dup := names[s.Name]; dup {
			add("%s.name: must be unique, %q is also slos[%d]", path, s.Name, j)
		}
		names[s.Name] = i
		cs, err := c.compileSLO(path, s, set, procRuleErrs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, cs)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func (a *AlertingConfig) validate(path string) error {
	var errs []error
	if a.BudgetThresholds != nil {
		if err := a.BudgetThresholds.math().Validate(); err != nil {
			errs = append(errs, prefixErr(path+".budget_thresholds", err))
		}
	}
	if a.NoData != nil {
		if err := a.NoData.spec(0).Validate(); err != nil {
			errs = append(errs, prefixErr(path+".no_data", err))
		}
		switch a.NoData.Severity {
		case "critical", "high", "warning", "info":
		default:
			errs = append(errs, fmt.Errorf("%s.no_data.severity: must be critical, high, warning or info, got %q", path, a.NoData.Severity))
		}
	}
	if h := a.HardDown; h != nil && h.Enabled {
		if h.Window < slomath.MinWindow || h.Window%time.Second != 0 {
			errs = append(errs, fmt.Errorf("%s.hard_down.window: must be a whole number of seconds ≥ %s, got %s", path, slomath.MinWindow, h.Window))
		}
		if !(h.ErrorRatio > 0 && h.ErrorRatio <= 1) {
			errs = append(errs, fmt.Errorf("%s.hard_down.error_ratio: must be in (0,1], got %v", path, h.ErrorRatio))
		}
		if h.MinBadEvents < 1 {
			errs = append(errs, fmt.Errorf("%s.hard_down.min_bad_events: must be ≥ 1, got %d", path, h.MinBadEvents))
		}
		if h.For < 0 {
			errs = append(errs, fmt.Errorf("%s.hard_down.for: must be ≥ 0, got %s", path, h.For))
		}
	}
	return errors.Join(errs...)
}

// MergedAlerting returns the alerting of an SLO: its own parts, else the processor's. The rules
// generator (cmd/amas-slo/slorender) calls it too, so both inherit alike.
func (c *Config) MergedAlerting(s SLOConfig) AlertingConfig {
	a := c.Alerting
	if o := s.Alerting; o != nil {
		if o.BurnRateRules != nil {
			a.BurnRateRules = o.BurnRateRules
		}
		if o.MinEvents != 0 {
			a.MinEvents = o.MinEvents
		}
		if o.MinBadEvents != 0 {
			a.MinBadEvents = o.MinBadEvents
		}
		if o.BudgetMinEvents != 0 {
			a.BudgetMinEvents = o.BudgetMinEvents
		}
		if o.BudgetThresholds != nil {
			a.BudgetThresholds = o.BudgetThresholds
		}
		if o.HardDown != nil {
			a.HardDown = o.HardDown
		}
		if o.NoData != nil {
			a.NoData = o.NoData
		}
	}
	return a
}

// compileSLO compiles one SLO; procRuleErrs are the problems of the processor's own burn-rate
// rules whatever the SLO window (already reported), as the math words them.
func (c *Config) compileSLO(path string, s SLOConfig, set component.TelemetrySettings, procRuleErrs map[string]bool) (*compiledSLO, error) {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	cs := &compiledSLO{cfg: s}

	if s.Alerting != nil {
		if err := s.Alerting.validate(path + ".alerting"); err != nil {
			errs = append(errs, err)
		}
	}
	alerting := c.MergedAlerting(s)
	spec := slomath.Spec{
		Objective:         s.Objective,
		Window:            s.Window,
		ResolvedRetention: c.ResolvedRetention,
	}
	switch s.Budgeting.Method {
	case methodOccurrences, "":
	case methodTimeslices:
		spec.Timeslices = &slomath.Timeslices{Slice: s.Budgeting.Slice, MaxBadRatio: s.Budgeting.MaxBadRatio}
	default:
		add("%s.budgeting.method: must be %q or %q, got %q", path, methodOccurrences, methodTimeslices, s.Budgeting.Method)
	}

	// SLI source: exactly one.
	n := 0
	if s.SLI.Spans != nil {
		n++
		var err error
		if cs.filter, err = spancond.Compile(s.SLI.Spans.Conditions, set, false); err != nil {
			add("%s.sli.spans.conditions: %w", path, err)
		}
		if len(s.SLI.Spans.BadConditions) == 0 {
			add("%s.sli.spans.bad_conditions: must name at least one condition for a bad span", path)
		} else if cs.bad, err = spancond.Compile(s.SLI.Spans.BadConditions, set, false); err != nil {
			add("%s.sli.spans.bad_conditions: %w", path, err)
		}
	}
	if g := s.SLI.Gauge; g != nil {
		n++
		if len(g.Metrics) == 0 {
			add("%s.sli.gauge.metrics: must name at least one metric", path)
		}
		for j, m := range g.Metrics {
			if m.Name == "" {
				add("%s.sli.gauge.metrics[%d].name: must not be empty", path, j)
			}
		}
		checkFinite(&errs, path+".sli.gauge.threshold", g.Threshold)
		cmp, err := slomath.ParseComparison(g.Comparison)
		if err != nil {
			add("%s.sli.gauge.comparison: %w", path, err)
		}
		cs.gaugeCmp = cmp
		if s.Budgeting.Method != methodTimeslices {
			add("%s.budgeting.method: a gauge SLI needs timeslices, got %q", path, s.Budgeting.Method)
		}
	}
	if r := s.SLI.Ratio; r != nil {
		n++
		if r.Numerator.Name == "" {
			add("%s.sli.ratio.numerator.name: must not be empty", path)
		}
		if r.Denominator.Name == "" {
			add("%s.sli.ratio.denominator.name: must not be empty", path)
		}
		checkFinite(&errs, path+".sli.ratio.threshold", r.Threshold)
		cmp, err := slomath.ParseComparison(r.Comparison)
		if err != nil {
			add("%s.sli.ratio.comparison: %w", path, err)
		}
		if spec.Timeslices != nil {
			spec.Timeslices.Ratio = true
			spec.Timeslices.Threshold = r.Threshold
			spec.Timeslices.Comparison = cmp
		} else {
			add("%s.budgeting.method: a ratio SLI needs timeslices, got %q", path, s.Budgeting.Method)
		}
	}
	if n != 1 {
		add("%s.sli: must set exactly one of spans, gauge, ratio, got %d", path, n)
	}
	for j, g := range s.GroupBy {
		if g == "" {
			add("%s.group_by[%d]: must not be empty", path, j)
		}
	}
	errs = append(errs, validateNoDataGroupBy(path, s)...)

	if h := alerting.HardDown; spec.Timeslices != nil && s.Alerting != nil && s.Alerting.HardDown != nil && h.Enabled {
		add("%s.alerting.hard_down.enabled: applies to occurrences SLOs only, got true for a timeslices SLO", path)
	}
	if h := alerting.HardDown; h != nil && h.Enabled && spec.Timeslices == nil && s.Window >= slomath.MinWindow && h.Window > s.Window {
		add("%s.alerting.hard_down.window: must not exceed the SLO window %s, got %s", path, s.Window, h.Window)
	}
	res := c.resolveAlerting(s, alerting, spec.Timeslices != nil)
	spec.Rules = res.Rules[res.hardDown:]
	spec.Budget = res.Budget
	spec.BudgetMinEvents = res.BudgetMinEvents
	cs.noDataSv = "warning"
	if nd := alerting.NoData; nd != nil {
		spec.NoData = nd.spec(s.Window)
		cs.noDataSv = nd.Severity
		cs.handoffCheck = nd.handoffCheck()
	}
	// The math checks the SLO as a whole (windows against rules); its messages name the spec's
	// fields, which are put back at their YAML paths here.
	rulesPath, inherited := "alerting.burn_rate_rules", true
	if s.Alerting != nil && s.Alerting.BurnRateRules != nil {
		rulesPath, inherited = path+".alerting.burn_rate_rules", false
	}
	// The rules are checked without the hard-down rule, so their indices are the YAML's; the
	// hard-down settings are checked by AlertingConfig.validate.
	specErr := spec.Validate()
	if len(errs) == 0 && specErr == nil {
		spec.Rules = res.Rules
		// An invalid hard_down is reported at its own path by AlertingConfig.validate.
		if cs.model, specErr = slomath.NewModel(spec); specErr != nil && (&AlertingConfig{HardDown: alerting.HardDown}).validate("") == nil {
			add("%s.alerting.hard_down: %w", path, specErr)
		}
		specErr = nil
	}
	for _, e := range leafErrors(specErr) {
		msg := e.Error()
		switch {
		case strings.HasPrefix(msg, "burn_rate_rules"):
			if inherited {
				if !procRuleErrs[msg] { // those are reported once, by compile
					add("%s%s (for %s, %q)", rulesPath, strings.TrimPrefix(msg, "burn_rate_rules"), path, s.Name)
				}
			} else {
				add("%s%s", rulesPath, strings.TrimPrefix(msg, "burn_rate_rules"))
			}
		case strings.HasPrefix(msg, "budget_thresholds"), strings.HasPrefix(msg, "no_data"), strings.HasPrefix(msg, "resolved_retention"):
			// reported at their own path by the alerting and processor checks
		default:
			errs = append(errs, fmt.Errorf("%s.%w", path, e))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := cs.compileBeat(c.ResolvedRetention); err != nil {
		return nil, fmt.Errorf("%s.no_data_group_by: %w", path, err)
	}
	return cs, nil
}

// ResolvedAlerting is an SLO's alerting once inherited and defaulted, as the processor evaluates
// it: the rules (the hard-down page first when it applies), the guards, the budget thresholds and
// no-data. The rules generator (cmd/amas-slo/slorender) renders the same.
type ResolvedAlerting struct {
	Rules           []slomath.BurnRule
	MinEvents       uint64
	MinBadEvents    uint64
	Budget          slomath.BudgetThresholds
	BudgetMinEvents uint64
	NoData          NoDataConfig
	// hardDown is 1 when Rules[0] is the hard-down rule.
	hardDown int
}

// ResolveAlerting resolves the alerting of s (one of c's SLOs, or a default one). Call it on a
// valid configuration.
func (c *Config) ResolveAlerting(s SLOConfig) ResolvedAlerting {
	return c.resolveAlerting(s, c.MergedAlerting(s), s.Budgeting.Method == methodTimeslices)
}

func (c *Config) resolveAlerting(s SLOConfig, a AlertingConfig, timeslices bool) ResolvedAlerting {
	out := ResolvedAlerting{MinEvents: a.MinEvents, MinBadEvents: a.MinBadEvents, BudgetMinEvents: a.BudgetMinEvents}
	var slice time.Duration
	if timeslices {
		slice = s.Budgeting.Slice
	}
	if out.MinEvents == 0 {
		out.MinEvents = 10
		if timeslices {
			out.MinEvents = 1
		}
	}
	if out.BudgetMinEvents == 0 {
		out.BudgetMinEvents = slomath.DefaultBudgetMinEvents(s.Objective)
	}
	if h := a.HardDown; h != nil && h.Enabled && !timeslices {
		r := slomath.HardDownRule(h.Window, h.ErrorRatio, h.MinBadEvents)
		r.For = h.For
		out.Rules = append(out.Rules, r)
		out.hardDown = 1
	}
	if a.BurnRateRules == nil {
		if s.Window >= slomath.MinWindow && s.Objective > 0 && s.Objective < 1 && (!timeslices || slice > 0) {
			out.Rules = append(out.Rules, slomath.DefaultRules(s.Window, s.Objective, slice, out.MinEvents, out.MinBadEvents)...)
		}
	} else {
		for _, r := range a.BurnRateRules {
			minBad := r.MinBadEvents
			if minBad == 0 {
				minBad = out.MinBadEvents
			}
			out.Rules = append(out.Rules, slomath.BurnRule{
				Severity: slomath.Severity(r.Severity), LongWindow: r.LongWindow, ShortWindow: r.ShortWindow,
				BudgetConsumed: r.BudgetConsumed, BurnRate: r.BurnRate, MinEvents: out.MinEvents, MinBadEvents: minBad, For: r.For,
			})
		}
	}
	if bt := a.BudgetThresholds; bt != nil {
		out.Budget = bt.math()
	}
	out.NoData = NoDataConfig{Severity: "warning"}
	if nd := a.NoData; nd != nil {
		out.NoData = *nd
	}
	return out
}

// leafErrors flattens joined errors.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

func checkFinite(errs *[]error, path string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		*errs = append(*errs, fmt.Errorf("%s: must be a finite number, got %v", path, v))
	}
}

// prefixErr puts path. in front of every joined error.
func prefixErr(path string, err error) error {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, prefixErr(path, e))
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s.%w", path, err)
}

// Where the default SLOs read from. Agent and tool spans are recognised as the
// amas_spanmetrics connector's built-in profiles recognise them (any condition may hold): the
// GenAI conventions' operation name, then ProfileConditions. The cost and request counters are
// that connector's.
var (
	condAgentSpans = spancond.OperationConditions("invoke_agent")
	condToolSpans  = spancond.OperationConditions("execute_tool")
)

// ProfileConditions are the conditions that select the spans the amas_spanmetrics connector's
// OpenInference and Traceloop profiles label with a GenAI operation (invoke_agent or
// execute_tool; nil for any other): OpenInference's AGENT/TOOL span kinds, without the OpenAI
// Agents SDK's "Agent workflow" root, which the connector does not count either, then Traceloop's
// agent/tool span kinds. A span that carries a GenAI operation name is judged by it alone, as in
// the connector, so a Traceloop chat span below an agent is never an agent request. The rules
// renderer recognises them beside the GenAI condition, since the connector's metrics already
// carry these spans under that operation. The span condition compiler recognises the whole list
// (spancond.OperationConditions) and classifies each span once for all the SLOs that use it.
func ProfileConditions(operation string) []string {
	if c := spancond.OperationConditions(operation); c != nil {
		return c[1:]
	}
	return nil
}

const (
	attrAgentName = "gen_ai.agent.name"
	condError     = `status.code == STATUS_CODE_ERROR`
	condSlow      = `end_time_unix_nano - start_time_unix_nano > 1500000000`

	defaultCostMetric     = "amas.cost.usd"
	defaultRequestsMetric = "amas.agent.requests"
	defaultQueueMetric    = "amas.queue_depth.current"
)

// DefaultSLOs are the AMAS specification's six SLOs, each with the AMAS specification's error budget.
func DefaultSLOs() []SLOConfig {
	const month = 30 * 24 * time.Hour
	slices := BudgetingConfig{Method: methodTimeslices, Slice: time.Minute}
	latency := slices
	latency.MaxBadRatio = 0.05
	return []SLOConfig{
		{
			Name: "agent_availability", Description: "Agent request success rate ≥ 99.5%",
			Objective: 0.995, Window: month, Budgeting: BudgetingConfig{Method: methodOccurrences},
			SLI:           SLIConfig{Spans: &SpansSLIConfig{Conditions: condAgentSpans, BadConditions: []string{condError}}},
			NoDataGroupBy: []string{attrAgentName},
		},
		{
			Name: "agent_latency_p95", Description: "95th percentile agent response time ≤ 1.5 s, in 90% of minutes",
			Objective: 0.90, Window: month, Budgeting: latency,
			SLI: SLIConfig{Spans: &SpansSLIConfig{Conditions: condAgentSpans, BadConditions: []string{condSlow}}},
		},
		{
			Name: "tool_call_success_rate", Description: "Tool call success rate ≥ 99%",
			Objective: 0.99, Window: month, Budgeting: BudgetingConfig{Method: methodOccurrences},
			SLI: SLIConfig{Spans: &SpansSLIConfig{Conditions: condToolSpans, BadConditions: []string{condError}}},
		},
		{
			Name: "memory_usage", Description: "Memory utilisation ≤ 80%, in 85% of minutes",
			Objective: 0.85, Window: month, Budgeting: slices,
			SLI: SLIConfig{Gauge: &GaugeSLIConfig{
				Metrics: []MetricSelector{
					{Name: "process.memory.utilization"},
					{Name: "system.memory.utilization", Attributes: map[string]string{"system.memory.state": "used"}},
					{Name: "system.memory.utilization", Attributes: map[string]string{"state": "used"}}, // hostmetrics' older attribute
				},
				Threshold: 0.80, Comparison: "<=",
			}},
		},
		{
			Name: "cost_efficiency", Description: "Cost per request ≤ $0.05, in 80% of minutes",
			Objective: 0.80, Window: month, Budgeting: slices,
			SLI: SLIConfig{Ratio: &RatioSLIConfig{
				// The connector counts every classified span as a request, with an operation label:
				// the denominator is the agent runs.
				Numerator:   MetricSelector{Name: defaultCostMetric},
				Denominator: MetricSelector{Name: defaultRequestsMetric, Attributes: map[string]string{"operation": "invoke_agent"}},
				Threshold:   0.05, Comparison: "<=",
			}},
		},
		{
			Name: "queue_depth", Description: "Processing queue depth ≤ 50, in 75% of minutes",
			Objective: 0.75, Window: month, Budgeting: slices,
			SLI: SLIConfig{Gauge: &GaugeSLIConfig{
				Metrics: []MetricSelector{{Name: defaultQueueMetric}}, Threshold: 50, Comparison: "<=",
			}},
		},
	}
}
