package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"math"
	"sort"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-amas/otelcol-amas/internal/registry"
)

// This file is the read-only status snapshot and the registry of running instances, in the
// style of the slo processor's, for a status extension (extension/slostatusextension) to read.
// Nothing here is on the span path: Status takes the processor's lock once per call.

// Status is a snapshot of a regression processor as of its last evaluation.
type Status struct {
	ID                 string
	LastEvaluation     time.Time // zero before the first evaluation
	EvaluationInterval time.Duration
	// OperationKey is the configured operation_key: the parts that, joined with "/" (empty parts
	// left out), make an operation's label.
	OperationKey []string
	Operations   int // operations tracked
	// WindowSpans and WindowErrors count the spans (and those with status Error) in the tracked
	// operations' current and baseline windows: what the baselines are learnt from. A restart
	// test compares them with what a client sent.
	WindowSpans, WindowErrors uint64
	// CheckpointStateAt is the time of the state the last checkpoint saved by this process holds:
	// every span processed before it is in that checkpoint, none processed after. Zero when
	// nothing has been saved since the start.
	CheckpointStateAt time.Time
	// CheckpointSaved is when that save completed; CheckpointEnabled says a storage extension
	// is configured, CheckpointRestored that the state was restored from it at start.
	CheckpointSaved                       time.Time
	CheckpointEnabled, CheckpointRestored bool
	// Regressions are the alerts that are pending, firing or recently resolved, firing first,
	// then by operation and type.
	Regressions []RegressionStatus
}

// RegressionStatus is one (operation, type) alert that is not inactive.
type RegressionStatus struct {
	Operation   string
	Type        string // latency_regression, error_rate_regression or cost_regression
	State       string // pending, firing or resolved
	Severity    string
	ActiveSince time.Time // became pending
	FiringSince time.Time // zero unless it fired
	ResolvedAt  time.Time // zero unless resolved
	// Figures are the baseline and current values of the last evaluation: one per quantile for
	// latency (seconds), one for error rate (ratio) and cost (USD per request). Empty when there
	// was too little data.
	Figures []FigureStatus
	// Ratio is current over baseline (latency: the largest over the quantiles); NaN when the
	// baseline is 0 or there was too little data.
	Ratio float64
}

// FigureStatus is one baseline/current pair.
type FigureStatus struct {
	Quantile string // "0.95" for latency, "" otherwise
	Baseline float64
	Current  float64
}

// StatusSource is what the registry hands out.
type StatusSource interface {
	Status() Status
}

var phaseNames = [...]string{phaseInactive: "inactive", phasePending: "pending", phaseFiring: "firing", phaseResolved: "resolved"}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Status returns a snapshot as of the last evaluation.
func (p *regressionProcessor) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{
		ID: p.id.String(), LastEvaluation: p.lastEval, EvaluationInterval: p.cfg.EvaluationInterval,
		OperationKey: append([]string(nil), p.cfg.OperationKey...), Operations: len(p.tr.ops),
		CheckpointStateAt: p.savedStateAt, CheckpointSaved: p.savedAt, CheckpointEnabled: p.client != nil,
		CheckpointRestored: p.restored,
	}
	tr := p.tr
	for op := tr.head; op != nil; op = op.next {
		for _, slots := range [2][]slot{op.cur[:], op.base[:]} {
			for i := range slots {
				if slots[i].epoch != noEpoch {
					s.WindowSpans += slots[i].lat.Count()
					s.WindowErrors += slots[i].errors
				}
			}
		}
	}
	for op := tr.head; op != nil; op = op.next {
		for k := range numKinds {
			a := &op.alerts[k]
			if a.phase == phaseInactive || !p.enabled(k) {
				continue
			}
			rs := RegressionStatus{
				Operation: op.label, Type: kindNames[k], State: phaseNames[a.phase], Severity: p.cfg.Severity,
				ActiveSince: unixTime(a.activeSince), FiringSince: unixTime(a.firingSince), Ratio: op.fig[k].ratio,
			}
			if a.phase == phaseResolved {
				rs.ResolvedAt = unixTime(a.resolvedAt)
			}
			f := &op.fig[k]
			if k == kindLatency {
				for i := range tr.quantiles {
					if !math.IsNaN(f.baseline[i]) {
						rs.Figures = append(rs.Figures, FigureStatus{Quantile: tr.qLabels[i], Baseline: f.baseline[i], Current: f.current[i]})
					}
				}
			} else if !math.IsNaN(f.baseline[0]) {
				rs.Figures = append(rs.Figures, FigureStatus{Baseline: f.baseline[0], Current: f.current[0]})
			}
			s.Regressions = append(s.Regressions, rs)
		}
	}
	rank := map[string]int{"firing": 0, "pending": 1, "resolved": 2}
	sort.SliceStable(s.Regressions, func(i, j int) bool {
		a, b := s.Regressions[i], s.Regressions[j]
		if rank[a.State] != rank[b.State] {
			return rank[a.State] < rank[b.State]
		}
		if a.Operation != b.Operation {
			return a.Operation < b.Operation
		}
		return a.Type < b.Type
	})
	return s
}

// running holds the started instances by component ID, for a status extension to read.
var running = registry.New[*regressionProcessor]()

func register(id component.ID, p *regressionProcessor) { running.Register(id, p) }

func unregister(id component.ID, p *regressionProcessor) { running.Unregister(id, p) }

// Running returns the IDs of the regression processors currently started, sorted.
func Running() []component.ID { return running.IDs() }

// Lookup returns the running regression processor with the given ID.
func Lookup(id component.ID) (StatusSource, bool) {
	p, ok := running.Lookup(id)
	if !ok {
		return nil, false
	}
	return p, true
}
