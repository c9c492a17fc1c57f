package alertexporter

import (
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
)

// FuzzLoadCheckpoint: whatever the storage returns for the alert state (alerts, notification log,
// sequence numbers), loading never panics, never holds more than max_alerts alerts, and what it
// loads is written again in a form it loads.
func FuzzLoadCheckpoint(f *testing.F) {
	f.Add([]byte(`{"alerts":[{"fp":1,"labels":{"alertname":"A","slo":"s"},"state":"firing"}],"log":[{"key":"k","firing":[1]}],"seqs":[{"key":"k","enqueued":3,"delivered":2,"pending":true}]}`))
	f.Add([]byte(`{"alerts":[{"fp":1,"labels":null}],"seqs":[{"key":"k","enqueued":18446744073709551615}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"log":[{"key":"","maybe":[0,0,0]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := testConfig("http://127.0.0.1:1/unused")
		cfg.MaxAlerts = 8
		e, err := newAlertExporter(cfg, exportertestSettings(), clockwork.NewFakeClockAt(t0))
		require.NoError(t, err)
		st := &memStorage{data: map[string][]byte{checkpointKey: data}}
		e.storage = st
		if err := e.loadCheckpoint(ctx()); err != nil {
			return
		}
		require.LessOrEqual(t, len(e.alerts), cfg.MaxAlerts)
		e.mu.Lock()
		err = e.writeCheckpoint(ctx())
		e.mu.Unlock()
		require.NoError(t, err)
		e2, err := newAlertExporter(cfg, exportertestSettings(), clockwork.NewFakeClockAt(t0))
		require.NoError(t, err)
		e2.storage = st
		require.NoError(t, e2.loadCheckpoint(ctx()), "the loader refuses what the writer wrote")
	})
}
