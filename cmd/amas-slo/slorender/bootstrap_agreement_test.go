package slorender

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/internal/slopromql"
)

// TestRenderedCountRulesAreTheBootstrapsQueries: for an SLO whose rules read the processor's own
// event counters (one the connector's counters cannot express), the recorded event and bad-event
// counts are, byte for byte, the expressions the slo processor's history bootstrap sends for that
// SLO (internal/slopromql, before the bootstrap adds its group's matchers). SLOs whose rules read
// the connector's counters are computed there from other counters; the bootstrap always reads
// the processor's.
func TestRenderedCountRulesAreTheBootstrapsQueries(t *testing.T) {
	for _, configs := range [][]string{
		{"../../../config/otelcol-amas.yaml"},
		{"../../../config/otelcol-amas.yaml", "../../../deploy/replica/slo-by-service.yaml"},
	} {
		t.Run(strings.Join(configs, " + "), func(t *testing.T) {
			var docs [][]byte
			for _, p := range configs {
				data, err := os.ReadFile(p)
				require.NoError(t, err)
				docs = append(docs, data)
			}
			c, err := Load(docs...)
			require.NoError(t, err)
			by := map[string][]string{}
			for _, s := range c.SLOs {
				for _, g := range s.Config.GroupBy {
					by[s.Config.Name] = append(by[s.Config.Name], slopromql.Label(g))
				}
			}
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
			found := 0
			for _, g := range file.Groups {
				for _, r := range g.Rules {
					if !strings.Contains(r.Expr, slopromql.EventsMetric) || (r.Record != recEvents && r.Record != recBad) {
						continue
					}
					slo := r.Labels["slo"]
					w, err := slomath.ParseDuration(r.Labels["window"])
					require.NoError(t, err)
					counts := slopromql.ProcessorCounts(slo, by[slo])
					want := counts.Events(w)
					if r.Record == recBad {
						want = counts.BadEvents(w)
					}
					assert.Equal(t, want, r.Expr, "%s %s window %s", slo, r.Record, r.Labels["window"])
					found++
				}
			}
			assert.GreaterOrEqual(t, found, 2*5, "both counts of an SLO window and its burn-rate windows")
		})
	}
}
