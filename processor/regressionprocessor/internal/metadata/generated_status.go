// Written by hand in the shape mdatagen generates (mdatagen is not available for this release).

// Package metadata contains the type and stability of the regression processor.
package metadata // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/metadata"

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("regression")
	ScopeName = "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"
)

const (
	TracesStability  = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
)
