package alertexporter

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/metadata"
	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	ckpt "github.com/otelcol-amas/otelcol-amas/internal/checkpoint"
)

// checkpointStorage is the storage client the exporter's checkpoint lives in.
func checkpointStorage(ext *memStorageExt) *memStorage {
	ext.mu.Lock()
	defer ext.mu.Unlock()
	key := component.NewID(metadata.Type).String() + "/alert_state"
	if ext.clients[key] == nil {
		ext.clients[key] = &memStorage{data: map[string][]byte{}}
	}
	return ext.clients[key]
}

func withCheckpointStorage(cfg *Config) *Config {
	id := storageID
	cfg.Storage = &id
	return cfg
}

func TestAVersion1CheckpointStillRestores(t *testing.T) {
	// testdata/checkpoint_v1.json was written by the JSON encoder before internal/checkpoint:
	// agent_availability fired at t0 and its page was delivered at t0+10s.
	legacy, err := os.ReadFile("testdata/checkpoint_v1.json")
	require.NoError(t, err)
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0.Add(10 * time.Second))
	host, ext := newStorageHost()
	checkpointStorage(ext).data[checkpointKey] = legacy

	e, tt := startExporterT(t, withCheckpointStorage(testConfig(r.srv.URL)), clk, host)
	for range 3 {
		clk.Advance(time.Minute)
		consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
		e.tick(ctx())
	}
	assert.Equal(t, int64(0), counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil), "the restored log keeps the page from repeating")
	consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateResolved)}))
	clk.Advance(time.Minute)
	e.tick(ctx())
	waitCount(t, r, 1)
	assert.Equal(t, "resolved", r.webhookMessages(t)[0].Status)
	v, err := ckpt.Version(checkpointStorage(ext).data[checkpointKey], checkpointMagic)
	require.NoError(t, err)
	assert.Equal(t, byte(checkpointVersion), v, "the next checkpoint is written in the current version")
}

func TestADamagedLogEntryRepeatsOnlyItsOwnPage(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	host, ext := newStorageHost()
	cfg := withCheckpointStorage(testConfig(r.srv.URL))
	both := func() []point {
		return []point{burn("agent_availability", t0, alertstate.StateFiring), burn("agent_latency_p95", t0, alertstate.StateFiring)}
	}
	e1 := startExporter(t, cfg, clk, host)
	consume(t, e1, batch(clk.Now(), both()))
	clk.Advance(10 * time.Second)
	e1.tick(ctx())
	waitCount(t, r, 2)
	require.NoError(t, e1.Shutdown(ctx()))

	st := checkpointStorage(ext)
	b := st.data[checkpointKey]
	// The first group key with agent_latency_p95 is its notification log entry (alerts hold
	// label values, not keys; the log entries precede the sequences).
	i := bytes.Index(b, []byte(`slo="agent_latency_p95"}|hook`))
	require.Positive(t, i)
	b[i+6] ^= 0x01

	e2, tt := startExporterT(t, cfg, clk, host)
	for range 3 {
		clk.Advance(time.Minute)
		consume(t, e2, batch(clk.Now(), both()))
		e2.tick(ctx())
	}
	waitCount(t, r, 3)
	assert.Equal(t, int64(1), counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil),
		"only the group whose log entry was damaged is paged again (at-least-once); the other remembers its page")
	assert.Contains(t, string(r.received()[2]), "agent_latency_p95")
	assert.Equal(t, int64(1), counter(t, tt, "otelcol_exporter_alert_checkpoint_entries_skipped", nil))
}

func TestTheEncoderWritesWhatTheDecoderReads(t *testing.T) {
	in := checkpoint{
		Alerts: []ckpAlert{{Fingerprint: 7, Labels: map[string]string{"alertname": "X", "slo": string(bytes.Repeat([]byte("s"), 70<<10))},
			State: alertstate.StateFiring, StartsAt: t0, LastSeen: t0.Add(time.Second), Values: map[string]float64{"burn": 2.5}}},
		Log:  []ckpLogEntry{{Key: "k", Firing: []uint64{7}, At: t0, Maybe: []uint64{8, 9}}},
		Seqs: []ckpSeq{{Key: "k", Enqueued: 3, Delivered: 2, Used: t0, Pending: true}},
	}
	var out checkpoint
	skipped, err := decodeCheckpoint(encodeCheckpoint(&in), &out)
	require.NoError(t, err)
	assert.Zero(t, skipped, "a 70 KB label is truncated when written, never refused when read")
	require.Len(t, out.Alerts, 1)
	assert.LessOrEqual(t, len(out.Alerts[0].Labels["slo"]), checkpointLimits.MaxString)
	out.Alerts[0].Labels["slo"] = in.Alerts[0].Labels["slo"]
	assert.Equal(t, in, out)
}

func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(encodeCheckpoint(&checkpoint{
		Alerts: []ckpAlert{{Fingerprint: 1, Labels: map[string]string{"alertname": "X"}, State: alertstate.StateFiring, StartsAt: t0}},
		Log:    []ckpLogEntry{{Key: "k", Firing: []uint64{1}, At: t0}},
		Seqs:   []ckpSeq{{Key: "k", Enqueued: 1}},
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c checkpoint
		if _, err := decodeCheckpoint(b, &c); err != nil {
			return
		}
		if n := len(c.Alerts) + len(c.Log) + len(c.Seqs); n > len(b)/8 {
			t.Fatalf("%d entries from %d bytes", n, len(b))
		}
	})
}
