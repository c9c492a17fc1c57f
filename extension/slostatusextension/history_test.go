package slostatusextension

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

func oneGroup(id, slo string, window time.Duration, labels map[string]string, budget float64) sloprocessor.Status {
	return sloprocessor.Status{ID: id, SLOs: []sloprocessor.SLOStatus{{
		Name: slo, Window: window, Groups: []sloprocessor.GroupStatus{{Labels: labels, BudgetRemainingPercent: budget}},
	}}}
}

func TestBudgetHistoryStaysBoundedAndCoversTheWindow(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		samples int // one every 10s from epoch
		window  time.Duration
	}{
		{"Fewer samples than the bound are all kept.", 10, 5, time.Hour},
		{"A full ring keeps every other sample and doubles its spacing.", 10, 11, time.Hour},
		{"A day of samples at 10s fits in 720 samples with a widened spacing.", 720, 8640, 30 * 24 * time.Hour},
		{"Samples older than the SLO window are forgotten.", 720, 100, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistory(HistoryConfig{SampleInterval: 10 * time.Second, MaxSamples: tt.max, MaxSeries: 10})
			budget := func(i int) float64 { return 100 - float64(i)/10 }
			for i := range tt.samples {
				h.record(epoch.Add(time.Duration(i)*10*time.Second), []sloprocessor.Status{oneGroup("slo", "a", tt.window, nil, budget(i))})
			}
			last := epoch.Add(time.Duration(tt.samples-1) * 10 * time.Second)
			got := h.get(seriesKey("slo", "a", nil))
			stride := time.Duration(h.series[seriesKey("slo", "a", nil)].stride) * time.Millisecond
			require.NotEmpty(t, got)
			assert.LessOrEqual(t, len(got), tt.max, "bounded")
			assert.Equal(t, Float(float64(last.UnixMilli())/1e3), got[len(got)-1][0], "the newest reading is the last sample")
			assert.Equal(t, Float(budget(tt.samples-1)), got[len(got)-1][1])
			for i := 1; i < len(got)-1; i++ {
				assert.GreaterOrEqual(t, float64(got[i][0]-got[i-1][0]), stride.Seconds()/2, "kept samples are spaced")
			}
			// Coverage: the oldest sample is within one stride of the start of what there is to cover.
			from := epoch
			if w := last.Add(-tt.window); w.After(from) {
				from = w
			}
			oldest := time.UnixMilli(int64(float64(got[0][0]) * 1e3))
			assert.False(t, oldest.Before(from), "nothing older than the window: %s < %s", oldest, from)
			assert.LessOrEqual(t, oldest.Sub(from), stride, "covers the window up to one stride")
			if tt.samples <= tt.max {
				assert.Len(t, got, min(tt.samples, int(tt.window/(10*time.Second))+1))
			}
		})
	}
	t.Run("Thinning by hand: 9 readings into 4 slots.", func(t *testing.T) {
		h := newHistory(HistoryConfig{SampleInterval: 10 * time.Second, MaxSamples: 4, MaxSeries: 1})
		for i := range 9 {
			h.record(epoch.Add(time.Duration(i)*10*time.Second), []sloprocessor.Status{oneGroup("slo", "a", time.Hour, nil, float64(i))})
		}
		// [0 10 20 30] → full at 40: keep 10, 30 (stride 20) + 40; 50 replaces 40; 60 appends;
		// 70 replaces 60; full at 80: keep 30, 70 (stride 40) + 80.
		got := h.get(seriesKey("slo", "a", nil))
		var vals []Float
		for _, s := range got {
			vals = append(vals, s[1])
		}
		assert.Equal(t, []Float{3, 7, 8}, vals)
	})
}

func TestHistorySeriesAreBoundedAndForgottenWhenTheirGroupGoes(t *testing.T) {
	h := newHistory(HistoryConfig{SampleInterval: 10 * time.Second, MaxSamples: 10, MaxSeries: 2})
	three := sloprocessor.Status{ID: "slo", SLOs: []sloprocessor.SLOStatus{{Name: "a", Window: time.Hour, Groups: []sloprocessor.GroupStatus{
		{Labels: map[string]string{"agent": "x"}, BudgetRemainingPercent: 1},
		{Labels: map[string]string{"agent": "y"}, BudgetRemainingPercent: 2},
		{Labels: map[string]string{"agent": "z"}, BudgetRemainingPercent: 3},
	}}}}
	h.record(epoch, []sloprocessor.Status{three})
	assert.Equal(t, HistoryInfo{Series: 2, SeriesDropped: 1}, h.info())
	assert.Nil(t, h.get(seriesKey("slo", "a", map[string]string{"agent": "z"})), "the third group has no room")

	h.record(epoch.Add(10*time.Second), []sloprocessor.Status{oneGroup("slo", "a", time.Hour, map[string]string{"agent": "z"}, 3)})
	assert.Equal(t, 1, h.info().Series, "groups no longer reported are forgotten")
	assert.Len(t, h.get(seriesKey("slo", "a", map[string]string{"agent": "z"})), 1)
}
