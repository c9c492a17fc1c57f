package spanmetrics

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics/internal/metadata"
)

var update = flag.Bool("update", false, "rewrite the golden output.yaml files from the current output")

// goldenNow is after every span of the inputs (they start at 1_700_000_000 s).
var goldenNow = time.Unix(1_700_000_100, 0)

// loadCaseConfig merges testdata/<case>/config.yaml onto the default config.
func loadCaseConfig(t *testing.T, dir string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join(dir, "config.yaml"))
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cm.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	return cfg
}

type harness struct {
	c      *spanMetricsConnector
	sink   *consumertest.MetricsSink
	clock  *clockwork.FakeClock
	reader *sdkmetric.ManualReader
}

func newTestConnector(t *testing.T, cfg *Config) *harness { return newTestConnectorTB(t, cfg) }

func newTestConnectorTB(t testing.TB, cfg *Config) *harness {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	set := connectortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	clock := clockwork.NewFakeClockAt(goldenNow)
	sink := new(consumertest.MetricsSink)
	c, err := newConnector(set, cfg, clock, sink)
	require.NoError(t, err)
	return &harness{c: c, sink: sink, clock: clock, reader: reader}
}

// internalCount sums an internal counter's data points whose attribute key has value (or all when key is "").
func (h *harness) internalCount(t *testing.T, name, key, value string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, h.reader.Collect(context.Background(), &rm))
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					if v, ok := dp.Attributes.Value(attributeKey(key)); key == "" || ok && v.AsString() == value {
						total += dp.Value
					}
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					total += dp.Value
				}
			}
		}
	}
	return total
}

func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata")
	require.NoError(t, err)
	ran := 0
	for _, e := range cases {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join("testdata", e.Name())
		if _, err := os.Stat(filepath.Join(dir, "input.yaml")); err != nil {
			continue
		}
		ran++
		t.Run(e.Name(), func(t *testing.T) {
			h := newTestConnector(t, loadCaseConfig(t, dir))
			td, err := golden.ReadTraces(filepath.Join(dir, "input.yaml"))
			require.NoError(t, err)
			require.NoError(t, h.c.ConsumeTraces(context.Background(), td))
			h.c.flush(context.Background())
			require.Len(t, h.sink.AllMetrics(), 1)
			got := h.sink.AllMetrics()[0]

			out := filepath.Join(dir, "output.yaml")
			if *update {
				require.NoError(t, golden.WriteMetricsToFile(out, got, golden.SkipMetricTimestampNormalization()))
			}
			want, err := golden.ReadMetrics(out)
			require.NoError(t, err)
			assert.NoError(t, pmetrictest.CompareMetrics(want, got,
				pmetrictest.IgnoreMetricsOrder(), pmetrictest.IgnoreMetricDataPointsOrder()))
		})
	}
	require.Positive(t, ran, "no golden cases found")
}

// TestGoldenInternalTelemetry checks the internal counters of the bad-input case: every bad value
// is counted under its reason and the good spans of the same batch are still processed.
func TestGoldenInternalTelemetry(t *testing.T) {
	dir := filepath.Join("testdata", "bad_input")
	h := newTestConnector(t, loadCaseConfig(t, dir))
	td, err := golden.ReadTraces(filepath.Join(dir, "input.yaml"))
	require.NoError(t, err)
	require.NoError(t, h.c.ConsumeTraces(context.Background(), td))

	tests := []struct {
		reason string
		want   int64
	}{
		{"invalid_timestamps", 1},  // end before start
		{"duration_too_long", 1},   // a 48 h span
		{"invalid_tokens", 4},      // -5, "abc", 1e12, 1.5
		{"invalid_cost", 1},        // NaN
		{"invalid_queue_depth", 2}, // -3, "many"
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, h.internalCount(t, "otelcol_connector_amas_spanmetrics_spans_skipped", "reason", tt.reason), tt.reason)
	}
	assert.Equal(t, int64(td.SpanCount()), h.internalCount(t, "otelcol_connector_amas_spanmetrics_spans_seen", "", ""))
}

func TestGoldenUnknownModelsAreCountedAndWarnedOnce(t *testing.T) {
	dir := filepath.Join("testdata", "cost")
	h := newTestConnector(t, loadCaseConfig(t, dir))
	td, err := golden.ReadTraces(filepath.Join(dir, "input.yaml"))
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, h.c.ConsumeTraces(context.Background(), td))
	}
	assert.Equal(t, int64(3), h.internalCount(t, "otelcol_connector_amas_spanmetrics_unknown_models", "", ""))
	assert.Len(t, h.c.unknownModels, 1, "one model name remembered for the single warning")
	assert.Contains(t, h.c.unknownModels, "my-finetune")
}

// sumValue returns the value of the first series of name whose attributes include want: its
// last point, as a stream's first flush may send a 0 before its value (zero_points).
func sumValue(t *testing.T, md pmetric.Metrics, name string, want map[string]string) (v float64, found bool) {
	t.Helper()
	var first pcommon.Map // the attributes of the series found
	same := func(attrs pcommon.Map) bool {
		if !attrsMatch(attrs.AsRaw(), want) || (found && !attrs.Equal(first)) {
			return false
		}
		first, found = attrs, true
		return true
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != name {
					continue
				}
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				case pmetric.MetricTypeHistogram:
					hdps := m.Histogram().DataPoints()
					for l := 0; l < hdps.Len(); l++ {
						if same(hdps.At(l).Attributes()) {
							v = float64(hdps.At(l).Count())
						}
					}
					continue
				default:
					continue
				}
				for l := 0; l < dps.Len(); l++ {
					dp := dps.At(l)
					if !same(dp.Attributes()) {
						continue
					}
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						v = float64(dp.IntValue())
					} else {
						v = dp.DoubleValue()
					}
				}
			}
		}
	}
	return v, found
}

func attrsMatch(got map[string]any, want map[string]string) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

func attributeKey(k string) attribute.Key { return attribute.Key(k) }
