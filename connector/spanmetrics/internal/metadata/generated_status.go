// Written by hand in the shape mdatagen generates (mdatagen is not available for this release).

// Package metadata contains the type and stability of the amas_spanmetrics connector.
package metadata // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics/internal/metadata"

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("amas_spanmetrics")
	ScopeName = "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"
)

const (
	TracesToMetricsStability = component.StabilityLevelAlpha
)
