package main

import (
	"context"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTheDefaultFlagsAreAHealthyMinuteThenAnIncidentForFourMinutes(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:4317", o.endpoint)
	assert.Equal(t, time.Minute, o.healthy)
	assert.Equal(t, 4*time.Minute, o.duration)
	assert.Equal(t, "support", o.failingAgent)
}

func TestBadFlagsNameTheFlagTheRuleAndTheValue(t *testing.T) {
	_, err := parseFlags([]string{"-rate", "0", "-duration", "-1s", "-failing-agent", "nobody"}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-rate: must be in (0,1000], got 0")
	assert.Contains(t, err.Error(), "-duration: must be > 0, got -1s")
	assert.Contains(t, err.Error(), `-failing-agent: must be one of planner, research, support, got "nobody"`)
}

type recorded struct {
	rec *tracetest.SpanRecorder
	s   *scenario
}

func newRecorded() recorded {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	return recorded{rec: rec, s: &scenario{tracer: tp.Tracer("test"), rnd: rand.New(rand.NewPCG(1, 2)), failing: "support"}}
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func TestAHealthyRunIsAnInvokeAgentSpanWithTwoChatsAndAToolCallUnderIt(t *testing.T) {
	r := newRecorded()
	end := time.Unix(1_700_000_000, 0)
	assert.False(t, r.s.emitRun(context.Background(), agentByName("support"), end, false))

	spans := r.rec.Ended()
	require.Len(t, spans, 4)
	ops := map[string]int{}
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		ops[attr(s, "gen_ai.operation.name")]++
		assert.Equal(t, codes.Unset, s.Status().Code, s.Name())
		if attr(s, "gen_ai.operation.name") == "invoke_agent" {
			root = s
		}
	}
	assert.Equal(t, map[string]int{"invoke_agent": 1, "chat": 2, "execute_tool": 1}, ops)
	require.NotNil(t, root)
	assert.Equal(t, "support", attr(root, "gen_ai.agent.name"))
	assert.Equal(t, end, root.EndTime())
	assert.Less(t, root.EndTime().Sub(root.StartTime()), 1500*time.Millisecond, "inside the default latency SLO")
	for _, s := range spans {
		if s != root {
			assert.Equal(t, root.SpanContext().SpanID(), s.Parent().SpanID(), "%s is a child of the run", s.Name())
			assert.False(t, s.StartTime().Before(root.StartTime()))
			assert.False(t, s.EndTime().After(root.EndTime()))
		}
		if attr(s, "gen_ai.operation.name") == "chat" {
			assert.Equal(t, "gpt-4.1-mini", attr(s, "gen_ai.request.model"))
			assert.NotEmpty(t, attr(s, "gen_ai.usage.input_tokens"))
			assert.NotEmpty(t, attr(s, "gen_ai.usage.output_tokens"))
		}
	}
}

func TestDuringTheIncidentOnlyTheFailingAgentsRunsAndToolCallsFail(t *testing.T) {
	r := newRecorded()
	end := time.Unix(1_700_000_000, 0)
	for i := range agents {
		failed := r.s.emitRun(context.Background(), &agents[i], end, true)
		assert.Equal(t, agents[i].name == "support", failed, agents[i].name)
	}
	var errored []string
	for _, s := range r.rec.Ended() {
		if s.Status().Code == codes.Error {
			errored = append(errored, attr(s, "gen_ai.operation.name")+"/"+attr(s, "error.type"))
		}
	}
	assert.ElementsMatch(t, []string{"invoke_agent/timeout", "execute_tool/timeout"}, errored)
}

func TestTheIncidentFailsAThirdOfTheRunsAboveTheHardDownRatio(t *testing.T) {
	// serve takes agents in turn; the default hard-down page needs ≥ 25 % bad over 1 minute.
	assert.Len(t, agents, 3)
	assert.Greater(t, 1.0/float64(len(agents)), 0.25)
}
