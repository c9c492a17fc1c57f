// Package registry keeps the running instances of a component by component ID, so that another
// component (the SLO status extension) can read their state. The collector gives components no
// handle on each other besides the host's extensions, so processors register themselves here at
// Start and leave at Shutdown.
package registry // import "github.com/otelcol-amas/otelcol-amas/internal/registry"

import (
	"sort"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// Registry maps component IDs to running instances.
type Registry[T comparable] struct {
	mu sync.Mutex
	m  map[component.ID]T
}

// New returns an empty Registry.
func New[T comparable]() *Registry[T] {
	return &Registry[T]{m: map[component.ID]T{}}
}

// Register records v as the running instance of id.
func (r *Registry[T]) Register(id component.ID, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[id] = v
}

// Unregister forgets id, but only while v is still its instance: a reloaded config may have
// registered a new instance before the old one shut down.
func (r *Registry[T]) Unregister(id component.ID, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[id] == v {
		delete(r.m, id)
	}
}

// IDs returns the IDs of the running instances, sorted.
func (r *Registry[T]) IDs() []component.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]component.ID, 0, len(r.m))
	for id := range r.m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	return ids
}

// Lookup returns the running instance of id.
func (r *Registry[T]) Lookup(id component.ID) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[id]
	return v, ok
}
