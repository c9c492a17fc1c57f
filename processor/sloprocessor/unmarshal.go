package sloprocessor

import (
	"time"

	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-amas/otelcol-amas/internal/duration"
)

// DefaultWindow is the rolling window of an SLO whose `window` is not set.
const DefaultWindow = 30 * 24 * time.Hour

var _ confmap.Unmarshaler = (*Config)(nil)

// plainConfig is Config without its Unmarshal method, so decoding into it does not recurse.
type plainConfig Config

// Unmarshal decodes the processor's YAML section as the collector does, with two additions:
//   - every duration (any time.Duration field, at any depth) reads the components' one syntax
//     (internal/duration): Go's, Prometheus' (`30d`, `1w`, `1d12h`) and days mixed with Go's units;
//   - an SLO without a `window` key gets DefaultWindow (30d).
//
// The collector calls it for the component's section; confmap.Conf.Unmarshal(cfg) calls it too,
// which is how the rules generator (cmd/amas-slo/slorender) decodes the same YAML.
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	if conf == nil {
		return nil
	}
	if err := duration.Unmarshal(conf, (*plainConfig)(c)); err != nil {
		return err
	}
	if slos, ok := conf.ToStringMap()["slos"].([]any); ok {
		for i, e := range slos {
			m, _ := e.(map[string]any)
			if _, set := m["window"]; !set && i < len(c.SLOs) {
				c.SLOs[i].Window = DefaultWindow
			}
		}
	}
	return nil
}
