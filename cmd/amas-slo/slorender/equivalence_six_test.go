package slorender

import (
	"fmt"
	"math"
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

// sixMinute is one minute of input to the four default SLOs TestRulesAgreeWithTheProcessorsMath
// leaves out: tool calls (total, failed), agent runs and their cost, one queue depth sample and
// one memory utilisation sample.
type sixMinute struct {
	tools, toolsFailed int
	runs               int
	cost               float64
	queue, memory      float64
}

// sixStream is a seeded sequence of minutes in phases, each phase healthy or troubled for each
// SLO independently, so pages, tickets and budget alerts all occur.
func sixStream(seed uint64, minutes int) []sixMinute {
	r := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	toolFail := []float64{0.002, 0.03, 0.5, 1.0, 0.0}
	price := []float64{0.02, 0.04, 0.07, 0.3}
	queue := []float64{5, 20, 40, 80, 300}
	memory := []float64{0.5, 0.7, 0.95, 0.97}
	out := make([]sixMinute, 0, minutes)
	for len(out) < minutes {
		tf, p := toolFail[r.IntN(len(toolFail))], price[r.IntN(len(price))]
		q, mem := queue[r.IntN(len(queue))], memory[r.IntN(len(memory))]
		for range 3 + r.IntN(25) {
			m := sixMinute{tools: 40 + r.IntN(120), runs: 20 + r.IntN(80)}
			for range m.tools {
				if r.Float64() < tf {
					m.toolsFailed++
				}
			}
			m.cost = float64(m.runs) * p * (0.85 + 0.3*r.Float64())
			m.queue = q + float64(r.IntN(11)-5)
			m.memory = mem + 0.04*(r.Float64()-0.5)
			out = append(out, m)
		}
	}
	return out[:minutes]
}

// TestRulesAgreeWithTheProcessorsMathForTheOtherFourSLOs is TestRulesAgreeWithTheProcessorsMath
// for tool_call_success_rate (occurrences, from the tool-call counters), cost_efficiency (ratio
// timeslices, from the cost and run counters), queue_depth (gauge timeslices, from the queue
// depth gauge) and memory_usage (whose rules read the processor's own SLI and budget series):
// the processor's math and the rendered rules in promtool see the same seeded minutes and must
// fire the same burn-rate and budget alerts at every fifth minute.
//
// Samples are 30 s apart: a minute's gauge sample sits in the middle of its minute and the sample
// at the minute's end is left out, because Prometheus 2's range selectors include their left
// edge, so a sample exactly on the edge would belong to two slices (a real scrape is not aligned
// with rule evaluation; this only keeps the comparison exact).
func TestRulesAgreeWithTheProcessorsMathForTheOtherFourSLOs(t *testing.T) {
	bin := promtool(t)
	c := loadFile(t, "../../../config/otelcol-amas.yaml")
	byName := map[string]SLO{}
	for _, s := range c.SLOs {
		byName[s.Config.Name] = s
	}
	names := []string{"tool_call_success_rate", "cost_efficiency", "queue_depth", "memory_usage"}
	for _, n := range names {
		require.Contains(t, byName, n)
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			const minutes = 240
			ms := sixStream(seed, minutes)
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
			at := func(m int) int64 { return base + int64(m)*int64(time.Minute) }
			exp := map[string]map[int][]expAlert{}
			kinds := map[string]map[string]int{}
			// The memory SLO's own series, as the processor emits them at each minute's evaluation.
			memSLI := map[string][]float64{}
			var memBudget []float64
			skipped := map[int]bool{} // minutes with a value on a threshold, within float rounding
			for _, name := range names {
				s := byName[name]
				kinds[name] = map[string]int{}
				model := specOf(t, s)
				if r := s.Config.SLI.Ratio; r != nil {
					spec := model.Spec
					ts := *spec.Timeslices
					ts.Ratio, ts.Threshold = true, r.Threshold
					var err error
					ts.Comparison, err = slomath.ParseComparison(r.Comparison)
					require.NoError(t, err)
					spec.Timeslices = &ts
					model, err = slomath.NewModel(spec)
					require.NoError(t, err)
				}
				series := model.NewSeries()
				var ev slomath.Evaluation
				for m := 1; m <= minutes; m++ {
					mm := ms[m-1]
					switch name {
					case "tool_call_success_rate":
						model.RecordN(series, at(m)-int64(time.Second), slomath.Counts{Total: uint64(mm.tools), Bad: uint64(mm.toolsFailed)})
					case "cost_efficiency":
						model.RecordRatio(series, at(m)-int64(time.Second), mm.cost, float64(mm.runs))
					case "queue_depth":
						model.Record(series, at(m)-int64(30*time.Second), mm.queue > 50)
					case "memory_usage":
						model.Record(series, at(m)-int64(30*time.Second), mm.memory > 0.8)
					}
					model.Evaluate(series, at(m), &ev)
					if name == "memory_usage" {
						for i, w := range model.Layout.Windows {
							memSLI[dur(w)] = append(memSLI[dur(w)], slomath.SLI(ev.Counts[i]))
						}
						memBudget = append(memBudget, 100*ev.BudgetRemaining)
					}
					if m%5 != 0 {
						continue
					}
					if onEdge(s, model, &ev) {
						skipped[m] = true
						continue
					}
					expected(exp, kinds[name], s, model, series, &ev, m)
				}
			}
			t.Logf("alerts firing at the checked minutes (processor math): %v; minutes not compared (a value on its threshold): %d of %d", kinds, len(skipped), minutes/5)
			assert.Less(t, len(skipped), minutes/50, "only a few minutes may sit on a threshold")
			for _, name := range names {
				assert.Positive(t, kinds[name]["ticket"]+kinds[name]["page"], "%s: the stream must exercise burn-rate alerts", name)
				assert.Positive(t, kinds[name]["budget critical"]+kinds[name]["budget high"]+kinds[name]["budget warning"], "%s: the stream must exercise budget alerts", name)
			}
			assert.Positive(t, kinds["tool_call_success_rate"]["page"], "tool calls must page in the stream")

			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yaml"), RulesFile(c, "x"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(sixPromtoolTest(ms, memSLI, memBudget, exp, skipped, minutes)), 0o644))
			cmd := exec.Command(bin, "test", "rules", "test.yaml")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "Prometheus disagrees with the processor's math:\n%s", out)
		})
	}
}

