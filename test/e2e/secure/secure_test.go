// Package secure runs the built binary with the shipped secure deployment overlays
// (config/overlays/auth.yaml and tls.yaml over the default configuration) and proves, from
// outside: OTLP without the bearer token is refused (HTTP 401, gRPC Unauthenticated) and not
// counted, OTLP with it is counted; the SLO status API refuses without the token and answers with
// it; the loopback status server refuses a foreign Host header; and the token never appears in
// the collector's log, at debug level. A second test probes the default configuration with bad
// OTLP input mixed into batches of good spans (badinput_test.go).
package secure

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// selfSigned writes a CA-signed-by-itself certificate for 127.0.0.1, ::1 and localhost into dir
// and returns its pool (for clients) and the cert and key paths.
func selfSigned(t *testing.T, dir string) (*x509.CertPool, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "otelcol-amas test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, certPath, keyPath
}

// secrets are what a deployment mounts: a random token in a file and a self-signed certificate.
type secrets struct {
	token, tokenFile, certFile, keyFile string
	pool                                *x509.CertPool
}

func newSecrets(t *testing.T) *secrets {
	t.Helper()
	dir := t.TempDir()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	s := &secrets{token: hex.EncodeToString(b), tokenFile: filepath.Join(dir, "token")}
	require.NoError(t, os.WriteFile(s.tokenFile, []byte(s.token+"\n"), 0o600))
	s.pool, s.certFile, s.keyFile = selfSigned(t, dir)
	return s
}

// env points the overlays at the files.
func (s *secrets) env() []string {
	return []string{"AMAS_AUTH_TOKEN_FILE=" + s.tokenFile, "AMAS_TLS_CERT_FILE=" + s.certFile,
		"AMAS_TLS_KEY_FILE=" + s.keyFile, "AMAS_TLS_CA_FILE=" + s.certFile}
}

// secureCollector is a running collector with the auth and TLS overlays.
type secureCollector struct {
	*harness.Collector
	*secrets
	ports *harness.DefaultConfigPorts
}

func startSecureCollector(t *testing.T, sec *secrets) *secureCollector {
	t.Helper()
	ports := harness.NewDefaultConfigPorts(t)
	ports.Env = append(ports.Env, sec.env()...)
	// Debug logs: the most the collector ever writes, so a leak of the token would show.
	debug := harness.WriteConfig(t, "debug.yaml", "service:\n  telemetry:\n    logs:\n      level: debug\n")
	c := harness.StartDefaultCollector(t, ports, harness.OverlayPath(t, "auth.yaml"), harness.OverlayPath(t, "tls.yaml"), debug)
	return &secureCollector{Collector: c, secrets: sec, ports: ports}
}

func (s *secrets) httpClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}}}
}

// agentRuns is n invoke_agent spans of agent, as one OTLP request.
func agentRuns(agent string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", agent+"-service")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	for i := range n {
		sp := ss.Spans().AppendEmpty()
		sp.SetName("invoke_agent " + agent)
		var tid [16]byte
		var sid [8]byte
		_, _ = rand.Read(tid[:])
		_, _ = rand.Read(sid[:])
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		sp.SetKind(ptrace.SpanKindInternal)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(i+1) * 100 * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
		sp.Attributes().PutStr("gen_ai.operation.name", "invoke_agent")
		sp.Attributes().PutStr("gen_ai.agent.name", agent)
	}
	return td
}

// sdkProvider is the OpenTelemetry Go SDK over TLS with the token header, as a configured agent.
func (s *secrets) sdkProvider(t *testing.T, proto harness.Protocol, grpcEndpoint, httpEndpoint, service string) *sdktrace.TracerProvider {
	t.Helper()
	ctx := context.Background()
	hdr := map[string]string{"Authorization": "Bearer " + s.token}
	tlsCfg := &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
	var exp sdktrace.SpanExporter
	var err error
	if proto == harness.GRPC {
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcEndpoint),
			otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)), otlptracegrpc.WithHeaders(hdr))
	} else {
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpEndpoint),
			otlptracehttp.WithTLSClientConfig(tlsCfg), otlptracehttp.WithHeaders(hdr))
	}
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

