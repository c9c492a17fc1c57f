package slostatusextension // import "github.com/otelcol-amas/otelcol-amas/extension/slostatusextension"

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
)

// Config of the slo_status extension.
type Config struct {
	// ServerConfig is the HTTP server: endpoint (default 127.0.0.1:13134), TLS, CORS, auth...
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`

	// SLOProcessors are the slo processors shown; empty shows every running one.
	SLOProcessors []component.ID `mapstructure:"slo_processors"`
	// RegressionProcessors are the regression processors shown; empty shows every running one.
	RegressionProcessors []component.ID `mapstructure:"regression_processors"`
	// JaegerURL is the base URL of the Jaeger UI that regression links point to; empty: no links.
	JaegerURL string `mapstructure:"jaeger_url"`

	History HistoryConfig `mapstructure:"history"`
	Health  HealthConfig  `mapstructure:"health"`
	// PageRefresh is how often the status page reloads its data.
	PageRefresh time.Duration `mapstructure:"page_refresh"`
	// AllowedHosts are the Host header values answered besides the loopback names (DNS-rebinding
	// protection); see hostguard.go. "*" turns the check off.
	AllowedHosts []string `mapstructure:"allowed_hosts"`
}

// HistoryConfig bounds the error-budget history the extension keeps for the burn-down charts.
type HistoryConfig struct {
	// SampleInterval is how often every SLO group's budget remaining is sampled.
	SampleInterval time.Duration `mapstructure:"sample_interval"`
	// MaxSamples bounds one group's history; when full, every other sample is dropped and the
	// spacing doubles, so the history covers the SLO window at the finest spacing that fits.
	MaxSamples int `mapstructure:"max_samples"`
	// MaxSeries bounds the groups with a history; groups past it have none (counted).
	MaxSeries int `mapstructure:"max_series"`
}

// HealthConfig decides when SLO evaluation is reported unhealthy.
type HealthConfig struct {
	// MaxMissedTicks: evaluation is stale when the last tick is older than this many
	// evaluation intervals.
	MaxMissedTicks int `mapstructure:"max_missed_ticks"`
	// CheckpointErrorUnhealthy makes a failed checkpoint save unhealthy (503) instead of
	// degraded (200).
	CheckpointErrorUnhealthy bool `mapstructure:"checkpoint_error_unhealthy"`
}

var _ component.Config = (*Config)(nil)

// Validate checks every field; each message names the YAML path, the rule and the value.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ServerConfig.NetAddr.Endpoint == "" {
		add("endpoint: must not be empty")
	}
	if c.JaegerURL != "" {
		u, err := url.Parse(c.JaegerURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("jaeger_url: must be an absolute http(s) URL or empty, got %q", c.JaegerURL)
		}
	}
	seen := map[component.ID]bool{}
	for i, id := range c.SLOProcessors {
		if id.Type().String() != "slo" {
			add("slo_processors[%d]: must name an slo processor (slo or slo/<name>), got %q", i, id.String())
		}
		if seen[id] {
			add("slo_processors[%d]: duplicate %q", i, id.String())
		}
		seen[id] = true
	}
	for i, id := range c.RegressionProcessors {
		if id.Type().String() != "regression" {
			add("regression_processors[%d]: must name a regression processor (regression or regression/<name>), got %q", i, id.String())
		}
		if seen[id] {
			add("regression_processors[%d]: duplicate %q", i, id.String())
		}
		seen[id] = true
	}
	if c.History.SampleInterval < time.Second {
		add("history.sample_interval: must be at least 1s, got %s", c.History.SampleInterval)
	}
	if c.History.MaxSamples < 2 || c.History.MaxSamples > 100000 {
		add("history.max_samples: must be in [2,100000], got %d", c.History.MaxSamples)
	}
	if c.History.MaxSeries < 0 || c.History.MaxSeries > 1000000 {
		add("history.max_series: must be in [0,1000000], got %d", c.History.MaxSeries)
	}
	if c.Health.MaxMissedTicks < 1 {
		add("health.max_missed_ticks: must be at least 1, got %d", c.Health.MaxMissedTicks)
	}
	for i, h := range c.AllowedHosts {
		if err := validHostPattern(h); err != "" {
			add("allowed_hosts[%d]: %s, got %q", i, err, h)
		}
	}
	if c.PageRefresh < time.Second {
		add("page_refresh: must be at least 1s, got %s", c.PageRefresh)
	}
	return errors.Join(errs...)
}
