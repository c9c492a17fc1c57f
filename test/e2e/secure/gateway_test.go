package secure

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// The Kubernetes gateway's overlay (deploy/gateway/secure.yaml) over deploy/gateway/gateway.yaml,
// in front of a replica with the auth and TLS overlays: agents need the token to reach the
// gateway, and the gateway reaches the replica with the same token over TLS verified against the
// CA. A gateway that forwards over TLS without the token is refused by the replica.
func TestTheGatewayCarriesTheTokenOverTLSToTheReplica(t *testing.T) {
	sec := newSecrets(t)
	replica := startSecureCollector(t, sec)
	root := harness.RepoRoot(t)

	gw := harness.NewDefaultConfigPorts(t)
	gw.Env = append(gw.Env, sec.env()...)
	gw.Env = append(gw.Env, "AMAS_GATEWAY_BACKENDS=["+harness.Addr(replica.ports.OTLPGRPC)+"]")
	gateway := harness.StartConfigFilesOnPorts(t, gw, root+"/deploy/gateway/gateway.yaml", root+"/deploy/gateway/secure.yaml")

	// Without the token the gateway refuses.
	body, err := ptraceotlp.NewExportRequestFromTraces(agentRuns("intruder", 3)).MarshalProto()
	require.NoError(t, err)
	resp, err := sec.httpClient().Post("https://"+harness.Addr(gw.OTLPHTTP)+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// With it, through the gateway, counted exactly on the replica.
	sendRuns(t, sec.sdkProvider(t, harness.GRPC, harness.Addr(gw.OTLPGRPC), harness.Addr(gw.OTLPHTTP), "routed-service"), "routed", 17)
	harness.Eventually(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		n, _ := requests(t, replica.ports.Prometheus, "routed")
		return n == 17, "replica requests{agent=routed} = " + ftoa(n) + ", want 17"
	})

	// The same gateway with TLS but without the token on the hop (its auth removed by an
	// overlay) gets nothing through: the replica answers Unauthenticated, which the exporter
	// helper logs before each retry.
	plain := harness.NewDefaultConfigPorts(t)
	plain.Env = append(plain.Env, sec.env()...)
	plain.Env = append(plain.Env, "AMAS_GATEWAY_BACKENDS=["+harness.Addr(replica.ports.OTLPGRPC)+"]")
	noHopToken := harness.WriteConfig(t, "no-hop-token.yaml", "exporters:\n  load_balancing:\n    protocol:\n      otlp:\n        auth: null\n")
	plainGW := harness.StartConfigFilesOnPorts(t, plain, root+"/deploy/gateway/gateway.yaml", root+"/deploy/gateway/secure.yaml", noHopToken)
	sendRuns(t, sec.sdkProvider(t, harness.GRPC, harness.Addr(plain.OTLPGRPC), harness.Addr(plain.OTLPHTTP), "unrouted-service"), "unrouted", 9)
	harness.Eventually(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		out := plainGW.Output()
		return strings.Contains(out, "Exporting failed") && strings.Contains(out, "Unauthenticated"),
			"the token-less gateway's export to the replica fails as Unauthenticated"
	})
	for _, line := range strings.Split(plainGW.Output(), "\n") {
		if _, after, ok := strings.Cut(line, "Exporting failed"); ok {
			if _, errText, ok := strings.Cut(after, `"error": `); ok {
				after = errText
			}
			t.Logf("token-less gateway, export failed: %.300s", after)
			break
		}
	}
	n, found := requests(t, replica.ports.Prometheus, "unrouted")
	assert.False(t, found, "nothing from the plain gateway was counted on the replica (got %v)", n)

	// Neither tier logs the token.
	gateway.Stop(t)
	replica.Stop(t)
	assert.NotContains(t, gateway.Output(), sec.token[:16], "the gateway's log")
	assert.NotContains(t, replica.Output(), sec.token[:16], "the replica's log")
}