func sendRuns(t *testing.T, tp *sdktrace.TracerProvider, agent string, n int) {
	t.Helper()
	tracer := tp.Tracer("secure-e2e")
	for range n {
		_, sp := tracer.Start(context.Background(), "invoke_agent "+agent, trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", agent)))
		sp.End()
	}
	require.NoError(t, tp.ForceFlush(context.Background()))
}

func requests(t *testing.T, promPort int, agent string) (float64, bool) {
	t.Helper()
	fams, err := harness.ScrapeFamilies(harness.MetricsURL(promPort))
	if err != nil {
		return 0, false
	}
	return harness.SeriesValue(fams, "amas_agent_requests_total", map[string]string{"agent": agent, "operation": "invoke_agent"})
}

func TestWithTheSecureOverlaysOnlyTheTokenGetsIn(t *testing.T) {
	s := startSecureCollector(t, newSecrets(t))
	hc := s.httpClient()
	body, err := ptraceotlp.NewExportRequestFromTraces(agentRuns("intruder", 7)).MarshalProto()
	require.NoError(t, err)

	// OTLP/HTTP without a token, and with a wrong one: 401, nothing counted.
	for name, auth := range map[string]string{"no token": "", "wrong token": "Bearer " + strings.Repeat("0", 64), "token without scheme": s.token} {
		req, err := http.NewRequest(http.MethodPost, "https://"+harness.Addr(s.ports.OTLPHTTP)+"/v1/traces", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-protobuf")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err, name)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "OTLP/HTTP with %s", name)
	}
	// Plain HTTP on the TLS port does not get in either.
	if resp, err := http.Post("http://"+harness.Addr(s.ports.OTLPHTTP)+"/v1/traces", "application/x-protobuf", bytes.NewReader(body)); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.NotEqual(t, http.StatusOK, resp.StatusCode, "plain HTTP to the TLS port is refused")
	}

	// OTLP gRPC without a token, and with a wrong one: Unauthenticated.
	conn, err := grpc.NewClient(harness.Addr(s.ports.OTLPGRPC), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12})))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	client := ptraceotlp.NewGRPCClient(conn)
	for name, md := range map[string]metadata.MD{"no token": nil, "wrong token": metadata.Pairs("authorization", "Bearer nope")} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if md != nil {
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
		_, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(agentRuns("intruder", 7)))
		cancel()
		assert.Equal(t, codes.Unauthenticated, status.Code(err), "OTLP gRPC with %s: %v", name, err)
	}

	// With the token, over both protocols with the real SDK: counted exactly.
	grpcEP, httpEP := harness.Addr(s.ports.OTLPGRPC), harness.Addr(s.ports.OTLPHTTP)
	sendRuns(t, s.sdkProvider(t, harness.GRPC, grpcEP, httpEP, "planner-service"), "planner", 11)
	sendRuns(t, s.sdkProvider(t, harness.HTTP, grpcEP, httpEP, "writer-service"), "writer", 13)
	// And a raw gRPC request with the token: counted too (the same client that was refused).
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+s.token))
	_, err = client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(agentRuns("reviewer", 5)))
	require.NoError(t, err)
	harness.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		p, _ := requests(t, s.ports.Prometheus, "planner")
		w, _ := requests(t, s.ports.Prometheus, "writer")
		r, _ := requests(t, s.ports.Prometheus, "reviewer")
		return p == 11 && w == 13 && r == 5, "requests planner=" + ftoa(p) + " writer=" + ftoa(w) + " reviewer=" + ftoa(r) + ", want 11, 13, 5"
	})
	_, found := requests(t, s.ports.Prometheus, "intruder")
	assert.False(t, found, "no unauthenticated span was counted")

	// The status API: 401 without the token, 200 with it, 403 with a foreign Host header even
	// with the token (DNS rebinding: the attacker's page would not have the token, but the Host
	// check does not depend on it).
	statusURL := "https://" + harness.Addr(s.ports.SLOStatus) + "/observability/slo/status"
	get := func(auth, host string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, statusURL, nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := get("", "")
	assert.Equal(t, http.StatusUnauthorized, code, "status API without the token")
	code, _ = get("Bearer wrong", "")
	assert.Equal(t, http.StatusUnauthorized, code, "status API with a wrong token")
	code, doc := get("Bearer "+s.token, "")
	assert.Equal(t, http.StatusOK, code, "status API with the token: %s", doc)
	assert.Contains(t, doc, `"agent_availability"`)
	port := strconv.Itoa(s.ports.SLOStatus)
	code, _ = get("Bearer "+s.token, "localhost:"+port)
	assert.Equal(t, http.StatusOK, code, "localhost is a loopback name")
	code, doc = get("Bearer "+s.token, "rebind.attacker.example:"+port)
	assert.Equal(t, http.StatusForbidden, code, "a foreign Host header on the loopback status server: %s", doc)

	// The token is in no log line, at debug level, after all of the above and a clean stop.
	s.Stop(t)
	out := s.Output()
	require.Contains(t, out, "SLO status page and API", "the log was captured")
	for i, line := range strings.Split(out, "\n") {
		assert.NotContains(t, line, s.token, "log line %d carries the token", i+1)
	}
	assert.NotContains(t, out, s.token[:16], "not even a prefix of the token is logged")
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// otlpStatus posts an empty OTLP/HTTP trace request with auth and returns the status code.
func (s *secrets) otlpStatus(t *testing.T, port int, auth string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "https://"+harness.Addr(port)+"/v1/traces", bytes.NewReader(nil))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Authorization", auth)
	resp, err := s.httpClient().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// The token file is watched: a rotation adds the new token as a second line, clients move, and
// the old line is removed; no restart.
func TestATokenRotatesWithoutARestart(t *testing.T) {
	s := startSecureCollector(t, newSecrets(t))
	oldToken := s.token
	require.Equal(t, http.StatusOK, s.otlpStatus(t, s.ports.OTLPHTTP, "Bearer "+oldToken))
	newToken := strings.Repeat("ab", 32)
	require.NoError(t, os.WriteFile(s.tokenFile, []byte(oldToken+"\n"+newToken+"\n"), 0o600))
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		return s.otlpStatus(t, s.ports.OTLPHTTP, "Bearer "+newToken) == http.StatusOK, "the new token is accepted"
	})
	assert.Equal(t, http.StatusOK, s.otlpStatus(t, s.ports.OTLPHTTP, "Bearer "+oldToken), "both tokens during the rotation")
	require.NoError(t, os.WriteFile(s.tokenFile, []byte(newToken+"\n"), 0o600))
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		return s.otlpStatus(t, s.ports.OTLPHTTP, "Bearer "+oldToken) == http.StatusUnauthorized, "the old token is refused once removed"
	})
	assert.Equal(t, http.StatusOK, s.otlpStatus(t, s.ports.OTLPHTTP, "Bearer "+newToken))
	s.Stop(t)
	assert.NotContains(t, s.Output(), newToken[:16])
	assert.NotContains(t, s.Output(), oldToken[:16])
}

