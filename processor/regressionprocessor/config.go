package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
)

// Fixed ring sizes: they set the memory of an operation (see README, "Memory").
const (
	currentSlots  = 5 // the current window is kept as 5 slots of current_window/5
	baselineSlots = 6 // the baseline window is kept as 6 slots of baseline_window/6
	maxQuantiles  = 3
	maxKeyParts   = 8
)

// spanNameAlternative is the pseudo-attribute that stands for the span's name in operation_key.
const spanNameAlternative = "span.name"

// maxLabelLengthLimit is the largest max_label_length: a label part the checkpoint holds whole.
const maxLabelLengthLimit = 1 << 12

// Config is the configuration of the regression processor. Every key and its default is listed
// in README.md.
type Config struct {
	// OperationKey lists the parts of an operation's identity. Each part is an attribute name
	// (looked up on the span, then on its resource); "a|b" takes the first of a or b that is
	// present; "span.name" is the span's name. Parts that are absent are left out of the label.
	OperationKey []string `mapstructure:"operation_key"`
	// MaxOperations bounds the operations tracked; the least recently seen is evicted.
	MaxOperations int `mapstructure:"max_operations"`
	// MaxBatchIndexSpans bounds the per-batch span index used to find the agent of a span
	// without gen_ai.agent.name among its ancestors (0 disables the lookup).
	MaxBatchIndexSpans int `mapstructure:"max_batch_index_spans"`
	// MaxLabelLength bounds each operation label part taken from telemetry, in bytes: a longer
	// value is truncated with a marker, control characters are replaced (internal/safelabel).
	MaxLabelLength int `mapstructure:"max_label_length"`

	EvaluationInterval time.Duration `mapstructure:"evaluation_interval"`
	CurrentWindow      time.Duration `mapstructure:"current_window"`
	BaselineWindow     time.Duration `mapstructure:"baseline_window"`
	WarmUp             time.Duration `mapstructure:"warm_up"`
	MinSamples         int           `mapstructure:"min_samples"`
	MinTailSamples     int           `mapstructure:"min_tail_samples"`
	FireAfter          int           `mapstructure:"fire_after"`
	ResolveAfter       int           `mapstructure:"resolve_after"`
	ResolvedRetention  time.Duration `mapstructure:"resolved_retention"`
	Severity           string        `mapstructure:"severity"`

	Latency   LatencyConfig   `mapstructure:"latency"`
	ErrorRate ErrorRateConfig `mapstructure:"error_rate"`
	Cost      CostConfig      `mapstructure:"cost"`

	// RebaselineAfter accepts a regression that has fired this long as the new normal: the
	// operation's baseline is dropped and learnt again. 0 disables it.
	RebaselineAfter time.Duration `mapstructure:"rebaseline_after"`
	// BaselineResets drops the baseline of the named operations once per generation.
	BaselineResets []BaselineReset `mapstructure:"baseline_resets"`

	MarkSpans bool `mapstructure:"mark_spans"`

	// InstanceLabel is added to every emitted series and alert when its value is set (one of
	// several replicas); see alertstate.InstanceLabel.
	InstanceLabel alertstate.InstanceLabel `mapstructure:"instance_label"`

	// Storage is the ID of a storage extension (e.g. file_storage) that keeps baselines across
	// restarts. Unset: baselines live in memory only.
	Storage            *component.ID `mapstructure:"storage"`
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// LatencyConfig configures latency regressions.
type LatencyConfig struct {
	Enabled        bool          `mapstructure:"enabled"`
	Quantiles      []float64     `mapstructure:"quantiles"`
	RelativeMargin float64       `mapstructure:"relative_margin"`
	AbsoluteMargin time.Duration `mapstructure:"absolute_margin"`
}

// ErrorRateConfig configures error-rate regressions.
type ErrorRateConfig struct {
	Enabled        bool    `mapstructure:"enabled"`
	RelativeMargin float64 `mapstructure:"relative_margin"`
	AbsoluteMargin float64 `mapstructure:"absolute_margin"`
}

// CostConfig configures cost-per-request regressions.
type CostConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Attribute is the span attribute holding the request's cost in USD.
	Attribute      string  `mapstructure:"attribute"`
	RelativeMargin float64 `mapstructure:"relative_margin"`
	AbsoluteMargin float64 `mapstructure:"absolute_margin"`
	// MaxPerSpan: a cost above it (USD) is bad input, counted and ignored, like the
	// amas_spanmetrics connector's limits.max_cost_per_span.
	MaxPerSpan float64 `mapstructure:"max_per_span"`
}

