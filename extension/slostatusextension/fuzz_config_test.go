package slostatusextension

import (
	"testing"

	"github.com/otelcol-amas/otelcol-amas/internal/fuzzconfig"
)

// FuzzConfig: any YAML under the component's key unmarshals and validates, or is refused with an
// error; it never panics. Seeds: testdata/fuzz/FuzzConfig (the README examples of testdata/).
func FuzzConfig(f *testing.F) {
	fuzzconfig.Fuzz(f, createDefaultConfig, "{}")
}
