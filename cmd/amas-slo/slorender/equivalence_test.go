package slorender

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// minute is one minute of agent runs: total runs, failed runs, runs slower than 1.5 s.
type minute struct{ total, failed, slow int }

// stream is a seeded sequence of minutes in phases (healthy, outage, slow burn, latency trouble,
// silence). A minute has traffic or none at all, so the 1-minute scrape resolution never hides an
// event; the silent minutes are empty slices, good ones for the latency SLO in both evaluators.
func stream(seed uint64, minutes int) []minute {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	type phase struct {
		fail, slow float64
		quiet      bool
	}
	phases := []phase{{0.002, 0.01, false}, {0.5, 0.02, false}, {0.03, 0.01, false}, {0.001, 0.12, false}, {0.0, 0.0, false}, {0.08, 0.06, false}, {1.0, 0.5, false}, {0, 0, true}}
	out := make([]minute, 0, minutes)
	for len(out) < minutes {
		p := phases[r.IntN(len(phases))]
		for range 3 + r.IntN(25) {
			if p.quiet {
				out = append(out, minute{})
				continue
			}
			n := 40 + r.IntN(120)
			m := minute{total: n}
			for range n {
				if r.Float64() < p.fail {
					m.failed++
				}
				if r.Float64() < p.slow {
					m.slow++
				}
			}
			out = append(out, m)
		}
	}
	return out[:minutes]
}

// specOf is the slomath model the processor builds for s (no-data left out: at a 1-minute
// scrape a silence shorter than two minutes cannot be told apart).
func specOf(t *testing.T, s SLO) *slomath.Model {
	t.Helper()
	spec := slomath.Spec{
		Objective: s.Config.Objective, Window: s.Config.Window, Rules: s.Rules, Budget: s.Budget,
		BudgetMinEvents: s.BudgetMinEvents, ResolvedRetention: 5 * time.Minute,
	}
	if s.Timeslices() {
		spec.Timeslices = &slomath.Timeslices{Slice: s.Config.Budgeting.Slice, MaxBadRatio: s.Config.Budgeting.MaxBadRatio}
	}
	m, err := slomath.NewModel(spec)
	require.NoError(t, err)
	return m
}

type expAlert struct{ labels, annotations [][2]string }

// TestRulesAgreeWithTheProcessorsMath drives the processor's own math (internal/slomath, with
// the rules, minimum events and thresholds the processor resolves from the default config) and
// the rendered Prometheus rules (in promtool) with the same seeded event streams, and requires
// that the same burn-rate and budget alerts fire at every checked minute. The streams go through
// healthy traffic, outages, slow burns and slow minutes, so pages, tickets, suppression and the
// budget tiers all occur.
func TestRulesAgreeWithTheProcessorsMath(t *testing.T) {
	bin := promtool(t)
	c := loadFile(t, "../../../config/otelcol-amas.yaml")
	byName := map[string]SLO{}
	for _, s := range c.SLOs {
		byName[s.Config.Name] = s
	}
	checked := []SLO{byName["agent_availability"], byName["agent_latency_p95"]}

	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			const minutes = 240
			ms := stream(seed, minutes)
			quiet := 0
			for _, m := range ms {
				if m.total == 0 {
					quiet++
				}
			}
			require.Positive(t, quiet, "the stream must hold silent minutes (empty slices) for the comparison to cover them")
			// Minutes start at a day boundary, so the processor's buckets (up to 12h wide) and
			// slices align with the minutes Prometheus sees between two samples.
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
			at := func(m int) int64 { return base + int64(m)*int64(time.Minute) }

			exp := map[string]map[int][]expAlert{} // alertname → minute → alerts
			kinds := map[string]int{}
			for _, s := range checked {
				model := specOf(t, s)
				series := model.NewSeries()
				var ev slomath.Evaluation
				for m := 1; m <= minutes; m++ {
					mm := ms[m-1]
					bad := mm.failed
					if s.Timeslices() {
						bad = mm.slow
					}
					// The minute's events arrive just before the sample at its end.
					model.RecordN(series, at(m)-int64(time.Second), slomath.Counts{Total: uint64(mm.total), Bad: uint64(bad)})
					model.Evaluate(series, at(m), &ev)
					if m%5 != 0 {
						continue
					}
					for i, r := range model.Rules {
						if series.Alerts[i].Phase != slomath.Firing {
							continue
						}
						sev := alertstate.SeverityWarning
						if r.Severity == slomath.Page {
							sev = alertstate.SeverityCritical
						}
						kind := string(r.Severity)
						var ann [][2]string
						if r.HardDown() {
							kind = "hard down"
							ratio, _ := slomath.ErrorRatio(ev.Counts[model.Layout.WindowIndex(r.LongWindow)])
							ann = [][2]string{
								{"summary", "SLO " + s.Config.Name + " is failing hard"},
								{"description", fmt.Sprintf("%s of the events failed over %s, against a hard-down threshold of %s%%.", humanizePercentage(ratio), dur(r.LongWindow), num(r.ErrorRatio*100))},
							}
						} else {
							f := r.Factor(s.Config.Window)
							burn := slomath.BurnRate(ev.Counts[model.Layout.WindowIndex(r.LongWindow)], s.Config.Objective)
							ann = [][2]string{
								{"summary", "SLO " + s.Config.Name + " is burning its error budget fast"},
								{"description", fmt.Sprintf("Burn rate %.1f× over %s (and over %s) against a threshold of %s× for objective %s.", burn, dur(r.LongWindow), dur(r.ShortWindow), num(f), num(s.Config.Objective))},
							}
						}
						kinds[kind]++
						add(exp, alertstate.AlertSLOBurnRate, m, expAlert{
							labels:      [][2]string{{"severity", sev}, {"slo", s.Config.Name}, {"long_window", dur(r.LongWindow)}, {"short_window", dur(r.ShortWindow)}},
							annotations: ann,
						})
					}
					for i, th := range []string{"critical", "high", "warning"} {
						if series.Alerts[model.BudgetSlot(i)].Phase != slomath.Firing {
							continue
						}
						kinds["budget "+th]++
						sv := alertstate.SeverityWarning
						if s.Budget.SeverityOf(i) == slomath.Page {
							sv = alertstate.SeverityCritical
						}
						limit := []float64{s.Budget.Critical, s.Budget.High, s.Budget.Warning}[i]
						// The value as the rule computes it: 1 − ratio/(1 − objective).
						win := ev.Counts[model.WindowIndex()]
						rem := 1 - (float64(win.Bad)/float64(win.Total))/(1-s.Config.Objective)
						add(exp, alertstate.AlertSLOBudgetExhausted, m, expAlert{
							labels: [][2]string{{"severity", sv}, {"slo", s.Config.Name}, {"threshold", th}},
							annotations: [][2]string{
								{"summary", "SLO " + s.Config.Name + " has little error budget left"},
								{"description", fmt.Sprintf("%.4g%% of the error budget is left over %s (threshold %s%%).", rem*100, dur(s.Config.Window), num(limit*100))},
							},
						})
					}
				}
			}
			t.Logf("alerts firing at the checked minutes (processor math): %v", kinds)
			for _, k := range []string{"hard down", "page", "ticket", "budget critical"} {
				require.Positive(t, kinds[k], "the stream must exercise %s alerts for the comparison to mean something", k)
			}

			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yaml"), RulesFile(c, "x"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(promtoolTest(ms, exp, minutes)), 0o644))
			cmd := exec.Command(bin, "test", "rules", "test.yaml")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "Prometheus disagrees with the processor's math:\n%s", out)
		})
	}
}