// costOutlierFactor caps what one span adds to an operation's cost at this many times its
// baseline cost per request, so that one very expensive run cannot move the current window's mean
// across the margins on its own (the mean, unlike the latency quantiles, has no resistance to
// outliers), while a model change that raises every request's cost is still seen in full up to
// this factor.
const costOutlierFactor = 10

// BaselineReset asks for the baseline of Operation (its label, or "*" for every operation) to be
// dropped. It is applied once per Generation: raise the generation to reset again. The applied
// generation is kept in the checkpoint, so a restart does not reset twice.
type BaselineReset struct {
	Operation  string `mapstructure:"operation"`
	Generation int64  `mapstructure:"generation"`
}

var _ component.Config = (*Config)(nil)

// DefaultCostAttribute is the span attribute that carries a request's cost in USD, the same
// default the amas_spanmetrics connector reads.
const DefaultCostAttribute = "amas.cost.usd"

func createDefaultConfig() component.Config {
	return &Config{
		OperationKey:       []string{"service.name", "gen_ai.agent.name", "gen_ai.operation.name|" + spanNameAlternative},
		MaxOperations:      1000,
		MaxBatchIndexSpans: 100_000,
		MaxLabelLength:     safelabel.DefaultMax,
		EvaluationInterval: time.Minute,
		CurrentWindow:      10 * time.Minute,
		BaselineWindow:     24 * time.Hour,
		WarmUp:             time.Hour,
		MinSamples:         100,
		MinTailSamples:     20,
		FireAfter:          3,
		ResolveAfter:       5,
		ResolvedRetention:  15 * time.Minute,
		Severity:           alertstate.SeverityWarning,
		Latency: LatencyConfig{
			Enabled:        true,
			Quantiles:      []float64{0.95, 0.99},
			RelativeMargin: 0.3,
			AbsoluteMargin: 100 * time.Millisecond,
		},
		ErrorRate: ErrorRateConfig{
			Enabled:        true,
			RelativeMargin: 1.0,
			AbsoluteMargin: 0.05,
		},
		Cost: CostConfig{
			Enabled:        true,
			Attribute:      DefaultCostAttribute,
			RelativeMargin: 0.5,
			AbsoluteMargin: 0.001,
			MaxPerSpan:     1000,
		},
		RebaselineAfter:    24 * time.Hour,
		MarkSpans:          true,
		InstanceLabel:      alertstate.InstanceLabel{Name: alertstate.LabelInstance},
		CheckpointInterval: time.Minute,
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Validate checks every field; each error names the YAML path, the rule and the value.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(c.OperationKey) == 0 || len(c.OperationKey) > maxKeyParts {
		add("operation_key: must list 1 to %d parts, got %d", maxKeyParts, len(c.OperationKey))
	}
	for i, part := range c.OperationKey {
		for _, alt := range strings.Split(part, "|") {
			if strings.TrimSpace(alt) == "" {
				add("operation_key[%d]: must be attribute names separated by '|', none empty, got %q", i, part)
				break
			}
		}
	}
	if c.MaxOperations < 1 || c.MaxOperations > 1_000_000 {
		add("max_operations: must be in [1, 1000000], got %d", c.MaxOperations)
	}
	if c.MaxLabelLength < safelabel.MinMax || c.MaxLabelLength > maxLabelLengthLimit {
		add("max_label_length: must be in [%d,%d], got %d", safelabel.MinMax, maxLabelLengthLimit, c.MaxLabelLength)
	}
	errs = append(errs, c.InstanceLabel.Validate("instance_label")...)
	if c.MaxBatchIndexSpans < 0 {
		add("max_batch_index_spans: must be >= 0 (0 disables the ancestor lookup), got %d", c.MaxBatchIndexSpans)
	}
	if c.EvaluationInterval <= 0 {
		add("evaluation_interval: must be positive, got %s", c.EvaluationInterval)
	}
	if c.CurrentWindow < currentSlots*time.Millisecond {
		add("current_window: must be at least %s, got %s", currentSlots*time.Millisecond, c.CurrentWindow)
	}
	if c.BaselineWindow < c.CurrentWindow {
		add("baseline_window: must be at least current_window (%s), got %s", c.CurrentWindow, c.BaselineWindow)
	}
	if c.WarmUp < 0 {
		add("warm_up: must not be negative, got %s", c.WarmUp)
	}
	if c.MinSamples < 1 {
		add("min_samples: must be at least 1, got %d", c.MinSamples)
	}
	if c.MinTailSamples < 1 {
		add("min_tail_samples: must be at least 1, got %d", c.MinTailSamples)
	}
	if c.FireAfter < 1 {
		add("fire_after: must be at least 1, got %d", c.FireAfter)
	}
	if c.ResolveAfter < 1 {
		add("resolve_after: must be at least 1, got %d", c.ResolveAfter)
	}
	if c.ResolvedRetention < 0 {
		add("resolved_retention: must not be negative, got %s", c.ResolvedRetention)
	}
	switch c.Severity {
	case alertstate.SeverityCritical, alertstate.SeverityHigh, alertstate.SeverityWarning, alertstate.SeverityInfo:
	default:
		add("severity: must be one of critical, high, warning, info, got %q", c.Severity)
	}

	if !c.Latency.Enabled && !c.ErrorRate.Enabled && !c.Cost.Enabled {
		add("latency.enabled, error_rate.enabled, cost.enabled: at least one must be true, got all false")
	}
	if c.Latency.Enabled {
		if len(c.Latency.Quantiles) == 0 || len(c.Latency.Quantiles) > maxQuantiles {
			add("latency.quantiles: must list 1 to %d quantiles, got %d", maxQuantiles, len(c.Latency.Quantiles))
		}
		for i, q := range c.Latency.Quantiles {
			if !(q > 0 && q < 1) {
				add("latency.quantiles[%d]: must be in (0,1), got %v", i, q)
			}
		}
	}
	if !finite(c.Latency.RelativeMargin) || c.Latency.RelativeMargin < 0 {
		add("latency.relative_margin: must be a finite number >= 0, got %v", c.Latency.RelativeMargin)
	}
	if c.Latency.AbsoluteMargin < 0 {
		add("latency.absolute_margin: must not be negative, got %s", c.Latency.AbsoluteMargin)
	}
	if !finite(c.ErrorRate.RelativeMargin) || c.ErrorRate.RelativeMargin < 0 {
		add("error_rate.relative_margin: must be a finite number >= 0, got %v", c.ErrorRate.RelativeMargin)
	}
	if !(c.ErrorRate.AbsoluteMargin >= 0 && c.ErrorRate.AbsoluteMargin < 1) {
		add("error_rate.absolute_margin: must be in [0,1), got %v", c.ErrorRate.AbsoluteMargin)
	}
	if c.Cost.Enabled && strings.TrimSpace(c.Cost.Attribute) == "" {
		add("cost.attribute: must name a span attribute when cost.enabled is true, got %q", c.Cost.Attribute)
	}
	if !finite(c.Cost.RelativeMargin) || c.Cost.RelativeMargin < 0 {
		add("cost.relative_margin: must be a finite number >= 0, got %v", c.Cost.RelativeMargin)
	}
	if !finite(c.Cost.AbsoluteMargin) || c.Cost.AbsoluteMargin < 0 {
		add("cost.absolute_margin: must be a finite number >= 0, got %v", c.Cost.AbsoluteMargin)
	}
	if !finite(c.Cost.MaxPerSpan) || c.Cost.MaxPerSpan <= 0 {
		add("cost.max_per_span: must be a finite number > 0, got %v", c.Cost.MaxPerSpan)
	}

	if c.RebaselineAfter < 0 {
		add("rebaseline_after: must not be negative (0 disables), got %s", c.RebaselineAfter)
	}
	seen := map[string]int{}
	for i, r := range c.BaselineResets {
		if r.Operation == "" {
			add("baseline_resets[%d].operation: must be an operation label or \"*\", got \"\"", i)
		}
		if r.Generation < 1 {
			add("baseline_resets[%d].generation: must be at least 1, got %d", i, r.Generation)
		}
		if j, dup := seen[r.Operation]; dup {
			add("baseline_resets[%d].operation: must be unique, got %q again (first at baseline_resets[%d])", i, r.Operation, j)
		} else {
			seen[r.Operation] = i
		}
	}
	if c.Storage != nil && c.CheckpointInterval <= 0 {
		add("checkpoint_interval: must be positive when storage is set, got %s", c.CheckpointInterval)
	}
	return errors.Join(errs...)
}

// keyParts parses OperationKey: each part is a list of alternative attribute names.
func (c *Config) keyParts() [][]string {
	parts := make([][]string, len(c.OperationKey))
	for i, p := range c.OperationKey {
		for _, alt := range strings.Split(p, "|") {
			parts[i] = append(parts[i], strings.TrimSpace(alt))
		}
	}
	return parts
}
