package spanindex

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func id(n byte) pcommon.SpanID { return pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, n} }

// batch: span n has parent parents[n] (0: root) and agent agents[n].
func batch(parents map[byte]byte, agents map[byte]string, kinds map[byte]ptrace.SpanKind) ptrace.Traces {
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for n, p := range parents {
		s := spans.AppendEmpty()
		s.SetSpanID(id(n))
		if p != 0 {
			s.SetParentSpanID(id(p))
		}
		s.SetKind(kinds[n])
		if a := agents[n]; a != "" {
			s.Attributes().PutStr("agent", a)
		}
	}
	return td
}

func agentAttr(s ptrace.Span) string {
	v, _ := s.Attributes().Get("agent")
	return v.Str()
}

func TestWalk(t *testing.T) {
	td := batch(
		map[byte]byte{1: 0, 2: 1, 3: 2, 4: 9, 5: 5, 6: 7, 7: 8},
		map[byte]string{1: "planner"},
		map[byte]ptrace.SpanKind{7: ptrace.SpanKindServer},
	)
	var x Index
	assert.True(t, x.Build(td, 100))
	tests := []struct {
		name    string
		parent  byte
		crossed bool
		agent   string
		missing byte
		out     Outcome
	}{
		{"the nearest ancestor with an agent is found through spans without one", 3, false, "planner", 1, Found},
		{"an ancestor outside the batch is reported missing", 4, false, "", 9, Missing},
		{"a root without an agent ends the walk", 0, false, "", 0, Root},
		{"a cycle of parent ids stops at the depth bound", 5, false, "", 5, TooDeep},
		{"an ancestor missing beyond a server span belongs to another process", 6, false, "", 8, MissingBeyondBoundary},
		{"a span that is itself a boundary starts crossed", 4, true, "", 9, MissingBeyondBoundary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p pcommon.SpanID
			if tt.parent != 0 {
				p = id(tt.parent)
			}
			agent, missing, out := x.Walk(p, tt.crossed, agentAttr)
			assert.Equal(t, tt.out, out)
			assert.Equal(t, tt.agent, agent)
			if tt.out == Missing || tt.out == MissingBeyondBoundary {
				assert.Equal(t, id(tt.missing), missing)
			}
		})
	}
}

func TestBuildStopsAtTheLimitAndResetKeepsNothing(t *testing.T) {
	td := batch(map[byte]byte{1: 0, 2: 1, 3: 2}, map[byte]string{1: "a"}, nil)
	var x Index
	assert.False(t, x.Build(td, 2))
	assert.True(t, x.Full())
	x.Reset()
	assert.False(t, x.Built())
	_, ok := x.Get(id(1))
	assert.False(t, ok)
}

func TestABoundaryIsAServerOrConsumerSpanOrARemoteParent(t *testing.T) {
	s := ptrace.NewSpan()
	assert.False(t, IsBoundary(s))
	s.SetKind(ptrace.SpanKindConsumer)
	assert.True(t, IsBoundary(s))
	s.SetKind(ptrace.SpanKindInternal)
	s.SetFlags(0x100) // remoteness known: local
	assert.False(t, IsBoundary(s))
	s.SetFlags(0x300)
	assert.True(t, IsBoundary(s))
}
