package alertexporter

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/metadata"
	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// point is one amas_alerts point.
type point struct {
	name, state, severity string
	labels                map[string]string
	since                 time.Time
}

// value is one sibling metric point.
type value struct {
	name  string
	attrs map[string]string
	v     float64
}

func batch(now time.Time, pts []point, vals ...value) pmetric.Metrics {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	g := alertstate.NewGauge(sm)
	for _, p := range pts {
		alertstate.Append(g, pcommon.NewTimestampFromTime(now), alertstate.Alert{Name: p.name, State: p.state, Severity: p.severity,
			Labels: p.labels, ActiveSince: pcommon.NewTimestampFromTime(p.since)})
	}
	for _, v := range vals {
		m := sm.Metrics().AppendEmpty()
		m.SetName(v.name)
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
		dp.SetDoubleValue(v.v)
		for k, x := range v.attrs {
			dp.Attributes().PutStr(k, x)
		}
	}
	return md
}

func burn(slo string, since time.Time, state string) point {
	return point{name: alertstate.AlertSLOBurnRate, state: state, severity: alertstate.SeverityCritical,
		labels: map[string]string{"slo": slo, "long_window": "1h", "short_window": "5m"}, since: since}
}

// recorder is an httptest receiver that records bodies and answers with a scripted status.
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	paths  []string
	status []int // consumed one per request; 200 once empty
	down   bool
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		code := http.StatusOK
		if r.down {
			code = http.StatusServiceUnavailable
		} else if len(r.status) > 0 {
			code, r.status = r.status[0], r.status[1:]
		}
		if code < 300 {
			r.bodies = append(r.bodies, b)
			r.paths = append(r.paths, req.URL.Path)
		}
		r.mu.Unlock()
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("answer"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

func (r *recorder) setDown(down bool) { r.mu.Lock(); r.down = down; r.mu.Unlock() }

func (r *recorder) webhookMessages(t *testing.T) []webhookMessage {
	var out []webhookMessage
	for _, b := range r.received() {
		var m webhookMessage
		require.NoError(t, json.Unmarshal(b, &m))
		out = append(out, m)
	}
	return out
}

// testConfig is a default config with one webhook receiver at url, short timers and fast retry.
func testConfig(url string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Receivers = []ReceiverConfig{{Name: "hook", Webhook: &WebhookConfig{URL: configopaque.String(url)}}}
	cfg.Route.Receiver = "hook"
	cfg.Route.GroupWait = 10 * time.Second
	cfg.Route.GroupInterval = time.Minute
	cfg.Route.RepeatInterval = time.Hour
	cfg.BackOffConfig.InitialInterval = 5 * time.Millisecond
	cfg.BackOffConfig.MaxInterval = 20 * time.Millisecond
	cfg.BackOffConfig.RandomizationFactor = 0
	return cfg
}

type memStorage struct {
	mu   sync.Mutex
	data map[string][]byte
	// frozen drops every later write, as if the process had been killed for this client.
	frozen atomic.Bool
	// onWrite, when set, runs after each write that was kept.
	onWrite func()
}

func (s *memStorage) Get(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[k], nil
}

func (s *memStorage) Set(_ context.Context, k string, v []byte) error {
	if s.frozen.Load() {
		return nil
	}
	s.mu.Lock()
	s.data[k] = append([]byte(nil), v...)
	hook := s.onWrite
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

func (s *memStorage) Delete(_ context.Context, k string) error {
	if s.frozen.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, k)
	return nil
}

func (s *memStorage) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value, _ = s.Get(ctx, op.Key)
		case storage.Set:
			_ = s.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			_ = s.Delete(ctx, op.Key)
		}
	}
	return nil
}

func (*memStorage) Close(context.Context) error { return nil }

// memStorageExt hands out one memStorage per (component, name), surviving exporter restarts.
type memStorageExt struct {
	component.StartFunc
	component.ShutdownFunc
	mu      sync.Mutex
	clients map[string]*memStorage
}

func (m *memStorageExt) GetClient(_ context.Context, _ component.Kind, id component.ID, name string) (storage.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := id.String() + "/" + name
	if m.clients[key] == nil {
		m.clients[key] = &memStorage{data: map[string][]byte{}}
	}
	return m.clients[key], nil
}

var _ storage.Extension = (*memStorageExt)(nil)

type storageHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h storageHost) GetExtensions() map[component.ID]component.Component { return h.exts }

var storageID = component.MustNewID("mem_storage")

func newStorageHost() (storageHost, *memStorageExt) {
	ext := &memStorageExt{clients: map[string]*memStorage{}}
	return storageHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{storageID: extension.Extension(ext)}}, ext
}

// withStorage makes the queue persistent in the memory storage (which also holds the checkpoint).
func withStorage(cfg *Config) *Config {
	q := cfg.QueueConfig.Get()
	id := storageID
	q.StorageID = &id
	cfg.QueueConfig = configoptional.Some(*q)
	return cfg
}

// startExporter creates and starts an exporter driven by clk; ticks are manual.
func startExporter(t *testing.T, cfg *Config, clk clockwork.Clock, host component.Host) *alertExporter {
	e, _ := startExporterT(t, cfg, clk, host)
	return e
}

// startExporterT also returns the telemetry the exporter reports to.
func startExporterT(t *testing.T, cfg *Config, clk clockwork.Clock, host component.Host) (*alertExporter, *componenttest.Telemetry) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tt.Shutdown(context.Background()) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tt.NewTelemetrySettings()
	set.ID = component.NewID(metadata.Type) // fixed, so a restarted exporter finds its storage
	e, err := newExporter(context.Background(), set, cfg, clk)
	require.NoError(t, err)
	e.noLoop = true
	if host == nil {
		host = componenttest.NewNopHost()
	}
	require.NoError(t, e.Start(context.Background(), host))
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e, tt
}

// counter sums an internal counter over the points whose attributes include want.
func counter(t *testing.T, tt *componenttest.Telemetry, name string, want map[string]string) int64 {
	t.Helper()
	m, err := tt.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is not an int64 sum", name)
	var total int64
	for _, dp := range sum.DataPoints {
		match := true
		for k, v := range want {
			if got, ok := dp.Attributes.Value(attribute.Key(k)); !ok || got.AsString() != v {
				match = false
			}
		}
		if match {
			total += dp.Value
		}
	}
	return total
}

func consume(t *testing.T, e *alertExporter, md pmetric.Metrics) {
	t.Helper()
	require.NoError(t, e.ConsumeMetrics(context.Background(), md))
}

// waitCount polls (with a deadline, never a bare sleep) until the recorder holds n bodies.
func waitCount(t *testing.T, r *recorder, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.received()) >= n }, 10*time.Second, 5*time.Millisecond,
		"want %d notifications", n)
}

func goldenCompare(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test -run %s -update", t.Name())
	require.Equal(t, string(want), string(got))
}