// humanizePercentage formats a ratio as Prometheus' humanizePercentage template function does
// (the value × 100 with %.4g, then "%").
func humanizePercentage(v float64) string { return fmt.Sprintf("%.4g%%", v*100) }

func add(exp map[string]map[int][]expAlert, name string, m int, a expAlert) {
	if exp[name] == nil {
		exp[name] = map[int][]expAlert{}
	}
	exp[name][m] = append(exp[name][m], a)
}

// promtoolTest writes the stream as counter series and the expected alerts at every fifth minute.
func promtoolTest(ms []minute, exp map[string]map[int][]expAlert, minutes int) string {
	var ok, failed, count, fast []string
	var o, f, c, fa int
	for i := 0; i <= minutes; i++ {
		if i > 0 {
			m := ms[i-1]
			o += m.total - m.failed
			f += m.failed
			c += m.total
			fa += m.total - m.slow
		}
		ok = append(ok, fmt.Sprint(o))
		failed = append(failed, fmt.Sprint(f))
		count = append(count, fmt.Sprint(c))
		fast = append(fast, fmt.Sprint(fa))
	}
	var b strings.Builder
	b.WriteString("rule_files: [rules.yaml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n")
	for _, s := range []struct {
		name   string
		values []string
	}{
		{`amas_agent_requests_total{agent="a",operation="invoke_agent",status="ok"}`, ok},
		{`amas_agent_requests_total{agent="a",operation="invoke_agent",status="error"}`, failed},
		{`amas_agent_duration_seconds_count{agent="a",operation="invoke_agent",status="ok"}`, count},
		{`amas_agent_duration_seconds_bucket{agent="a",operation="invoke_agent",status="ok",le="1.5"}`, fast},
	} {
		fmt.Fprintf(&b, "      - series: '%s'\n        values: '%s'\n", s.name, strings.Join(s.values, " "))
	}
	b.WriteString("    alert_rule_test:\n")
	for m := 5; m <= minutes; m += 5 {
		for _, name := range []string{alertstate.AlertSLOBurnRate, alertstate.AlertSLOBudgetExhausted} {
			fmt.Fprintf(&b, "      - eval_time: %dm\n        alertname: %s\n", m, name)
			alerts := exp[name][m]
			if len(alerts) == 0 {
				continue
			}
			sort.Slice(alerts, func(i, j int) bool { return fmt.Sprint(alerts[i].labels) < fmt.Sprint(alerts[j].labels) })
			b.WriteString("        exp_alerts:\n")
			for _, a := range alerts {
				b.WriteString("          - exp_labels:\n")
				for _, l := range a.labels {
					fmt.Fprintf(&b, "              %s: %q\n", l[0], l[1])
				}
				b.WriteString("            exp_annotations:\n")
				for _, l := range a.annotations {
					fmt.Fprintf(&b, "              %s: %q\n", l[0], l[1])
				}
			}
		}
	}
	return b.String()
}
