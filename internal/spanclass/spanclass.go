// Package spanclass is the read-only contract between the amas_spanmetrics connector and the
// readers of its span classification share (the SLO status extension): per service, how many
// spans an instrumentation profile classified as agent, tool or model spans (or a request rule
// matched) and how many it did not. It depends on nothing but the registry, so a reader never
// imports the connector.
//
// The connector registers itself in Running at Start and leaves at Shutdown. The number of
// services is bounded by the connector's unclassified.max_services; spans of further services are
// only counted in the connector's internal telemetry.
package spanclass // import "github.com/otelcol-amas/otelcol-amas/internal/spanclass"

import "github.com/otelcol-amas/otelcol-amas/internal/registry"

// Service is one service's counts since the connector started.
type Service struct {
	Name         string `json:"service"`
	Classified   uint64 `json:"classified"`
	Unclassified uint64 `json:"unclassified"`
}

// Snapshot is one connector's view, services sorted by name.
type Snapshot struct {
	Component   string    `json:"component"`
	MaxServices int       `json:"max_services"`
	Services    []Service `json:"services"`
}

// Source is what a connector exposes.
type Source interface {
	ClassificationShare() Snapshot
}

// Running holds the running connectors by component ID.
var Running = registry.New[Source]()
