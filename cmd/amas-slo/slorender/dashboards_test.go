package slorender

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDashboardsRoundTripThroughTheSDKsTypes: the JSON Grafana imports decodes back into
// the Foundation SDK's dashboard types and re-encodes to the same JSON, and every query is a
// Prometheus query on the dashboard's data source variable.
func TestDashboardsRoundTripThroughTheSDKsTypes(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	c := loadFile(t, "../../../config/otelcol-amas.yaml")
	files, err := Render(c, Options{Origin: "x", JaegerURL: "https://jaeger.example/"})
	require.NoError(t, err)
	for _, uid := range []string{UIDOverview, UIDAgents, UIDTokensCost, UIDRegressions} {
		t.Run(uid, func(t *testing.T) {
			raw, ok := files[DashboardsDir+"/"+uid+".json"]
			require.True(t, ok)
			var d dashboard.Dashboard
			// (UnmarshalJSONStrict of SDK v0.0.22 returns typed-nil errors that stop it early, so
			// strictness is checked by the round trip: a field the types lack would be lost.)
			require.NoError(t, json.Unmarshal(raw, &d))
			again, err := marshalJSON(d)
			require.NoError(t, err)
			assert.JSONEq(t, string(raw), string(again), "the JSON holds nothing the SDK's types do not know")
			require.NotNil(t, d.Uid)
			assert.Equal(t, uid, *d.Uid)
			assert.Contains(t, d.Tags, "otelcol-amas")
			ids := map[uint32]bool{}
			queries, exemplars := 0, 0
			for _, p := range d.Panels {
				if p.RowPanel != nil {
					assert.False(t, ids[p.RowPanel.Id], "panel id %d is unique", p.RowPanel.Id)
					ids[p.RowPanel.Id] = true
					continue
				}
				require.NotNil(t, p.Panel.Id)
				assert.False(t, ids[*p.Panel.Id], "panel id %d is unique", *p.Panel.Id)
				ids[*p.Panel.Id] = true
				require.NotEmpty(t, p.Panel.Targets, "panel %q has a query", deref(p.Panel.Title))
				for _, tg := range p.Panel.Targets {
					q, ok := tg.(*prometheus.Dataquery)
					require.True(t, ok, "panel %q: a Prometheus query, got %T", deref(p.Panel.Title), tg)
					assert.NotEmpty(t, q.Expr)
					require.NotNil(t, q.Datasource)
					assert.Equal(t, "${datasource}", deref(q.Datasource.Uid))
					queries++
					if q.Exemplar != nil && *q.Exemplar {
						exemplars++
					}
				}
			}
			assert.Positive(t, queries)
			if uid == UIDAgents {
				assert.Equal(t, 2, exemplars, "the two latency panels show exemplars")
				assert.Contains(t, string(raw), `https://jaeger.example/trace/${__data.fields.trace_id}`, "the trace link uses --jaeger-url without a double slash")
			}
		})
	}
	// The overview has a row per SLO whose burn-rate thresholds are the rule factors.
	var all []map[string]any
	require.NoError(t, json.Unmarshal(files[FileDashboards], &all))
	require.Len(t, all, 4)
	overview, _ := json.Marshal(all[0])
	for _, s := range c.SLOs {
		assert.Contains(t, string(overview), s.Config.Name+": burn rate per window")
	}
	assert.True(t, strings.Contains(string(overview), `"value": 14.4`) || strings.Contains(string(overview), `"value":14.4`), "the 1h∧5m factor is a threshold line")
	assert.True(t, strings.Contains(string(overview), `"value": 50`) || strings.Contains(string(overview), `"value":50`), "the hard-down page (25%% at 99.5%%) is a threshold line at 50×")
	assert.Contains(t, string(files[FileDatasource]), "url: https://jaeger.example/trace/$${__value.raw}")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