// onEdge reports whether a burn rate or the budget remaining sits on its threshold within float
// rounding: there the processor (bad/total) and a rule reading its SLI (1 − SLI) may round to
// opposite sides — e.g. memory_usage with exactly 15% bad slices: (36/240)/(1 − 0.85) is just
// under 1 and (1 − 0.85)/(1 − 0.85) computed from the SLI gauge just over it.
func onEdge(s SLO, model *slomath.Model, ev *slomath.Evaluation) bool {
	near := func(v, th float64) bool { return math.Abs(v-th) <= 1e-9*math.Max(1, math.Abs(th)) }
	for _, r := range model.Rules {
		for _, w := range []time.Duration{r.LongWindow, r.ShortWindow} {
			c := ev.Counts[model.Layout.WindowIndex(w)]
			if r.HardDown() {
				if ratio, ok := slomath.ErrorRatio(c); ok && near(ratio, r.ErrorRatio) {
					return true
				}
				continue
			}
			if near(slomath.BurnRate(c, s.Config.Objective), r.Factor(s.Config.Window)) {
				return true
			}
		}
	}
	for _, th := range []float64{s.Budget.Critical, s.Budget.High, s.Budget.Warning} {
		if near(ev.BudgetRemaining, th) {
			return true
		}
	}
	return false
}

// expected adds the burn-rate and budget alerts the processor's math has firing at minute m.
func expected(exp map[string]map[int][]expAlert, kinds map[string]int, s SLO, model *slomath.Model, series *slomath.Series, ev *slomath.Evaluation, m int) {
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
			burn := slomath.BurnRate(ev.Counts[model.Layout.WindowIndex(r.LongWindow)], s.Config.Objective)
			ann = [][2]string{
				{"summary", "SLO " + s.Config.Name + " is burning its error budget fast"},
				{"description", fmt.Sprintf("Burn rate %.1f× over %s (and over %s) against a threshold of %s× for objective %s.", burn, dur(r.LongWindow), dur(r.ShortWindow), num(r.Factor(s.Config.Window)), num(s.Config.Objective))},
			}
		}
		kinds[kind]++
		add(exp, alertstate.AlertSLOBurnRate, m, expAlert{
			labels:      [][2]string{{"severity", sev}, {"slo", s.Config.Name}, {"long_window", dur(r.LongWindow)}, {"short_window", dur(r.ShortWindow)}},
			annotations: ann,
		})
	}
	for i, name := range []string{"critical", "high", "warning"} {
		firing := series.Alerts[model.BudgetSlot(i)].Phase == slomath.Firing
		if s.Config.SLI.Gauge != nil && s.Config.Name == "memory_usage" {
			// Known gap: memory_usage's rules read the processor's budget gauge, which carries
			// no event count, so they cannot apply the processor's minimum window for budget
			// alerts (budget_min_events); they fire whenever the gauge is below a threshold.
			// Pinned here so the day the rules gain the guard this test says so.
			rulesFire := model.Budget.Breached(ev.BudgetRemaining) == i
			if rulesFire && !firing {
				kinds["budget before the minimum window (rules only)"]++
			}
			firing = rulesFire
		}
		if !firing {
			continue
		}
		kinds["budget "+name]++
		sv := alertstate.SeverityWarning
		if s.Budget.SeverityOf(i) == slomath.Page {
			sv = alertstate.SeverityCritical
		}
		th := []float64{s.Budget.Critical, s.Budget.High, s.Budget.Warning}[i]
		win := ev.Counts[model.WindowIndex()]
		rem := 1 - (float64(win.Bad)/float64(win.Total))/(1-s.Config.Objective)
		add(exp, alertstate.AlertSLOBudgetExhausted, m, expAlert{
			labels: [][2]string{{"severity", sv}, {"slo", s.Config.Name}, {"threshold", name}},
			annotations: [][2]string{
				{"summary", "SLO " + s.Config.Name + " has little error budget left"},
				{"description", fmt.Sprintf("%.4g%% of the error budget is left over %s (threshold %s%%).", rem*100, dur(s.Config.Window), num(th*100))},
			},
		})
	}
}

