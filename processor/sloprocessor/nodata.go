package sloprocessor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// Per-group no-data of an SLO without group_by (no_data_group_by): each group (each agent, for
// the default agent_availability) gets a light series of its own that only counts its events
// over the no-data lookback and raises SLONoData{slo, <group labels>} by the SLO's no-data rule;
// the SLO's budget, burn rates and other alerts stay one series, and the SLO-level no-data alert
// is replaced by the per-group ones (all agents dead raises one per agent, not one more for the
// SLO). With group_by set it is ignored: each group already has its own no-data. Groups are
// bounded by max_groups_per_slo: events of further groups raise no per-group no-data (they still
// count in the SLO).

func validateNoDataGroupBy(path string, s SLOConfig) []error {
	if len(s.NoDataGroupBy) == 0 {
		return nil
	}
	var errs []error
	for j, g := range s.NoDataGroupBy {
		if g == "" {
			errs = append(errs, fmt.Errorf("%s.no_data_group_by[%d]: must not be empty", path, j))
		}
	}
	if s.SLI.Spans == nil {
		errs = append(errs, fmt.Errorf("%s.no_data_group_by: needs a spans SLI, got %d attributes", path, len(s.NoDataGroupBy)))
	}
	return errs
}

// compileBeat builds the per-group no-data model and turns the SLO-level no-data off.
func (cs *compiledSLO) compileBeat(retention time.Duration) error {
	if cs.model == nil || len(cs.cfg.NoDataGroupBy) == 0 || len(cs.cfg.GroupBy) > 0 || !cs.model.NoData.Enabled {
		return nil
	}
	nd := cs.model.NoData
	if nd.RetireAfter <= 0 {
		nd.RetireAfter = cs.model.Window
	}
	// The beat's window is only its lookback (its ring holds nothing older); retirement keeps
	// the SLO's horizon. It has no rules and no budget thresholds, so its objective is never
	// read (any value in (0,1) validates).
	w := max(nd.Lookback, nd.After, slomath.MinWindow).Truncate(time.Second)
	beat, err := slomath.NewModel(slomath.Spec{Objective: 0.5, Window: min(w, cs.model.Window), NoData: nd, ResolvedRetention: retention})
	if err != nil {
		return err
	}
	cs.beat = beat
	cs.model.NoData.Enabled = false
	return nil
}

// recordBeat counts one event of the no-data group key (caller holds p.mu). Allocates only when
// a group is born.
func (p *sloProcessor) recordBeat(st *sloState, key uint64, attrs, resAttrs pcommon.Map, now int64) {
	// Spans of one agent come in runs (one batch per service): the last group saves the lookup.
	if b := st.lastBeat; b != nil && b.key == key {
		st.c.beat.Record(b.s, now, false)
		return
	}
	b, ok := st.beats[key]
	if !ok {
		// A new group, or a value that sanitizing changes: its identity is the safe key.
		if safe := p.safeKeyOf(st.c.cfg.NoDataGroupBy, attrs, resAttrs); safe != key {
			key = safe
			b, ok = st.beats[key]
		}
	}
	if !ok {
		if len(st.beats) >= p.cfg.MaxGroupsPerSLO {
			return
		}
		b = &series{key: key, beat: true, labels: p.labelsOf(st.c.cfg.NoDataGroupBy, attrs, resAttrs), s: st.c.beat.NewSeries()}
		st.beats[key] = b
	}
	st.lastBeat = b
	st.c.beat.Record(b.s, now, false)
}

// evaluateBeats evaluates every per-group no-data series of st, appends those with an alert to
// list (only they are emitted) and evicts the idle ones (caller holds p.mu).
func (p *sloProcessor) evaluateBeats(st *sloState, now int64, list []evaluatedSeries) []evaluatedSeries {
	for key, b := range st.beats {
		p.evaluateBeat(st, b, now)
		if b.s.Alerts[st.c.beat.NoDataSlot()].Phase != slomath.Inactive {
			list = append(list, evaluatedSeries{st, b})
		}
		if st.c.beat.Idle(b.s, now) {
			delete(st.beats, key)
			if st.lastBeat == b {
				st.lastBeat = nil
			}
		}
	}
	return list
}

func (p *sloProcessor) evaluateBeat(st *sloState, b *series, now int64) {
	st.c.beat.Evaluate(b.s, now, &b.ev)
	b.evalOK = true
	if len(b.ev.Fired) > 0 {
		p.logger.Info("SLO alert firing",
			zap.String("slo", st.name), zap.String("alertname", alertstate.AlertSLONoData), zap.String("severity", st.c.noDataSv),
			zap.Any("group", b.labels))
	}
}

// beat emits the no-data alert of a per-group no-data series.
func (e *emitter) beat(st *sloState, b *series) {
	a := b.s.Alerts[st.c.beat.NoDataSlot()]
	if a.Phase == slomath.Inactive {
		return
	}
	alertstate.Append(e.alertGauge, e.ts, alertstate.Alert{
		Name: alertstate.AlertSLONoData, State: a.Phase.String(), Severity: st.c.noDataSv,
		Labels: e.alertLabels(beatLabels(st, b)), ActiveSince: pcommon.Timestamp(a.ActiveSince),
	})
}

func beatLabels(st *sloState, b *series) map[string]string {
	labels := make(map[string]string, len(b.labels)+2)
	labels[labelSLO] = st.name
	for _, kv := range b.labels {
		labels[kv[0]] = kv[1]
	}
	return labels
}

// beatAlerts are the active or recently resolved per-group no-data alerts of st, for the status
// snapshot (caller holds p.mu), in label order.
func beatAlerts(st *sloState) []AlertStatus {
	var out []AlertStatus
	for _, b := range st.beats {
		a := b.s.Alerts[st.c.beat.NoDataSlot()]
		if a.Phase == slomath.Inactive {
			continue
		}
		g := make(map[string]string, len(b.labels))
		for _, kv := range b.labels {
			g[kv[0]] = kv[1]
		}
		out = append(out, AlertStatus{Name: alertstate.AlertSLONoData, State: a.Phase.String(), Severity: st.c.noDataSv, ActiveSince: time.Unix(0, a.ActiveSince), Group: g})
	}
	slices.SortFunc(out, func(a, b AlertStatus) int { return strings.Compare(labelString(a.Group), labelString(b.Group)) })
	return out
}
