package slostatusextension // import "github.com/otelcol-amas/otelcol-amas/extension/slostatusextension"

import (
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-amas/otelcol-amas/internal/spanclass"
	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// source is where the extension reads state: the processors' registries in the collector, a
// fake in tests.
type source interface {
	// SLO returns the snapshots of the slo processors shown, and the configured IDs that are
	// not running.
	SLO() (statuses []sloprocessor.Status, missing []string)
	// Regression is the same for the regression processors.
	Regression() (statuses []regressionprocessor.Status, missing []string)
	// Classification is the span classification share of every running amas_spanmetrics
	// connector, read through the neutral spanclass contract.
	Classification() []spanclass.Snapshot
}

// registrySource reads the running processors of this collector.
type registrySource struct{ cfg *Config }

func (r registrySource) SLO() ([]sloprocessor.Status, []string) {
	return collect(r.cfg.SLOProcessors, sloprocessor.Running, func(id component.ID) (func() sloprocessor.Status, bool) {
		s, ok := sloprocessor.Lookup(id)
		if !ok {
			return nil, false
		}
		return s.Status, true
	})
}

func (r registrySource) Regression() ([]regressionprocessor.Status, []string) {
	return collect(r.cfg.RegressionProcessors, regressionprocessor.Running, func(id component.ID) (func() regressionprocessor.Status, bool) {
		s, ok := regressionprocessor.Lookup(id)
		if !ok {
			return nil, false
		}
		return s.Status, true
	})
}

func (registrySource) Classification() []spanclass.Snapshot {
	var out []spanclass.Snapshot
	for _, id := range spanclass.Running.IDs() {
		if src, ok := spanclass.Running.Lookup(id); ok {
			out = append(out, src.ClassificationShare())
		}
	}
	return out
}

func collect[S any](want []component.ID, running func() []component.ID, lookup func(component.ID) (func() S, bool)) ([]S, []string) {
	ids := want
	if len(ids) == 0 {
		ids = running()
	}
	var out []S
	var missing []string
	for _, id := range ids {
		get, ok := lookup(id)
		if !ok {
			missing = append(missing, id.String())
			continue
		}
		out = append(out, get())
	}
	return out, missing
}
