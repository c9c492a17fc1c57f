package regressionprocessor

import (
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
)

func TestOperationLabelPartsFromTelemetryAreMadeSafe(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	s := newSim(t, cfg)
	huge := newStream(70, strings.Repeat("x", 1<<20)) // a 1 MiB gen_ai.agent.name
	crlf := newStream(71, "planner\r\nBcc: evil@example.com")
	s.interval(huge, crlf)

	s.p.mu.Lock()
	var labels []string
	for _, op := range s.p.tr.ops {
		labels = append(labels, op.label)
	}
	s.p.mu.Unlock()
	require.Len(t, labels, 2, "one operation each: the truncated value is the identity")
	for _, l := range labels {
		assert.NotContains(t, l, "\r")
		assert.NotContains(t, l, "\n")
		for _, part := range strings.Split(l, "/") {
			assert.LessOrEqual(t, len(part), cfg.MaxLabelLength)
		}
	}
	assert.NotNil(t, s.op("shop/planner\uFFFD\uFFFDBcc: evil@example.com/invoke_agent"), "CR and LF are replaced: labels %q", labels)
	assert.NotNil(t, s.op("shop/"+strings.Repeat("x", cfg.MaxLabelLength-len("…[truncated]"))+"…[truncated]/invoke_agent"))
	assert.Positive(t, s.counter("otelcol_processor_regression_labels_sanitized", "action", "truncated"))
	assert.Positive(t, s.counter("otelcol_processor_regression_labels_sanitized", "action", "replaced"))
}

func TestAnAlreadySafeOperationKeyIsBuiltWithoutAllocating(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	st := newStream(72, strings.Repeat("research-agent-", 10))
	td := ptrace.NewTraces()
	st.fill(td, 1, s.clock.Now())
	rs := td.ResourceSpans().At(0)
	span := rs.ScopeSpans().At(0).Spans().At(0)
	var resVals, parts [maxKeyParts]string
	var resAlt [maxKeyParts]int
	var resHash [maxKeyParts]uint64
	for j, alts := range s.p.keyParts {
		resAlt[j] = -1
		for a, name := range alts {
			if v, ok := rs.Resource().Attributes().Get(name); ok {
				resVals[j], resAlt[j] = valueString(v), a
				resHash[j] = xxhash.Sum64String(resVals[j])
				break
			}
		}
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	var h uint64
	allocs := testing.AllocsPerRun(100, func() {
		h = s.p.operationKey(td, span, span.Attributes(), &resVals, &resAlt, &resHash, &parts)
	})
	assert.NotZero(t, h)
	assert.Equal(t, st.agent, parts[1])
	assert.Zero(t, allocs)
}

// A hostile agent name (1 MiB, with CR/LF) names an operation by its capped, cleaned form: the
// tracker holds a label of at most safelabel.DefaultMax bytes per part, and the checkpoint does
// not carry the megabyte either.
func TestAHugeAgentNameIsCappedBeforeItNamesAnOperation(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	st := newStream(7, "evil\r\n"+strings.Repeat("x", 1<<20))
	s.interval(st)
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	require.Len(t, s.p.tr.ops, 1)
	for _, op := range s.p.tr.ops {
		assert.LessOrEqual(t, len(op.label), len("shop/invoke_agent/")+safelabel.DefaultMax)
		assert.NotContains(t, op.label, "\r\n")
		assert.Contains(t, op.label, safelabel.Marker)
	}
	assert.Less(t, len(s.p.encodeLocked(s.clock.Now())), 64<<10, "the checkpoint holds no megabyte label")
}
