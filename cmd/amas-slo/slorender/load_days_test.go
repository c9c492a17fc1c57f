package slorender

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The processor's Config decodes d and w units and defaults an SLO's window to 30d in its
// confmap Unmarshal; Load decodes through confmap, so the generator reads the same windows.
func TestLoadReadsDayAndWeekWindowsAsTheProcessorDoes(t *testing.T) {
	c, err := Load([]byte(`
processors:
  slo:
    slos:
      - name: weekly
        objective: 0.99
        window: 1w
        sli: {spans: {bad_conditions: ['status.code == STATUS_CODE_ERROR']}}
      - name: unset
        objective: 0.99
        sli: {spans: {bad_conditions: ['status.code == STATUS_CODE_ERROR']}}
`))
	require.NoError(t, err)
	require.Len(t, c.SLOs, 2)
	assert.Equal(t, 7*24*time.Hour, c.SLOs[0].Config.Window)
	assert.Equal(t, 7*24*time.Hour, c.SLOs[0].Windows[len(c.SLOs[0].Windows)-1], "the SLO window is the longest reported window")
	assert.Equal(t, 30*24*time.Hour, c.SLOs[1].Config.Window, "an SLO without a window gets 30 days")
	require.NotEmpty(t, c.SLOs[1].Rules, "the default rules are built for the 30-day window")
}
