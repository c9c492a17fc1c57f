// Package sharedcomponent lets one component ID sit in several pipelines (a traces and a metrics
// pipeline, say) and share one instance and one state, the way core's memory_limiter does.
// The core and contrib copies of this helper are internal to their modules, so the project keeps
// its own small one.
package sharedcomponent // import "github.com/otelcol-amas/otelcol-amas/internal/sharedcomponent"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// Map holds the shared instances, keyed by whatever identifies one configured component
// (usually the *Config pointer, which the collector hands to every pipeline's factory call).
type Map[K comparable, V component.Component] struct {
	mu         sync.Mutex
	components map[K]*Component[V]
}

// NewMap returns an empty Map.
func NewMap[K comparable, V component.Component]() *Map[K, V] {
	return &Map[K, V]{components: map[K]*Component[V]{}}
}

// LoadOrStore returns the instance stored under key, creating it with create on first use.
func (m *Map[K, V]) LoadOrStore(key K, create func() (V, error)) (*Component[V], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.components[key]; ok {
		return c, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	c := &Component[V]{component: v}
	c.remove = func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.components, key)
	}
	m.components[key] = c
	return c, nil
}

// Component starts its instance on the first Start and shuts it down on the first Shutdown; the
// pipelines that share it are started and stopped together by the service.
type Component[V component.Component] struct {
	component V
	remove    func()

	startOnce sync.Once
	startErr  error
	stopOnce  sync.Once
	stopErr   error
}

// Unwrap returns the shared instance.
func (c *Component[V]) Unwrap() V { return c.component }

// Start starts the instance once and returns the same error to every pipeline.
func (c *Component[V]) Start(ctx context.Context, host component.Host) error {
	c.startOnce.Do(func() { c.startErr = c.component.Start(ctx, host) })
	return c.startErr
}

// Shutdown stops the instance once and forgets it, so a reloaded config gets a fresh instance.
func (c *Component[V]) Shutdown(ctx context.Context) error {
	c.stopOnce.Do(func() {
		c.remove()
		c.stopErr = c.component.Shutdown(ctx)
	})
	return c.stopErr
}
