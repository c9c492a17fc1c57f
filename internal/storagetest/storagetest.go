// Package storagetest is an in-memory storage extension for restart tests: one Storage stands in
// for file_storage across a component's shutdown and a new instance's start, and tests can plant
// corrupt checkpoints or make reads fail.
package storagetest // import "github.com/otelcol-amas/otelcol-amas/internal/storagetest"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Storage is a storage.Extension whose clients all share one key space.
type Storage struct {
	mu     sync.Mutex
	data   map[string][]byte
	getErr error
	gets   int
}

var _ storage.Extension = (*Storage)(nil)

// New returns an empty Storage.
func New() *Storage { return &Storage{data: map[string][]byte{}} }

// Start does nothing.
func (*Storage) Start(context.Context, component.Host) error { return nil }

// Shutdown does nothing: the data outlives it, as a file would.
func (*Storage) Shutdown(context.Context) error { return nil }

// GetClient returns a client of the shared key space.
func (s *Storage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return client{s}, nil
}

// Put stores a copy of v under key, as a checkpoint written earlier would be.
func (s *Storage) Put(key string, v []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = append([]byte(nil), v...)
}

// Value returns a copy of what is stored under key.
func (s *Storage) Value(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.data[key]...)
}

// FailGets makes every later Get return err (nil restores reads).
func (s *Storage) FailGets(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.getErr = err
}

// Gets counts the Get calls so far.
func (s *Storage) Gets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

type client struct{ s *Storage }

func (c client) Get(_ context.Context, key string) ([]byte, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.gets++
	if c.s.getErr != nil {
		return nil, c.s.getErr
	}
	v, ok := c.s.data[key]
	if !ok {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

func (c client) Set(_ context.Context, key string, value []byte) error {
	c.s.Put(key, value)
	return nil
}

func (c client) Delete(_ context.Context, key string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	delete(c.s.data, key)
	return nil
}

func (c client) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		var err error
		switch op.Type {
		case storage.Get:
			op.Value, err = c.Get(ctx, op.Key)
		case storage.Set:
			err = c.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			err = c.Delete(ctx, op.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (client) Close(context.Context) error { return nil }
