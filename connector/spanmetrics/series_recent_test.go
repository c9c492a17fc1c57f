package spanmetrics

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The recent-series cache only ever returns the series the map holds for those label values:
// through few and many distinct series (the cache on and turned off), expiry and restore.
func TestRecentSeriesAreTheMapsSeries(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	for _, distinct := range []int{3, 20, 5000} {
		s := newStore([]string{labelAgent, labelOperation, labelStatus}, 3, 1<<20, nil, 0)
		var kb keyBuilder
		now := pcommon.Timestamp(1)
		for i := range 200_000 {
			n := rng.IntN(distinct)
			vals := []string{"agent-" + strconv.Itoa(n), []string{"chat", "execute_tool", "invoke_agent"}[n%3], []string{"ok", "error"}[n%2]}
			sr, over := s.get(&kb, vals, now)
			require.False(t, over)
			require.Same(t, s.series[kb.key(vals)], sr, "distinct %d, lookup %d", distinct, i)
			require.Equal(t, vals, sr.labels)
			switch rng.IntN(20000) {
			case 0:
				now += 10
				s.expire(&kb, now) // everything older goes
				require.Empty(t, s.series)
			case 1:
				in := &series{labels: vals, start: now, lastSeen: now}
				require.True(t, s.restore(&kb, in)) // replaces the series of vals
			}
		}
	}
}
