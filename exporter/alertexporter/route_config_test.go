package alertexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func TestRoutesDecodeAtEveryDepthOverTheDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	conf := confmap.NewFromStringMap(map[string]any{
		"route": map[string]any{
			"receiver": "tickets",
			"routes": []any{
				map[string]any{
					"receiver": "pages",
					"matchers": []any{`severity="critical"`},
					"continue": true,
					"routes": []any{
						map[string]any{"receiver": "billing", "group_wait": "5s"},
					},
				},
				map[string]any{"receiver": "chat"},
			},
		},
	})
	require.NoError(t, conf.Unmarshal(cfg))
	assert.Equal(t, "tickets", cfg.Route.Receiver)
	assert.Equal(t, 30*time.Second, cfg.Route.GroupWait, "a default the YAML does not set survives")
	require.Len(t, cfg.Route.Routes, 2)
	assert.True(t, cfg.Route.Routes[0].Continue)
	assert.Equal(t, []string{`severity="critical"`}, cfg.Route.Routes[0].Matchers)
	require.Len(t, cfg.Route.Routes[0].Routes, 1)
	assert.Equal(t, "billing", cfg.Route.Routes[0].Routes[0].Receiver)
	assert.Equal(t, 5*time.Second, cfg.Route.Routes[0].Routes[0].GroupWait)
	assert.Equal(t, "chat", cfg.Route.Routes[1].Receiver)
	assert.Empty(t, cfg.Route.Routes[1].Routes)
}

func TestMalformedRoutesAreRefusedWithTheirPath(t *testing.T) {
	cases := []struct {
		name  string
		route map[string]any
		want  string
	}{
		{"routes is not a list", map[string]any{"routes": "pages"}, "routes: must be a list of routes, got string"},
		{"a route is not a map", map[string]any{"routes": []any{"pages"}}, "routes[0]: must be a route (a map), got string"},
		{"a nested route has an unknown key", map[string]any{"routes": []any{map[string]any{"routes": []any{map[string]any{"recevier": "x"}}}}}, "has invalid keys: recevier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			err := confmap.NewFromStringMap(map[string]any{"route": tc.route}).Unmarshal(cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
