package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"fmt"

	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-amas/otelcol-amas/internal/duration"
)

var _ confmap.Unmarshaler = (*RouteConfig)(nil)

// plainRoute is RouteConfig without its Unmarshal method, so decoding into it does not recurse.
type plainRoute RouteConfig

// Unmarshal decodes one route and then its child routes (the YAML key "routes"). The children
// are decoded here instead of through a mapstructure tag on Routes because the collector's
// config-struct check (componenttest.CheckConfigStruct, run by the generated lifecycle tests)
// follows field types and never ends on a type that contains itself.
// A route's own fields read the components' one duration syntax (internal/duration), at every
// depth: the walk over Config stops at Routes, so each level rewrites its own.
func (r *RouteConfig) Unmarshal(conf *confmap.Conf) error {
	raw := conf.Get("routes")
	conf.Delete("routes")
	if err := duration.Unmarshal(conf, (*plainRoute)(r)); err != nil {
		return err
	}
	if raw == nil {
		return nil
	}
	items, ok := raw.([]any)
	if !ok {
		return fmt.Errorf("routes: must be a list of routes, got %T", raw)
	}
	r.Routes = make([]RouteConfig, len(items))
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			return fmt.Errorf("routes[%d]: must be a route (a map), got %T", i, item)
		}
		// Decoding through a new Conf calls this method for the child, children included.
		if err := confmap.NewFromStringMap(m).Unmarshal(&r.Routes[i]); err != nil {
			return fmt.Errorf("routes[%d]: %w", i, err)
		}
	}
	return nil
}
