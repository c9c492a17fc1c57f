package slostatusextension

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-amas/otelcol-amas/extension/slostatusextension/internal/metadata"
)

func freeEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestFactoryAndLifecycle(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, metadata.Type, f.Type())
	assert.Equal(t, "slo_status", f.Type().String())
	assert.Equal(t, metadata.ExtensionStability, f.Stability())
	cfg := f.CreateDefaultConfig().(*Config)
	require.NoError(t, componenttest.CheckConfigStruct(cfg))
	require.NoError(t, confmap.Validate(cfg))

	for range 2 { // create → start → serve → shutdown, twice, on the same port
		cfg.ServerConfig.NetAddr.Endpoint = freeEndpoint(t)
		ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
		require.NoError(t, err)
		require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
		resp, err := http.Get("http://" + cfg.ServerConfig.NetAddr.Endpoint + pathHealth)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "no slo processor runs in this test")
		assert.Contains(t, string(body), "no slo processor is running")
		require.NoError(t, ext.Shutdown(context.Background()))
		_, err = http.Get("http://" + cfg.ServerConfig.NetAddr.Endpoint + pathHealth)
		assert.Error(t, err, "the port is closed after shutdown")
	}
	t.Run("Shutdown without Start is fine.", func(t *testing.T) {
		ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
		require.NoError(t, err)
		assert.NoError(t, ext.Shutdown(context.Background()))
	})
	t.Run("A busy port fails the start with the endpoint.", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		cfg.ServerConfig.NetAddr.Endpoint = l.Addr().String()
		ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
		require.NoError(t, err)
		err = ext.Start(context.Background(), componenttest.NewNopHost())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "endpoint: cannot listen on "+cfg.ServerConfig.NetAddr.Endpoint)
	})
}
