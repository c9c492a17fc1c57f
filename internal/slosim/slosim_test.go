package slosim

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTheScenarioIsDeterministicAndHasItsShape(t *testing.T) {
	s := Default(4, 7)
	type sum struct{ runs, failed, slow, tools, toolsFailed int }
	collect := func() (sum, []int) {
		var total sum
		var perTick []int
		s.Run(func(tk *Tick) {
			n := 0
			for _, a := range tk.Agents {
				total.runs += a.Runs
				total.failed += a.Failed
				total.slow += a.Slow
				total.tools += a.Tools
				total.toolsFailed += a.ToolsFailed
				n += a.Runs
			}
			perTick = append(perTick, n)
		})
		return total, perTick
	}
	a, ticksA := collect()
	b, ticksB := collect()
	assert.Equal(t, a, b, "the same seed gives the same traffic")
	assert.Equal(t, ticksA, ticksB)
	assert.Len(t, ticksA, 4*24*360, "one tick per 10 s")

	t.Run("Nights are quiet and afternoons busy.", func(t *testing.T) {
		night, afternoon := 0, 0
		for i, n := range ticksA[:24*360] {
			switch h := i / 360; {
			case h >= 1 && h < 4:
				night += n
			case h >= 13 && h < 16:
				afternoon += n
			}
		}
		assert.Greater(t, afternoon, 10*night, "afternoon %d runs, night %d", afternoon, night)
	})
	t.Run("A total failure fails every run of the agent, and a collector restart receives nothing.", func(t *testing.T) {
		var tf, down Incident
		for _, e := range s.Events {
			if e.Kind == TotalFailure && tf.Name == "" {
				tf = e
			}
			if e.Kind == CollectorDown {
				down = e
			}
		}
		require.NotEmpty(t, tf.Name)
		require.NotEmpty(t, down.Name)
		runs, failed, downTicks := 0, 0, 0
		s.Run(func(tk *Tick) {
			begin := tk.At.Add(-TickLength)
			if tf.active(begin) {
				runs += tk.Agents[0].Runs
				failed += tk.Agents[0].Failed
			}
			if !tk.CollectorUp {
				downTicks++
			}
		})
		assert.Positive(t, runs)
		assert.Equal(t, runs, failed)
		assert.Equal(t, int(3*time.Minute/TickLength), downTicks)
	})
}

