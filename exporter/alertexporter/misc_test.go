package alertexporter

import (
	"math"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

func nanValue() float64                         { return math.NaN() }
func nopHost() component.Host                   { return componenttest.NewNopHost() }
func nopTelemetry() component.TelemetrySettings { return componenttest.NewNopTelemetrySettings() }
