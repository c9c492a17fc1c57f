package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

func TestWhatOneClientWritesAnotherReadsAfterARestart(t *testing.T) {
	s := New()
	ctx := context.Background()
	a, err := s.GetClient(ctx, component.KindProcessor, component.MustNewID("slo"), "")
	require.NoError(t, err)
	require.NoError(t, a.Batch(ctx, storage.SetOperation("k", []byte("v1"))))
	b, err := s.GetClient(ctx, component.KindProcessor, component.MustNewID("slo"), "")
	require.NoError(t, err)
	got, err := b.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("v1"), got)
	got[0] = 'X'
	assert.Equal(t, []byte("v1"), s.Value("k"), "readers get copies")
	require.NoError(t, b.Delete(ctx, "k"))
	assert.Nil(t, s.Value("k"))
	assert.Equal(t, 1, s.Gets())
}

func TestFailedReadsReachTheComponent(t *testing.T) {
	s := New()
	s.Put("k", []byte("v"))
	boom := errors.New("disk on fire")
	s.FailGets(boom)
	c, err := s.GetClient(context.Background(), component.KindConnector, component.MustNewID("x"), "")
	require.NoError(t, err)
	_, err = c.Get(context.Background(), "k")
	assert.ErrorIs(t, err, boom)
}
