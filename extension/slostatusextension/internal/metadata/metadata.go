// Package metadata holds the type and stability of the slo_status extension, in the shape
// mdatagen generates (written by hand: mdatagen cannot be installed here).
package metadata // import "github.com/otelcol-amas/otelcol-amas/extension/slostatusextension/internal/metadata"

import "go.opentelemetry.io/collector/component"

var Type = component.MustNewType("slo_status")

const (
	ScopeName          = "github.com/otelcol-amas/otelcol-amas/extension/slostatusextension"
	ExtensionStability = component.StabilityLevelAlpha
)
