package alertexporter

import (
	"fmt"
	"reflect"

	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-amas/otelcol-amas/internal/duration"
)

var _ confmap.Unmarshaler = (*Config)(nil)

// plainConfig is Config without its Unmarshal method, so decoding into it does not recurse.
type plainConfig Config

// Unmarshal decodes the section as the collector does, except that every duration reads the
// components' one syntax (internal/duration): Go's (`90s`, `1h30m`) and Prometheus' (`30d`,
// `1w`, `1d12h`). Child routes are decoded by RouteConfig.Unmarshal, out of reach of the walk
// over Config, so their durations are rewritten here first: errors then name the whole path
// (`route.routes[1].group_wait`).
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	if conf == nil {
		return nil
	}
	raw := conf.ToStringMap()
	if route, ok := raw["route"].(map[string]any); ok {
		changed, err := rewriteChildRoutes(route, "route")
		if err != nil {
			return err
		}
		if changed {
			conf = confmap.NewFromStringMap(raw)
		}
	}
	return duration.Unmarshal(conf, (*plainConfig)(c))
}

// rewriteChildRoutes rewrites the durations of route's child routes, at every depth.
func rewriteChildRoutes(route map[string]any, path string) (bool, error) {
	items, _ := route["routes"].([]any)
	changed := false
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			continue // RouteConfig.Unmarshal reports it
		}
		p := fmt.Sprintf("%s.routes[%d]", path, i)
		ch, err := duration.Rewrite(m, reflect.TypeFor[RouteConfig](), p)
		if err != nil {
			return false, err
		}
		deeper, err := rewriteChildRoutes(m, p)
		if err != nil {
			return false, err
		}
		changed = changed || ch || deeper
	}
	return changed, nil
}
