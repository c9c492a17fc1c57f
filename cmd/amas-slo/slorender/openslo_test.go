package slorender

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

const osloHead = "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: checkout\n  displayName: Checkout agent\n"

const spansTotal = `
        total:
          metricSource:
            type: otelcol-amas/spans
            spec:
              conditions: ['attributes["gen_ai.operation.name"] == "invoke_agent"']`

func TestImportOpenSLOMapsWhatIsExpressible(t *testing.T) {
	agentCond := []string{`attributes["gen_ai.operation.name"] == "invoke_agent"`}
	cases := []struct {
		name string
		in   string
		want []sloprocessor.SLOConfig
	}{
		{
			name: "a ratio of bad spans to all, by occurrences over 28 days, becomes a span SLI",
			in: osloHead + `spec:
  budgetingMethod: Occurrences
  timeWindow: [{duration: 28d, isRolling: true}]
  objectives: [{target: 0.995}]
  indicator:
    metadata: {name: checkout-errors}
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: otelcol-amas/spans
            spec:
              conditions: ['status.code == STATUS_CODE_ERROR']` + spansTotal + "\n",
			want: []sloprocessor.SLOConfig{{
				Name: "checkout", Description: "Checkout agent", Objective: 0.995, Window: 28 * 24 * time.Hour,
				Budgeting: sloprocessor.BudgetingConfig{Method: "occurrences"},
				SLI:       sloprocessor.SLIConfig{Spans: &sloprocessor.SpansSLIConfig{Conditions: agentCond, BadConditions: []string{"status.code == STATUS_CODE_ERROR"}}},
			}},
		},
		{
			name: "good spans become the negation of the good conditions, targetPercent a fraction",
			in: osloHead + `spec:
  description: Runs that succeed
  budgetingMethod: Occurrences
  timeWindow: [{duration: 1w, isRolling: true}]
  objectives: [{targetPercent: 99}]
  indicator:
    metadata: {name: checkout-ok}
    spec:
      ratioMetric:
        good:
          metricSource:
            type: otelcol-amas/spans
            spec:
              conditions: ['status.code != STATUS_CODE_ERROR', 'attributes["cached"] == true']` + spansTotal + "\n",
			want: []sloprocessor.SLOConfig{{
				Name: "checkout", Description: "Runs that succeed", Objective: 0.99, Window: 7 * 24 * time.Hour,
				Budgeting: sloprocessor.BudgetingConfig{Method: "occurrences"},
				SLI: sloprocessor.SLIConfig{Spans: &sloprocessor.SpansSLIConfig{Conditions: agentCond,
					BadConditions: []string{`not ((status.code != STATUS_CODE_ERROR) or (attributes["cached"] == true))`}}},
			}},
		},
		{
			name: "a latency threshold by timeslices becomes a duration condition and a bad-share per slice",
			in: osloHead + `spec:
  budgetingMethod: Timeslices
  timeWindow: [{duration: 30d, isRolling: true}]
  objectives:
    - {displayName: p95 under 1.5s, op: lte, value: 1.5, target: 0.9, timeSliceTarget: 0.95, timeSliceWindow: 1m}
  indicator:
    metadata: {name: latency}
    spec:
      thresholdMetric:
        metricSource:
          type: otelcol-amas/spans
          spec:
            conditions: ['attributes["gen_ai.operation.name"] == "invoke_agent"']
`,
			want: []sloprocessor.SLOConfig{{
				Name: "checkout", Description: "Checkout agent", Objective: 0.9, Window: 30 * 24 * time.Hour,
				Budgeting: sloprocessor.BudgetingConfig{Method: "timeslices", Slice: time.Minute, MaxBadRatio: 0.05},
				SLI: sloprocessor.SLIConfig{Spans: &sloprocessor.SpansSLIConfig{Conditions: agentCond,
					BadConditions: []string{"end_time_unix_nano - start_time_unix_nano > 1500000000"}}},
			}},
		},
		{
			name: "a gauge threshold by timeslices becomes a gauge SLI",
			in: osloHead + `spec:
  budgetingMethod: Timeslices
  timeWindow: [{duration: 720h, isRolling: true}]
  objectives: [{op: lte, value: 50, target: 0.75, timeSliceTarget: 1, timeSliceWindow: 1m}]
  indicator:
    metadata: {name: queue}
    spec:
      thresholdMetric:
        metricSource:
          type: otelcol-amas/metric
          spec: {name: amas.queue_depth.current, attributes: {queue: tasks}}
`,
			want: []sloprocessor.SLOConfig{{
				Name: "checkout", Description: "Checkout agent", Objective: 0.75, Window: 720 * time.Hour,
				Budgeting: sloprocessor.BudgetingConfig{Method: "timeslices", Slice: time.Minute},
				SLI: sloprocessor.SLIConfig{Gauge: &sloprocessor.GaugeSLIConfig{
					Metrics:   []sloprocessor.MetricSelector{{Name: "amas.queue_depth.current", Attributes: map[string]string{"queue": "tasks"}}},
					Threshold: 50, Comparison: "<=",
				}},
			}},
		},
		{
			name: "a ratio of counters by timeslices compares each slice's ratio with the slice target",
			in: osloHead + `spec:
  budgetingMethod: Timeslices
  timeWindow: [{duration: 30d, isRolling: true}]
  objectives: [{target: 0.9, timeSliceTarget: 0.99, timeSliceWindow: 5m}]
  indicator:
    metadata: {name: ok-requests}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: otelcol-amas/metric
            spec: {name: amas.agent.requests, attributes: {status: ok}}
        total:
          metricSource:
            type: otelcol-amas/metric
            spec: {name: amas.agent.requests}
`,
			want: []sloprocessor.SLOConfig{{
				Name: "checkout", Description: "Checkout agent", Objective: 0.9, Window: 30 * 24 * time.Hour,
				Budgeting: sloprocessor.BudgetingConfig{Method: "timeslices", Slice: 5 * time.Minute},
				SLI: sloprocessor.SLIConfig{Ratio: &sloprocessor.RatioSLIConfig{
					Numerator:   sloprocessor.MetricSelector{Name: "amas.agent.requests", Attributes: map[string]string{"status": "ok"}},
					Denominator: sloprocessor.MetricSelector{Name: "amas.agent.requests"},
					Threshold:   0.99, Comparison: ">=",
				}},
			}},
		},
		{
			name: "an indicatorRef finds the SLI document, a Service document is skipped, two objectives make two SLOs",
			in: `apiVersion: openslo/v1
kind: Service
metadata: {name: shop}
spec: {description: The shop}
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: tool-latency}
spec:
  thresholdMetric:
    metricSource:
      type: otelcol-amas/spans
      spec: {conditions: ['attributes["gen_ai.operation.name"] == "execute_tool"']}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: tools}
spec:
  service: shop
  indicatorRef: tool-latency
  budgetingMethod: Occurrences
  timeWindow: [{duration: 7d, isRolling: true}]
  objectives:
    - {name: fast, op: lt, value: 0.5, target: 0.9}
    - {name: not slow, op: lte, value: 2, target: 0.99}
`,
			want: []sloprocessor.SLOConfig{
				{
					Name: "tools-fast", Objective: 0.9, Window: 7 * 24 * time.Hour, Budgeting: sloprocessor.BudgetingConfig{Method: "occurrences"},
					SLI: sloprocessor.SLIConfig{Spans: &sloprocessor.SpansSLIConfig{
						Conditions:    []string{`attributes["gen_ai.operation.name"] == "execute_tool"`},
						BadConditions: []string{"end_time_unix_nano - start_time_unix_nano >= 500000000"},
					}},
				},
				{
					Name: "tools-not_slow", Objective: 0.99, Window: 7 * 24 * time.Hour, Budgeting: sloprocessor.BudgetingConfig{Method: "occurrences"},
					SLI: sloprocessor.SLIConfig{Spans: &sloprocessor.SpansSLIConfig{
						Conditions:    []string{`attributes["gen_ai.operation.name"] == "execute_tool"`},
						BadConditions: []string{"end_time_unix_nano - start_time_unix_nano > 2000000000"},
					}},
				},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ImportOpenSLO([]byte(tc.in), "slo/imported")
			require.NoError(t, err)
			// The output is collector YAML the renderer (and so the processor) loads as is.
			c, err := Load(out)
			require.NoError(t, err, "%s", out)
			var got []sloprocessor.SLOConfig
			for _, s := range c.SLOs {
				assert.Equal(t, "slo/imported", s.Processor)
				got = append(got, s.Config)
			}
			assert.Equal(t, tc.want, got, "%s", out)
		})
	}
}

