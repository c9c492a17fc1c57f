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

// The table agrees with a Go map on thousands of spans whose ids collide in their low or high
// bytes (long probe runs), duplicated ids (the later span wins) and an empty id (not indexed),
// over batches of different sizes reusing one Index.
func TestTheTableAgreesWithAMapAcrossBatches(t *testing.T) {
	var x Index
	for round, n := range []int{3000, 10, 700, 0, 4096} {
		td := ptrace.NewTraces()
		spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
		want := map[pcommon.SpanID]pcommon.SpanID{}
		for i := range n {
			var sid, parent pcommon.SpanID
			switch i % 3 {
			case 0: // ids that differ only in the last byte and the second
				sid = pcommon.SpanID{byte(round), byte(i >> 8), 0, 0, 0, 0, 0, byte(i)}
			case 1: // ids that differ only in the first bytes
				sid = pcommon.SpanID{byte(i), byte(i >> 8), 7, 7, 7, 7, 7, byte(round + 1)}
			default: // a duplicate of the previous span's id, with another parent
				sid = pcommon.SpanID{byte(i - 1), byte((i - 1) >> 8), 7, 7, 7, 7, 7, byte(round + 1)}
			}
			parent = pcommon.SpanID{9, byte(i), byte(i >> 8), 1, 2, 3, 4, byte(round)}
			s := spans.AppendEmpty()
			s.SetSpanID(sid)
			s.SetParentSpanID(parent)
			if !sid.IsEmpty() {
				want[sid] = parent
			}
		}
		spans.AppendEmpty() // no id: not indexed
		x.Reset()
		assert.True(t, x.Build(td, 1<<20))
		assert.Equal(t, len(want), x.Len(), "round %d", round)
		for sid, parent := range want {
			e, ok := x.Get(sid)
			if !assert.True(t, ok, "round %d: %v", round, sid) {
				return
			}
			assert.Equal(t, parent, e.Parent)
		}
		_, ok := x.Get(pcommon.SpanID{})
		assert.False(t, ok, "the empty id is never found")
		_, ok = x.Get(pcommon.SpanID{0xee, 1, 2, 3, 4, 5, 6, 7})
		assert.False(t, ok, "an id not in the batch is not found")
	}
}

// Walk reads a span's agent name once per batch, however many children walk through it.
func TestWalkReadsAnAgentNameOncePerBatch(t *testing.T) {
	td := batch(map[byte]byte{1: 0, 2: 1, 3: 1, 4: 1}, map[byte]string{1: "planner"}, nil)
	var x Index
	reads := 0
	count := func(s ptrace.Span) string { reads++; return agentAttr(s) }
	for range 2 {
		x.Reset()
		x.Build(td, 100)
		for _, child := range []byte{2, 3, 4} {
			e, _ := x.Get(id(child))
			agent, _, out := x.Walk(e.Parent, false, count)
			assert.Equal(t, Found, out)
			assert.Equal(t, "planner", agent)
		}
	}
	assert.Equal(t, 2, reads, "one read per batch")
}
