package slostatusextension

import (
	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-amas/otelcol-amas/internal/duration"
)

var _ confmap.Unmarshaler = (*Config)(nil)

// plainConfig is Config without its Unmarshal method, so decoding into it does not recurse.
type plainConfig Config

// Unmarshal decodes the section as the collector does, except that every duration reads the
// components' one syntax (internal/duration): Go's (`90s`, `1h30m`) and Prometheus' (`30d`,
// `1w`, `1d12h`).
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	return duration.Unmarshal(conf, (*plainConfig)(c))
}