func TestImportOpenSLORejectsWhatIsNotExpressibleNamingTheField(t *testing.T) {
	ratioSpans := `
  indicator:
    metadata: {name: x}
    spec:
      ratioMetric:
        bad:
          metricSource:
            type: otelcol-amas/spans
            spec: {conditions: ['status.code == STATUS_CODE_ERROR']}` + spansTotal + "\n"
	occ := "  budgetingMethod: Occurrences\n  objectives: [{target: 0.99}]\n"
	rolling := "  timeWindow: [{duration: 28d, isRolling: true}]\n"
	cases := []struct {
		name, in, want string
	}{
		{"a calendar window", osloHead + "spec:\n" + occ + "  timeWindow: [{duration: 1M, isRolling: false, calendar: {startTime: '2024-01-01 00:00:00', timeZone: UTC}}]\n" + ratioSpans,
			"spec.timeWindow[0].isRolling: calendar-aligned windows are not expressible"},
		{"a window in months", osloHead + "spec:\n" + occ + "  timeWindow: [{duration: 1M, isRolling: true}]\n" + ratioSpans,
			`spec.timeWindow[0].duration: unit "M" is a calendar unit`},
		{"two windows", osloHead + "spec:\n" + occ + "  timeWindow: [{duration: 7d, isRolling: true}, {duration: 28d, isRolling: true}]\n" + ratioSpans,
			"spec.timeWindow: the slo processor evaluates one window per SLO, got 2"},
		{"RatioTimeslices budgeting", osloHead + "spec:\n  budgetingMethod: RatioTimeslices\n  objectives: [{target: 0.99}]\n" + rolling + ratioSpans,
			"spec.budgetingMethod: RatioTimeslices"},
		{"alert policies", osloHead + "spec:\n" + occ + rolling + "  alertPolicies: [fast-burn]\n" + ratioSpans,
			"spec.alertPolicies: not imported"},
		{"a Prometheus query as the source", osloHead + "spec:\n" + occ + rolling + `  indicator:
    metadata: {name: x}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{code!~"5.."}[1m]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total[1m]))'}}}
`, `spec.indicator.spec.ratioMetric.total.metricSource.type: "Prometheus" is not expressible`},
		{"a data source reference", osloHead + "spec:\n" + occ + rolling + `  indicator:
    metadata: {name: x}
    spec:
      thresholdMetric: {metricSource: {metricSourceRef: my-prometheus, spec: {query: up}}}
`, "spec.indicator.spec.thresholdMetric.metricSource.metricSourceRef: DataSource references are not imported"},
		{"a ratio of counters by occurrences", osloHead + "spec:\n" + occ + rolling + `  indicator:
    metadata: {name: x}
    spec:
      ratioMetric:
        good: {metricSource: {type: otelcol-amas/metric, spec: {name: a}}}
        total: {metricSource: {type: otelcol-amas/metric, spec: {name: b}}}
`, "spec.budgetingMethod: a ratio of metric counters is expressible only with Timeslices"},
		{"a gauge threshold by occurrences", osloHead + "spec:\n  budgetingMethod: Occurrences\n  objectives: [{op: lte, value: 0.8, target: 0.85}]\n" + rolling + `  indicator:
    metadata: {name: x}
    spec:
      thresholdMetric: {metricSource: {type: otelcol-amas/metric, spec: {name: process.memory.utilization}}}
`, "spec.budgetingMethod: a threshold on a gauge is expressible only with Timeslices"},
		{"a raw ratio", osloHead + "spec:\n" + occ + rolling + `  indicator:
    metadata: {name: x}
    spec:
      ratioMetric:
        rawType: success
        raw: {metricSource: {type: otelcol-amas/metric, spec: {name: a}}}
`, "spec.indicator.spec.ratioMetric.raw: a precomputed ratio"},
		{"a composite objective", osloHead + "spec:\n  budgetingMethod: Occurrences\n  objectives: [{target: 0.99, indicatorRef: other, compositeWeight: 1}]\n" + rolling + ratioSpans,
			"spec.objectives[0].indicatorRef: composite SLOs"},
		{"a missing SLI document", osloHead + "spec:\n" + occ + rolling + "  indicatorRef: nowhere\n",
			`spec.indicatorRef: no SLI document named "nowhere"`},
		{"an unknown key", osloHead + "spec:\n" + occ + rolling + "  burnRate: 2\n" + ratioSpans,
			"field burnRate not found"},
		{"another kind", "apiVersion: openslo/v1\nkind: AlertPolicy\nmetadata: {name: p}\nspec: {}\n",
			`kind: "AlertPolicy" is not imported`},
		{"another API version", "apiVersion: openslo/v2alpha\nkind: SLO\nmetadata: {name: p}\nspec: {}\n",
			`apiVersion: only openslo/v1 is supported, got "openslo/v2alpha"`},
		{"an OTTL condition the processor cannot parse", osloHead + "spec:\n" + occ + rolling + `  indicator:
    metadata: {name: x}
    spec:
      ratioMetric:
        bad: {metricSource: {type: otelcol-amas/spans, spec: {conditions: ['status.code ==']}}}` + spansTotal + "\n",
			"not valid for the slo processor: slos[0].sli.spans.bad_conditions"},
		{"an objective out of range, reported by the processor", osloHead + "spec:\n  budgetingMethod: Occurrences\n  objectives: [{target: 1.5}]\n" + rolling + ratioSpans,
			"slos[0].objective: must be in (0,1), got 1.5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ImportOpenSLO([]byte(tc.in), "slo")
			require.Error(t, err, "%s", out)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
