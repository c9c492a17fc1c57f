// Package metadata holds the type and stability of the slo processor, in the shape mdatagen
// generates (written by hand: mdatagen cannot be installed here).
package metadata // import "github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"

import "go.opentelemetry.io/collector/component"

var Type = component.MustNewType("slo")

const (
	ScopeName        = "github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
	TracesStability  = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
)