// A missing token file fails the start (wait_for_token_file with 5 retries) instead of running a
// collector that refuses everyone.
func TestAMissingTokenFileFailsTheStart(t *testing.T) {
	ports := harness.NewDefaultConfigPorts(t)
	missing := filepath.Join(t.TempDir(), "no-such-token")
	cmd := exec.Command(harness.CollectorBinary(t), "--config", harness.DefaultConfigPath(t), "--config", harness.OverlayPath(t, "auth.yaml"))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"AMAS_OTLP_GRPC_ENDPOINT="+harness.Addr(ports.OTLPGRPC), "AMAS_OTLP_HTTP_ENDPOINT="+harness.Addr(ports.OTLPHTTP),
		"AMAS_PROMETHEUS_ENDPOINT="+harness.Addr(ports.Prometheus), "AMAS_HEALTH_ENDPOINT="+harness.Addr(ports.Health),
		"AMAS_TELEMETRY_PORT="+strconv.Itoa(ports.Telemetry), "AMAS_STORAGE_DIR="+ports.StorageDir,
		"AMAS_SLO_STATUS_ENDPOINT="+harness.Addr(ports.SLOStatus), "AMAS_AUTH_TOKEN_FILE="+missing)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "the collector exits with an error:\n%s", out.String())
		assert.NotEqual(t, 0, ee.ExitCode())
		assert.Contains(t, out.String(), "no-such-token", "the error names the file")
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the collector still runs 60 s after start without its token file:\n%s", out.String())
	}
}