func TestScoreJudgesFiringsByTheLabelledIncidents(t *testing.T) {
	s := Default(4, 1)
	var tf Incident
	for _, e := range s.Truth() {
		if e.Kind == TotalFailure {
			tf = e
			break
		}
	}
	truth := &BudgetTruth{start: s.Start, remaining: map[string][]float32{}}
	firings := []Firing{
		{At: tf.Start.Add(70 * time.Second), SLO: SLOAvailability, Name: "SLOErrorBudgetBurn", Severity: "critical"},
		{At: tf.Start.Add(3 * time.Minute), SLO: SLOAvailability, Name: "SLOErrorBudgetBurn", Severity: "warning"},
		{At: tf.End().Add(Grace + time.Minute), SLO: SLOAvailability, Name: "SLOErrorBudgetBurn", Severity: "critical"},
		{At: tf.Start.Add(time.Minute), SLO: SLOLatency, Name: "SLOErrorBudgetBurn", Severity: "critical"},
		{At: tf.Start.Add(-time.Hour), SLO: SLOAvailability, Name: "SLONoData", Severity: "warning"},
	}
	res := Score(s, truth, firings, 10*time.Second)
	avail, latency := res[0], res[1]
	require.Equal(t, SLOAvailability, avail.SLO)
	assert.Equal(t, 1, avail.FalsePages, "a page after the incident and its grace is false")
	assert.Equal(t, 1, avail.FalseTickets, "a no-data ticket outside any incident is false")
	assert.Equal(t, 1, latency.FalsePages, "a page of another SLO during an incident is false")
	for _, ir := range avail.Incidents {
		if ir.Start.Equal(tf.Start) {
			assert.Equal(t, 80*time.Second, ir.ToPage, "time to page includes the notification delay")
			assert.Equal(t, 3*time.Minute+10*time.Second, ir.ToTicket)
			assert.False(t, ir.Missed())
		} else if ir.ExpectPage {
			assert.True(t, ir.Missed(), "%s got nothing", ir.Name)
		}
	}

	t.Run("An alert during a second incident belongs to it, not to the first one's grace.", func(t *testing.T) {
		var dead, evening Incident
		for _, e := range s.Truth() {
			switch e.Name {
			case "agent triage dead for 2 h":
				dead = e
			case "total failure (evening)":
				evening = e
			}
		}
		require.NotEmpty(t, dead.Name)
		require.NotEmpty(t, evening.Name)
		require.True(t, evening.Start.Before(dead.End().Add(Grace)), "the scenario puts the evening failure in the dead agent's grace")
		res := Score(s, truth, []Firing{{At: evening.Start.Add(time.Minute), SLO: SLOAvailability, Name: "SLOErrorBudgetBurn", Severity: "critical"}}, 0)
		for _, ir := range res[0].Incidents {
			switch ir.Name {
			case dead.Name:
				assert.True(t, ir.Missed(), "the dead agent got no alert of its own")
			case evening.Name:
				assert.Equal(t, time.Minute, ir.ToPage)
			}
		}
	})
	t.Run("A budget alert is true when the true budget is spent, after a day of history.", func(t *testing.T) {
		n := int(s.Duration / TickLength)
		truth := &BudgetTruth{start: s.Start, remaining: map[string][]float32{SLOLatency: make([]float32, n)}}
		for i := range n {
			truth.remaining[SLOLatency][i] = 0.1 // 10% left all along
		}
		early := s.Start.Add(2 * time.Hour)
		late := s.Start.Add(2 * 24 * time.Hour)
		res := Score(s, truth, []Firing{
			{At: early, SLO: SLOLatency, Name: "SLOErrorBudgetLow", Severity: "high"},
			{At: late, SLO: SLOLatency, Name: "SLOErrorBudgetLow", Severity: "high"},
			{At: late.Add(time.Hour), SLO: SLOLatency, Name: "SLOErrorBudgetLow", Severity: "critical"},
		}, 0)
		assert.Equal(t, 2, res[1].FalsePages, "too early (nearly empty window), and critical with 10% left")
	})
}

func TestBudgetTruthFollowsTheEvents(t *testing.T) {
	s := Default(4, 1)
	b := s.BudgetTruth()
	end := s.Start.Add(s.Duration)
	var runs, failed float64
	s.Run(func(tk *Tick) {
		if tk.CollectorUp {
			for _, a := range tk.Agents {
				runs += float64(a.Runs)
				failed += float64(a.Failed)
			}
		}
	})
	assert.InDelta(t, 1-failed/(0.005*runs), b.Remaining(SLOAvailability, end), 1e-6)
	assert.Equal(t, 1.0, b.Remaining(SLOAvailability, s.Start), "untouched before any event")
	for _, n := range SLONames {
		r := b.Remaining(n, end)
		assert.False(t, math.IsNaN(r), n)
		assert.Less(t, r, 1.0, "%s: the incidents spend budget", n)
	}
}

