package alertexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestTheMinimalAndFullExamplesLoadAndValidate(t *testing.T) {
	for _, name := range []string{"minimal", "full"} {
		t.Run(name, func(t *testing.T) {
			cfg := loadConfig(t, name)
			require.NoError(t, confmap.Validate(cfg))
		})
	}
	full := loadConfig(t, "full")
	assert.Equal(t, 15*time.Second, full.TimeoutConfig.Timeout)
	assert.Equal(t, "file_storage/alerts", full.QueueConfig.Get().StorageID.String())
	assert.Len(t, full.Route.Routes, 3)
	assert.True(t, full.Route.Routes[0].Continue)
	assert.Equal(t, "hunter2", string(full.Receivers[2].Email.AuthPassword))
	assert.NotContains(t, full.Receivers[2].Email.AuthPassword.String(), "hunter2", "opaque strings print redacted")
	require.NotNil(t, full.Receivers[3].Log, "an empty log: {} still configures the log receiver")
	minimal := loadConfig(t, "minimal")
	assert.Equal(t, 30*time.Second, minimal.Route.GroupWait, "defaults survive a minimal config")
}

func TestInvalidConfigsNameThePathTheRuleAndTheValue(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no receivers at all", func(c *Config) { c.Receivers = nil }, "receivers: must configure at least one receiver"},
		{"a route names an unknown receiver", func(c *Config) { c.Route.Routes = []RouteConfig{{Receiver: "nope"}} }, `route.routes[0].receiver: no receiver named "nope"`},
		{"a matcher has no operator", func(c *Config) { c.Route.Routes = []RouteConfig{{Matchers: []string{"severity"}}} }, `route.routes[0].matchers[0]:`},
		{"a matcher regex does not compile", func(c *Config) { c.Route.Matchers = []string{`slo=~"("`} }, `route.matchers[0]: error parsing regexp`},
		{"a matcher entry is empty", func(c *Config) { c.Route.Routes = []RouteConfig{{Matchers: []string{`{}`}}} }, `route.routes[0].matchers[0]: must hold at least one matcher, got "{}"`},
		{"a nested route's brace list has a bad matcher", func(c *Config) {
			c.Route.Routes = []RouteConfig{{Routes: []RouteConfig{{Matchers: []string{`{a="b", c}`}}}}}
		}, `route.routes[0].routes[0].matchers[0]: bad matcher format: c, got "{a=\"b\", c}"`},
		{"resolve_timeout is zero", func(c *Config) { c.ResolveTimeout = 0 }, "resolve_timeout: must be positive, got 0s"},
		{"a receiver has no integration", func(c *Config) { c.Receivers[0].Webhook = nil }, "receivers[0]: must configure at least one of"},
		{"two receivers share a name", func(c *Config) { c.Receivers = append(c.Receivers, c.Receivers[0]) }, `receivers[1].name: "hook" already used by receivers[0]`},
		{"a webhook url is not http", func(c *Config) { c.Receivers[0].Webhook.URL = "ftp://x/secret" }, "receivers[0].webhook.url: must be an absolute http or https URL (value not shown)"},
		{"an annotation template does not parse", func(c *Config) { c.Annotations["summary"] = "{{ .Labels" }, "annotations.summary: invalid template"},
		{"the root route has no group_wait", func(c *Config) { c.Route.GroupWait = 0 }, "route.group_wait: must be positive on the root route, got 0s"},
		{"an email has a bad recipient", func(c *Config) {
			c.Receivers[0].Email = &EmailConfig{Smarthost: "smtp:25", From: "a@b.c", To: []string{"not an address"}}
		}, `receivers[0].email.to[0]: must be an address, got "not an address"`},
		{"pagerduty has no routing key", func(c *Config) { c.Receivers[0].PagerDuty = &PagerDutyConfig{} }, "receivers[0].pagerduty.routing_key: must not be empty"},
		{"http.endpoint is set instead of the secret url", func(c *Config) { c.Receivers[0].Webhook.HTTP.Endpoint = "http://x" }, "receivers[0].webhook.http.endpoint: not used"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig("http://127.0.0.1:1/hook")
			c.mutate(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestSecretURLsNeverAppearInValidationErrors(t *testing.T) {
	cfg := testConfig("notaurl://hooks.example.com/services/SECRET")
	err := cfg.Validate()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SECRET")
}

func TestLifecycle(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, metadata.Type, f.Type())
	// The config struct check (componenttest.CheckConfigStruct) is in generated_component_test.go.
	require.IsType(t, &Config{}, f.CreateDefaultConfig())
	// The default config has no receiver: an alert exporter that sends nowhere is a mistake the
	// collector should refuse at startup, so validation names what is missing.
	err := f.CreateDefaultConfig().(*Config).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "route.receiver")
	for i := 0; i < 2; i++ {
		r := newRecorder(t)
		cfg := testConfig(r.srv.URL)
		set := exportertestSettings()
		exp, err := f.CreateMetrics(ctx(), set, cfg)
		require.NoError(t, err)
		require.NoError(t, exp.Start(ctx(), componenttest.NewNopHost()))
		require.NoError(t, exp.ConsumeMetrics(ctx(), batch(t0, []point{burn("x", t0, "firing")})))
		require.NoError(t, exp.Shutdown(ctx()))
	}
}
