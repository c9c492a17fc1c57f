package slorender

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/internal/slopromql"
)

// TestRenderedCountRulesAreTheBootstrapsQueries: for an SLO whose rules read the processor's own
// counters (the replica overlay's span SLOs per service.name), the recorded event and bad-event
// counts are, byte for byte, the expressions the slo processor's history bootstrap sends for
// that SLO (internal/slopromql, before the bootstrap adds its group's matchers).
func TestRenderedCountRulesAreTheBootstrapsQueries(t *testing.T) {
	var docs [][]byte
	for _, p := range []string{"../../config/otelcol-amas.yaml", "../../deploy/replica/slo-by-service.yaml"} {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		docs = append(docs, data)
	}
	c, err := Load(docs...)
	require.NoError(t, err)
	var file struct {
		Groups []struct {
			Rules []struct {
				Record string            `yaml:"record"`
				Expr   string            `yaml:"expr"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(RulesFile(c, "x"), &file))
	counts := slopromql.ProcessorCounts("agent_availability", []string{"service_name"})
	found := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Labels["slo"] != "agent_availability" || (r.Record != recEvents && r.Record != recBad) {
				continue
			}
			w, err := slomath.ParseDuration(r.Labels["window"])
			require.NoError(t, err)
			want := counts.Events(w)
			if r.Record == recBad {
				want = counts.BadEvents(w)
			}
			assert.Equal(t, want, r.Expr, "%s window %s", r.Record, r.Labels["window"])
			found++
		}
	}
	assert.GreaterOrEqual(t, found, 2*5, "both counts of the SLO window and of the burn-rate windows")
}
