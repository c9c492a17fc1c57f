package alertexporter

import (
	"math"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/metadata"
)

func nanValue() float64                         { return math.NaN() }
func nopHost() component.Host                   { return componenttest.NewNopHost() }
func nopTelemetry() component.TelemetrySettings { return componenttest.NewNopTelemetrySettings() }

func exportertestSettings() exporter.Settings { return exportertest.NewNopSettings(metadata.Type) }
