package slopromql

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestProcessorCountsMatchOneGroup(t *testing.T) {
	c := ProcessorCounts("agent_availability", []string{"service_name"}).Match([][2]string{{"service.name", `svc "a"`}})
	assert.Equal(t, `sum by (service_name) (increase(amas_slo_events_total{slo="agent_availability",service_name="svc \"a\""}[5m]))`, c.Events(5*time.Minute))
	assert.Equal(t, `(sum by (service_name) (increase(amas_slo_bad_events_total{slo="agent_availability",service_name="svc \"a\""}[30d])) or 0 * `+
		`sum by (service_name) (increase(amas_slo_events_total{slo="agent_availability",service_name="svc \"a\""}[30d])))`, c.BadEvents(30*24*time.Hour))
}

func TestAddMatchersSortsAndNamesLabels(t *testing.T) {
	assert.Equal(t, `x{a="1",b_c="2"}`, AddMatchers("x", [][2]string{{"b.c", "2"}, {"a", "1"}}))
	assert.Equal(t, `x{le="1",z="3"}`, AddMatchers(`x{le="1"}`, [][2]string{{"z", "3"}}))
	assert.Equal(t, "", AddMatchers("", [][2]string{{"z", "3"}}), "no selector stays none")
	assert.Equal(t, `x{le="1"}`, AddMatchers(`x{le="1"}`, nil))
}

func TestLabelIsTheExportersName(t *testing.T) {
	for in, want := range map[string]string{"service.name": "service_name", "gen_ai.agent.name": "gen_ai_agent_name", "2xx": "key_2xx", "é": "_"} {
		assert.Equal(t, want, Label(in), in)
	}
}

func TestBucketSourceSubtractsTheBucket(t *testing.T) {
	c := Counts{Total: "h_count", Bucket: `h_bucket{le="1.5"}`}
	assert.Equal(t, `(sum(increase(h_count[1m])) - sum(increase(h_bucket{le="1.5"}[1m])))`, c.BadEvents(time.Minute))
}

func TestAddNotEqualSelectsEveryOtherValue(t *testing.T) {
	assert.Equal(t, `x{slo="a",amas_instance!="r-0"}`, AddNotEqual(`x{slo="a"}`, "amas_instance", "r-0"))
	assert.Equal(t, `x{k_8s!="q\""}`, AddNotEqual("x", "k.8s", `q"`))
	assert.Equal(t, "", AddNotEqual("", "a", "b"), "no selector stays none")
}
