package sloprocessor

import (
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-amas/otelcol-amas/internal/registry"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// Status is a read-only snapshot of an slo processor, in plain values, for a status API.
type Status struct {
	ID       string
	LastTick time.Time
	// EvaluationInterval is the tick period, so a reader can tell a stalled evaluation.
	EvaluationInterval time.Duration
	Checkpoint         CheckpointStatus
	SLOs               []SLOStatus
}

// CheckpointStatus says whether state is checkpointed and how the last save and restore went.
type CheckpointStatus = checkpointStatus

// SLOStatus is one SLO and each of its groups.
type SLOStatus struct {
	Name        string
	Description string
	Objective   float64
	Window      time.Duration
	Budgeting   string
	// Rules are the burn-rate rules with their factors, in configuration order (the hard-down
	// page first when the SLO has one).
	Rules []RuleStatus
	// BudgetThresholds are the remaining-budget fractions of SLOErrorBudgetLow (0 = disabled).
	BudgetThresholds BudgetThresholdStatus
	Groups           []GroupStatus
}

// RuleStatus is one multi-window multi-burn-rate rule.
type RuleStatus struct {
	Severity    string // the alert's severity: critical (page) or warning (ticket)
	LongWindow  string
	ShortWindow string
	BurnRate    float64 // the factor both windows must reach (for hard down: error_ratio/(1 − objective))
	MinEvents   uint64
	// MinBadEvents is the least number of bad events (slices) each window must hold.
	MinBadEvents uint64
	// ErrorRatio is the hard-down rule's threshold (0 for a burn-rate rule).
	ErrorRatio float64
}

// BudgetThresholdStatus are the budget-remaining fractions below which SLOErrorBudgetLow fires.
type BudgetThresholdStatus struct {
	Critical, High, Warning float64
}

// GroupStatus is one series of an SLO (the only one without group_by).
type GroupStatus struct {
	// Labels are the group_by values (empty without group_by).
	Labels map[string]string
	// Windows are the SLI and burn rate per window, shortest first.
	Windows                []WindowStatus
	Events                 uint64 // in the SLO window (slices for timeslices SLOs)
	BadEvents              uint64
	BudgetRemainingPercent float64
	Compliant              bool
	Alerts                 []AlertStatus
	Violations             map[string]uint64 // by severity
}

// WindowStatus is one window of a group.
type WindowStatus struct {
	Window   string
	SLI      float64
	BurnRate float64
	Events   uint64
}

// AlertStatus is a pending, firing or recently resolved alert.
type AlertStatus struct {
	Name        string
	State       string
	Severity    string
	LongWindow  string `json:",omitempty"`
	ShortWindow string `json:",omitempty"`
	ActiveSince time.Time
	// Group labels a per-group no-data alert (no_data_group_by) of an SLO without group_by.
	Group map[string]string `json:",omitempty"`
}

// StatusSource is what the registry hands out.
type StatusSource interface {
	Status() Status
}

// Status returns a snapshot as of the last evaluation tick.
func (p *sloProcessor) Status() Status {
	p.mu.Lock()
	s, keys := p.statusLocked()
	p.mu.Unlock()
	// Sorting the groups needs no state: it is done with the span lock released, on keys built
	// once per group (not per comparison).
	for i := range s.SLOs {
		g, k := s.SLOs[i].Groups, keys[i]
		idx := make([]int, len(g))
		for j := range idx {
			idx[j] = j
		}
		sort.Slice(idx, func(a, b int) bool { return k[idx[a]] < k[idx[b]] })
		sorted := make([]GroupStatus, len(g))
		for j, from := range idx {
			sorted[j] = g[from]
		}
		s.SLOs[i].Groups = sorted
	}
	return s
}

// statusLocked builds the snapshot (caller holds p.mu) and, per SLO, the sort key of each group.
func (p *sloProcessor) statusLocked() (Status, [][]string) {
	var keys [][]string
	s := Status{ID: p.id.String(), LastTick: p.lastTick, EvaluationInterval: p.cfg.EvaluationInterval, Checkpoint: p.ckpt}
	for _, st := range p.slos {
		m := st.c.model
		ss := SLOStatus{
			Name: st.name, Description: st.c.cfg.Description, Objective: m.Objective, Window: m.Window,
			Budgeting: methodOccurrences,
		}
		if m.Timeslices != nil {
			ss.Budgeting = methodTimeslices
		}
		ss.BudgetThresholds = BudgetThresholdStatus{Critical: m.Budget.Critical, High: m.Budget.High, Warning: m.Budget.Warning}
		for i, r := range m.Rules {
			ss.Rules = append(ss.Rules, RuleStatus{
				Severity: st.slotSeverity[i], LongWindow: st.slotLabels[i][0], ShortWindow: st.slotLabels[i][1],
				BurnRate: r.Threshold(m.Objective, m.Window), MinEvents: r.MinEvents, MinBadEvents: r.MinBadEvents, ErrorRatio: r.ErrorRatio,
			})
		}
		all := make([]*series, 0, len(st.series)+1)
		for _, ser := range st.series {
			all = append(all, ser)
		}
		if st.overflow != nil {
			all = append(all, st.overflow)
		}
		var k []string
		for _, ser := range all {
			if !ser.evalOK {
				continue
			}
			g := groupStatus(st, ser)
			if !ser.overflow && len(st.groupBy) == 0 {
				g.Alerts = append(g.Alerts, beatAlerts(st)...)
			}
			ss.Groups = append(ss.Groups, g)
			k = append(k, labelString(g.Labels))
		}
		s.SLOs = append(s.SLOs, ss)
		keys = append(keys, k)
	}
	return s, keys
}

func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
		b.WriteByte(',')
	}
	return b.String()
}

