package registry

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/component"
)

func TestInstancesAreListedSortedAndLookedUpByID(t *testing.T) {
	r := New[*int]()
	a, b := new(int), new(int)
	idB := component.MustNewIDWithName("slo", "b")
	idA := component.MustNewIDWithName("slo", "a")
	r.Register(idB, b)
	r.Register(idA, a)
	assert.Equal(t, []component.ID{idA, idB}, r.IDs())
	got, ok := r.Lookup(idA)
	assert.True(t, ok)
	assert.Same(t, a, got)
}

func TestAnOldInstanceShuttingDownDoesNotRemoveItsReplacement(t *testing.T) {
	r := New[*int]()
	id := component.MustNewID("slo")
	old, replacement := new(int), new(int)
	r.Register(id, old)
	r.Register(id, replacement)
	r.Unregister(id, old)
	got, ok := r.Lookup(id)
	assert.True(t, ok)
	assert.Same(t, replacement, got)
	r.Unregister(id, replacement)
	_, ok = r.Lookup(id)
	assert.False(t, ok)
}