// sixPromtoolTest writes the minutes as 30 s samples (counters at both, gauges mid-minute only,
// the memory SLO's series at each minute's end) and the expected alerts at every fifth minute.
func sixPromtoolTest(ms []sixMinute, memSLI map[string][]float64, memBudget []float64, exp map[string]map[int][]expAlert, skipped map[int]bool, minutes int) string {
	type col struct {
		name   string
		values []string
	}
	var toolsOK, toolsBad, runsOK, cost, queue, budget col
	toolsOK.name = `amas_agent_requests_total{agent="a",operation="execute_tool",status="ok"}`
	toolsBad.name = `amas_agent_requests_total{agent="a",operation="execute_tool",status="error"}`
	runsOK.name = `amas_agent_requests_total{agent="a",operation="invoke_agent",status="ok"}`
	cost.name = `amas_cost_usd_total{agent="a",model="m"}`
	queue.name = `amas_queue_depth_current{queue="q"}`
	budget.name = `amas_slo_error_budget_remaining_percent{slo="memory_usage"}`
	windows := make([]string, 0, len(memSLI))
	for w := range memSLI {
		windows = append(windows, w)
	}
	sort.Strings(windows)
	sli := make([]col, len(windows))
	for i, w := range windows {
		sli[i].name = `amas_slo_sli_ratio{slo="memory_usage",window="` + w + `"}`
	}
	var to, tb, ro int
	var co float64
	for k := 0; k <= 2*minutes; k++ {
		m := k / 2 // counters: cumulative through minute m (a minute's events arrive just before its end)
		if k%2 == 0 && m > 0 {
			mm := ms[m-1]
			to += mm.tools - mm.toolsFailed
			tb += mm.toolsFailed
			ro += mm.runs
			co += mm.cost
		}
		toolsOK.values = append(toolsOK.values, fmt.Sprint(to))
		toolsBad.values = append(toolsBad.values, fmt.Sprint(tb))
		runsOK.values = append(runsOK.values, fmt.Sprint(ro))
		cost.values = append(cost.values, fmt.Sprint(co))
		if k%2 == 1 {
			queue.values = append(queue.values, fmt.Sprint(ms[k/2].queue))
		} else {
			queue.values = append(queue.values, "_")
		}
		if k%2 == 0 && m > 0 {
			budget.values = append(budget.values, fmt.Sprint(memBudget[m-1]))
			for i, w := range windows {
				sli[i].values = append(sli[i].values, fmt.Sprint(memSLI[w][m-1]))
			}
		} else {
			budget.values = append(budget.values, "_")
			for i := range windows {
				sli[i].values = append(sli[i].values, "_")
			}
		}
	}
	var b strings.Builder
	b.WriteString("rule_files: [rules.yaml]\nevaluation_interval: 1m\ntests:\n  - interval: 30s\n    input_series:\n")
	for _, s := range append([]col{toolsOK, toolsBad, runsOK, cost, queue, budget}, sli...) {
		fmt.Fprintf(&b, "      - series: '%s'\n        values: '%s'\n", s.name, strings.Join(s.values, " "))
	}
	b.WriteString("    alert_rule_test:\n")
	for m := 5; m <= minutes; m += 5 {
		if skipped[m] {
			continue
		}
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