func groupStatus(st *sloState, ser *series) GroupStatus {
	m := st.c.model
	ev := &ser.ev
	g := GroupStatus{
		Labels:                 map[string]string{},
		BudgetRemainingPercent: 100 * ev.BudgetRemaining,
		Compliant:              ev.Compliant,
		Violations:             map[string]uint64{},
	}
	for _, kv := range ser.labels {
		g.Labels[kv[0]] = kv[1]
	}
	g.Windows = make([]WindowStatus, 0, len(st.windowLabels))
	for i, label := range st.windowLabels { // Layout.Windows, formatted once
		c := ev.Counts[i]
		g.Windows = append(g.Windows, WindowStatus{
			Window: label, SLI: slomath.SLI(c), BurnRate: slomath.BurnRate(c, m.Objective), Events: c.Total,
		})
	}
	win := ev.Counts[m.WindowIndex()]
	g.Events, g.BadEvents = win.Total, win.Bad
	for slot, a := range ser.s.Alerts {
		g.Violations[st.slotSeverity[slot]] += ser.s.Violations[slot]
		if a.Phase == slomath.Inactive {
			continue
		}
		as := AlertStatus{Name: st.slotName[slot], State: a.Phase.String(), Severity: st.slotSeverity[slot], ActiveSince: time.Unix(0, a.ActiveSince)}
		if slot < len(m.Rules) {
			as.LongWindow, as.ShortWindow = st.slotLabels[slot][0], st.slotLabels[slot][1]
		}
		g.Alerts = append(g.Alerts, as)
	}
	return g
}

// running holds the started instances by component ID, for a status extension to read.
var running = registry.New[*sloProcessor]()

func register(id component.ID, p *sloProcessor) { running.Register(id, p) }

func unregister(id component.ID, p *sloProcessor) { running.Unregister(id, p) }

// Running returns the IDs of the slo processors currently started, sorted.
func Running() []component.ID { return running.IDs() }

// Lookup returns the running slo processor with the given ID.
func Lookup(id component.ID) (StatusSource, bool) {
	p, ok := running.Lookup(id)
	if !ok {
		return nil, false
	}
	return p, true
}
