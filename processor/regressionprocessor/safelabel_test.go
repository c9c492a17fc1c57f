package regressionprocessor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
)

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
