package regressionprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// agentBatch is one batch with one span of each named agent (each a distinct operation).
func agentBatch(now time.Time, agents ...string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	end := pcommon.NewTimestampFromTime(now)
	for _, a := range agents {
		sp := spans.AppendEmpty()
		sp.SetName("invoke_agent")
		sp.SetStartTimestamp(end - pcommon.Timestamp(300*time.Millisecond))
		sp.SetEndTimestamp(end)
		sp.Attributes().PutStr("gen_ai.agent.name", a)
	}
	return td
}

// listOrder is the labels' agent part, front of the eviction list first.
func listOrder(p *regressionProcessor) []string {
	var out []string
	for op := p.tr.head; op != nil; op = op.next {
		out = append(out, op.label)
	}
	return out
}

func newEvictionProcessor(t *testing.T, maxOps int) (*regressionProcessor, *fakeClock) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxOperations = maxOps
	s := newSim(t, cfg)
	return s.p, s.clock
}

func feed(t *testing.T, p *regressionProcessor, clock *fakeClock, agents ...string) {
	t.Helper()
	clock.Advance(time.Second)
	_, err := p.processTraces(context.Background(), agentBatch(clock.Now(), agents...))
	require.NoError(t, err)
}

func TestASpanOfAKnownOperationStampsItWithoutMovingItInTheList(t *testing.T) {
	p, clock := newEvictionProcessor(t, 10)
	feed(t, p, clock, "a", "b", "c")
	before := listOrder(p)
	require.Equal(t, []string{"shop/c/invoke_agent", "shop/b/invoke_agent", "shop/a/invoke_agent"}, before)

	feed(t, p, clock, "a") // the tail operation is seen again
	assert.Equal(t, before, listOrder(p), "a hit writes no neighbour: the list is untouched")
	assert.Equal(t, p.tr.gen, p.tr.tail.used, "the tail is stamped with the batch that saw it")
	assert.NotEqual(t, p.tr.tail.pos, p.tr.tail.used, "and so is known to have been seen since it took its place")
}

func TestEvictionSkipsOperationsSeenSinceTheyTookTheirPlace(t *testing.T) {
	p, clock := newEvictionProcessor(t, 4)
	feed(t, p, clock, "a")
	feed(t, p, clock, "b")
	feed(t, p, clock, "c")
	feed(t, p, clock, "d")
	feed(t, p, clock, "a") // a, the oldest placed, is the most recently seen

	feed(t, p, clock, "e")
	assert.ElementsMatch(t, []string{"shop/a/invoke_agent", "shop/c/invoke_agent", "shop/d/invoke_agent", "shop/e/invoke_agent"}, listOrder(p),
		"b, never seen since it was placed, is evicted; a gets a second chance")
	feed(t, p, clock, "f")
	assert.ElementsMatch(t, []string{"shop/a/invoke_agent", "shop/d/invoke_agent", "shop/e/invoke_agent", "shop/f/invoke_agent"}, listOrder(p))
	assert.Equal(t, int64(2), p.tr.evicted)
	assert.Len(t, p.tr.ops, 4)
}

func TestWhenEveryOperationWasSeenTheLeastRecentlySeenIsEvicted(t *testing.T) {
	p, clock := newEvictionProcessor(t, 3)
	feed(t, p, clock, "a", "b", "c")
	feed(t, p, clock, "c")
	feed(t, p, clock, "a")
	feed(t, p, clock, "b") // last use: c < a < b, all after they took their place

	feed(t, p, clock, "d")
	assert.ElementsMatch(t, []string{"shop/a/invoke_agent", "shop/b/invoke_agent", "shop/d/invoke_agent"}, listOrder(p), "c is evicted")
	feed(t, p, clock, "e")
	assert.ElementsMatch(t, []string{"shop/b/invoke_agent", "shop/d/invoke_agent", "shop/e/invoke_agent"}, listOrder(p), "then a")
	assert.Len(t, p.tr.ops, 3)
	assert.Len(t, listOrder(p), 3, "the list and the map agree")
}

func TestEvictionUnderChurnKeepsTheListAndTheMapInStep(t *testing.T) {
	p, clock := newEvictionProcessor(t, 50)
	for round := range 40 {
		var agents []string
		for i := range 30 {
			agents = append(agents, string(rune('A'+(round*7+i*3)%90)))
		}
		feed(t, p, clock, agents...)
		require.Len(t, p.tr.ops, len(listOrder(p)))
		require.LessOrEqual(t, len(p.tr.ops), 50)
		for op := p.tr.head; op != nil; op = op.next {
			require.Same(t, op, p.tr.ops[op.hash])
		}
	}
	assert.Positive(t, p.tr.evicted)
}