func TestRulesAreInlinedAndSteppedByTheirLongestRange(t *testing.T) {
	rules, err := ParseRules([]byte(`groups:
  - name: g
    rules:
      - record: amas_slo:sli_error:ratio
        expr: sum(increase(bad[3d])) / sum(increase(all[3d]))
        labels: {slo: s, window: 3d}
      - record: amas_slo:burn_rate:ratio
        expr: amas_slo:sli_error:ratio{slo="s",window="3d"} / (1 - 0.99)
        labels: {slo: s, window: 3d}
      - alert: A
        expr: |-
          max without (window) (amas_slo:burn_rate:ratio{slo="s",window="3d"}) >= 1
          and count_over_time(amas_slo:slice_bad{slo="s"}[5m]) > 0
          unless on(slo) ALERTS{alertname="A",slo="s",severity="critical"}
        for: 2m
        labels: {slo: s, severity: warning}
`))
	require.NoError(t, err)
	alerts, err := rules.Alerts()
	require.NoError(t, err)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.Equal(t, 2*time.Minute, a.ForDur)
	require.Len(t, a.Operands, 3)
	assert.Equal(t, "max without (window) (((sum(increase(bad[3d])) / sum(increase(all[3d]))) / (1 - 0.99))) >= 1", a.Operands[0].Expr)
	assert.Equal(t, 3*time.Minute, a.Operands[0].Step, "1/1440 of 3d")
	assert.Equal(t, `count_over_time(amas_slo:slice_bad{slo="s"}[5m]) > 0`, a.Operands[1].Expr, "the per-slice series is read as recorded")
	assert.Equal(t, time.Minute, a.Operands[1].Step)
	assert.True(t, a.Operands[2].Unless)
	assert.Equal(t, map[string]string{"alertname": "A", "slo": "s", "severity": "critical"}, a.Operands[2].Alerts)

	_, err = (&RuleSet{Groups: []RuleGroup{{Rules: []Rule{{Alert: "B", Expr: `amas_slo:missing{slo="x"} > 1`}}}}}).Alerts()
	assert.ErrorContains(t, err, "no recording rule")
}

func TestOpenMetricsKeepsFamiliesTogether(t *testing.T) {
	r := NewRecorder()
	for i := range 3 {
		ts := int64(1000 * (i + 1))
		r.Add("b_family", "counter", "b_family_total", `x="1"`, ts, float64(i))
		r.Add("a_family", "gauge", "a_family", ``, ts, 0.5)
		r.Add("b_family", "counter", "b_family_total", `x="2"`, ts, float64(2*i))
	}
	var buf bytes.Buffer
	require.NoError(t, r.WriteOpenMetrics(&buf))
	out := buf.String()
	assert.True(t, strings.HasSuffix(out, "# EOF\n"))
	assert.Equal(t, 1, strings.Count(out, "# TYPE b_family counter"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Equal(t, "# TYPE a_family gauge", lines[0])
	assert.Equal(t, `b_family_total{x="1"} 0 1.000`, lines[5])
	assert.Equal(t, `b_family_total{x="2"} 4 3.000`, lines[10])
}

func TestALatchKeepsItsFirstValue(t *testing.T) {
	rules, err := ParseRules([]byte(`groups:
  - name: g
    rules:
      - record: amas_slo:first_slice:timestamp
        expr: |-
          last_over_time(amas_slo:first_slice:timestamp{slo="s"}[2m])
          or timestamp(amas_slo:slice_bad{slo="s"})
        labels: {slo: s}
      - record: amas_slo:sli_events:count
        expr: clamp_max(floor((time() - amas_slo:first_slice:timestamp{slo="s"}) / 60) + 1, 30)
        labels: {slo: s, window: 30m}
      - alert: A
        expr: amas_slo:sli_events:count{slo="s",window="30m"} >= 1
        labels: {slo: s, severity: warning}
`))
	require.NoError(t, err)
	latches, err := rules.Latches()
	require.NoError(t, err)
	require.Len(t, latches, 1)
	assert.Equal(t, `timestamp(amas_slo:slice_bad{slo="s"})`, latches[0].Else)
	nan := math.NaN()
	got := EvaluateLatch(latches[0], []float64{nan, 60, 120, nan, nan, 300})
	assert.True(t, math.IsNaN(got[0]))
	assert.Equal(t, []float64{60, 60, 60, 60, 60}, got[1:], "once set, the value is kept while it is re-recorded every minute")
	alerts, err := rules.Alerts()
	require.NoError(t, err)
	assert.Equal(t, `(clamp_max(floor((time() - amas_slo:first_slice:timestamp{slo="s"}) / 60) + 1, 30)) >= 1`, alerts[0].Operands[0].Expr, "a latch is read as recorded, not inlined")
}
