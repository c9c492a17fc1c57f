package sharedcomponent

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

type counting struct {
	starts, stops int
	startErr      error
}

func (c *counting) Start(context.Context, component.Host) error { c.starts++; return c.startErr }
func (c *counting) Shutdown(context.Context) error              { c.stops++; return nil }

func TestTwoPipelinesShareOneInstanceStartedAndStoppedOnce(t *testing.T) {
	m := NewMap[string, *counting]()
	created := 0
	create := func() (*counting, error) { created++; return &counting{}, nil }

	a, err := m.LoadOrStore("slo", create)
	require.NoError(t, err)
	b, err := m.LoadOrStore("slo", create)
	require.NoError(t, err)
	assert.Same(t, a, b)
	assert.Equal(t, 1, created)

	host := componenttest.NewNopHost()
	require.NoError(t, a.Start(context.Background(), host))
	require.NoError(t, b.Start(context.Background(), host))
	require.NoError(t, a.Shutdown(context.Background()))
	require.NoError(t, b.Shutdown(context.Background()))
	assert.Equal(t, 1, a.Unwrap().starts)
	assert.Equal(t, 1, a.Unwrap().stops)

	c, err := m.LoadOrStore("slo", create)
	require.NoError(t, err)
	assert.NotSame(t, a, c, "after shutdown a reloaded config must get a fresh instance")
}

func TestStartErrorIsReturnedToEveryPipeline(t *testing.T) {
	m := NewMap[string, *counting]()
	boom := errors.New("boom")
	c, err := m.LoadOrStore("x", func() (*counting, error) { return &counting{startErr: boom}, nil })
	require.NoError(t, err)
	assert.ErrorIs(t, c.Start(context.Background(), nil), boom)
	assert.ErrorIs(t, c.Start(context.Background(), nil), boom)
	assert.Equal(t, 1, c.Unwrap().starts)
}

func TestCreateErrorStoresNothing(t *testing.T) {
	m := NewMap[string, *counting]()
	_, err := m.LoadOrStore("x", func() (*counting, error) { return nil, errors.New("bad") })
	require.Error(t, err)
	c, err := m.LoadOrStore("x", func() (*counting, error) { return &counting{}, nil })
	require.NoError(t, err)
	assert.NotNil(t, c.Unwrap())
}
