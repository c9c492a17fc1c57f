package slostatusextension

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-amas/otelcol-amas/extension/slostatusextension/internal/metadata"
)

func TestTheHostGuardAnswersOnlyItsOwnNames(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		allowed  []string
		yes, no  []string
	}{
		{"A loopback bind answers to its loopback names with its port only.", "127.0.0.1:13134", nil,
			[]string{"127.0.0.1:13134", "localhost:13134", "LocalHost:13134", "[::1]:13134"},
			[]string{"evil.example.com:13134", "evil.example.com", "127.0.0.1", "localhost:80", "127.0.0.1:13135", "", "127.0.0.2:13134"}},
		{"A localhost bind is loopback too.", "localhost:13134", nil, []string{"localhost:13134"}, []string{"attacker.test:13134"}},
		{"An IPv6 loopback bind is loopback too.", "[::1]:13134", nil, []string{"[::1]:13134"}, []string{"attacker.test:13134"}},
		{"A loopback bind on port 80 also answers to the bare names browsers send.", "127.0.0.1:80", nil, []string{"localhost", "127.0.0.1:80"}, []string{"evil.test"}},
		{"allowed_hosts adds names; a bare name matches any port.", "127.0.0.1:13134", []string{"status.internal", "Proxy.Example:8443"},
			[]string{"status.internal", "status.internal:13134", "proxy.example:8443", "localhost:13134"},
			[]string{"proxy.example:13134", "evil.test:13134"}},
		{"A non-loopback bind without allowed_hosts does not check (it is reached by names it cannot know).", "0.0.0.0:13134", nil,
			[]string{"otelcol-amas:13134", "10.0.0.7:13134", "anything"}, nil},
		{"A non-loopback bind with allowed_hosts answers to those only.", "0.0.0.0:13134", []string{"otelcol-amas.observability.svc"},
			[]string{"otelcol-amas.observability.svc:13134"}, []string{"localhost:13134", "evil.test"}},
		{"* turns the check off.", "127.0.0.1:13134", []string{"*"}, []string{"evil.test:13134"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newHostGuard(tt.endpoint, portOf(t, tt.endpoint), tt.allowed)
			for _, h := range tt.yes {
				assert.True(t, g.allows(h), "Host %q must be answered", h)
			}
			for _, h := range tt.no {
				assert.False(t, g.allows(h), "Host %q must be refused", h)
			}
		})
	}
}

func portOf(t *testing.T, endpoint string) int {
	t.Helper()
	i := len(endpoint) - 1
	for i >= 0 && endpoint[i] != ':' {
		i--
	}
	p, err := strconv.Atoi(endpoint[i+1:])
	require.NoError(t, err)
	return p
}

// A DNS-rebinding page reaches the loopback server with its own name in Host: refused before
// any handler, on the running server; the loopback names are answered.
func TestARunningLoopbackServerRefusesAForeignHostHeader(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = freeEndpoint(t)
	require.NoError(t, cfg.Validate())
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })

	port := portOf(t, cfg.ServerConfig.NetAddr.Endpoint)
	do := func(host string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, "http://"+cfg.ServerConfig.NetAddr.Endpoint+pathSchema, nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := do("rebind.attacker.test:" + strconv.Itoa(port))
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "Host header not allowed")
	assert.NotContains(t, body, "attacker", "the refused name is not echoed")
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
		code, _ = do(h + ":" + strconv.Itoa(port))
		assert.Equal(t, http.StatusOK, code, h)
	}
}
