// Package fuzzconfig is the body of every component's config fuzz target: YAML from the fuzzer
// becomes a confmap, is unmarshalled onto the factory's default config and validated, the path a
// collector takes with an operator's file. Any outcome but a panic (or a runaway allocation) is
// fine: a config is either refused with an error or accepted.
package fuzzconfig

import (
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"gopkg.in/yaml.v3"
)

// maxInput bounds one input: a config file is small, and yaml.v3 alias expansion of a larger one
// only measures the YAML library.
const maxInput = 64 << 10

// Fuzz registers seeds and runs the unmarshal + Validate body. newDefault must return a fresh
// default config each call (the factory's CreateDefaultConfig).
func Fuzz(f *testing.F, newDefault func() component.Config, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		Check(t, newDefault, data)
	})
}

// Check is one fuzz iteration, exported for regression tests of inputs that once crashed.
func Check(t *testing.T, newDefault func() component.Config, data []byte) {
	t.Helper()
	if len(data) > maxInput {
		return
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil || raw == nil {
		return
	}
	cfg := newDefault()
	if err := confmap.NewFromStringMap(raw).Unmarshal(cfg); err != nil {
		return
	}
	_ = confmap.Validate(cfg)
}
