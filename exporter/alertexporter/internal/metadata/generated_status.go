// Package metadata holds the component type and stability of the alert exporter, in the shape
// mdatagen generates (mdatagen cannot be installed here, so this file is written by hand).
package metadata // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/metadata"

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("alert")
	ScopeName = "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"
)

const (
	MetricsStability = component.StabilityLevelDevelopment
)
