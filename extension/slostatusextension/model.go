package slostatusextension // import "github.com/otelcol-amas/otelcol-amas/extension/slostatusextension"

import (
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-amas/otelcol-amas/internal/spanclass"
	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// SchemaVersion is the version of every JSON document the extension serves. It changes only
// when a field is removed or changes meaning; new fields may appear within a version.
const SchemaVersion = "1"

// Float is a number that is null in JSON when it is not finite.
type Float float64

// MarshalJSON writes null for NaN and ±Inf, which JSON cannot carry.
func (f Float) MarshalJSON() ([]byte, error) {
	return f.appendJSON(make([]byte, 0, 24)), nil
}

func (f Float) appendJSON(b []byte) []byte {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	// encoding/json's format: shortest representation, exponent only for very small or large.
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, v, format, -1, 64)
}

// History is [unix seconds, budget remaining percent] pairs, oldest first.
type History [][2]Float

// MarshalJSON writes the pairs in one buffer (a history has hundreds of them).
func (h History) MarshalJSON() ([]byte, error) {
	if h == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+len(h)*24)
	b = append(b, '[')
	for i, p := range h {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, v := range p {
			if j > 0 {
				b = append(b, ',')
			}
			b = v.appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

// round9 drops float noise from derived constants (100 × (1 − 0.995) = 0.5000000000000004).
func round9(v float64) float64 { return math.Round(v*1e9) / 1e9 }

// StatusDocument is GET /observability/slo/status.
type StatusDocument struct {
	SchemaVersion string          `json:"schema_version"`
	GeneratedAt   time.Time       `json:"generated_at"`
	Health        string          `json:"health"`
	Processors    []ProcessorInfo `json:"processors"`
	SLOs          []SLO           `json:"slos"`
	Regressions   []Regression    `json:"regressions"`
	Missing       []string        `json:"missing_processors"`
	// SpanClassification is, per amas_spanmetrics connector, each service's classified share.
	SpanClassification []SpanClassification `json:"span_classification"`
	Page               *PageSettings        `json:"page,omitempty"`
}

// PageSettings are hints for the status page.
type PageSettings struct {
	RefreshSeconds float64 `json:"refresh_seconds"`
	JaegerURL      string  `json:"jaeger_url"`
}

// SpanClassification is one amas_spanmetrics connector's classified and unclassified span counts
// per service since it started (at most MaxServices services).
type SpanClassification struct {
	Component   string         `json:"component"`
	MaxServices int            `json:"max_services"`
	Services    []ServiceShare `json:"services"`
}

// ServiceShare is one service's counts; ClassifiedShare is classified / (classified +
// unclassified), null before any span.
type ServiceShare struct {
	Service         string `json:"service"`
	Classified      uint64 `json:"classified"`
	Unclassified    uint64 `json:"unclassified"`
	ClassifiedShare Float  `json:"classified_share"`
}

func buildClassification(snaps []spanclass.Snapshot) []SpanClassification {
	out := make([]SpanClassification, 0, len(snaps))
	for _, sn := range snaps {
		sc := SpanClassification{Component: sn.Component, MaxServices: sn.MaxServices, Services: make([]ServiceShare, 0, len(sn.Services))}
		for _, s := range sn.Services {
			share := math.NaN()
			if total := s.Classified + s.Unclassified; total > 0 {
				share = float64(s.Classified) / float64(total)
			}
			sc.Services = append(sc.Services, ServiceShare{Service: s.Name, Classified: s.Classified, Unclassified: s.Unclassified, ClassifiedShare: Float(share)})
		}
		out = append(out, sc)
	}
	return out
}

// ProcessorInfo is one slo or regression processor's evaluation state.
type ProcessorInfo struct {
	ID                        string      `json:"id"`
	Kind                      string      `json:"kind"`
	Healthy                   bool        `json:"healthy"`
	Reason                    string      `json:"reason,omitempty"`
	LastTick                  *time.Time  `json:"last_tick"`
	LastTickAgeSeconds        *Float      `json:"last_tick_age_seconds"`
	EvaluationIntervalSeconds Float       `json:"evaluation_interval_seconds"`
	MaxTickAgeSeconds         Float       `json:"max_tick_age_seconds"`
	Checkpoint                *Checkpoint `json:"checkpoint,omitempty"`
	// WindowSpans and WindowErrors (regression processors) count the spans, and those with
	// status Error, in the operations' current and baseline windows.
	WindowSpans  *uint64 `json:"window_spans,omitempty"`
	WindowErrors *uint64 `json:"window_errors,omitempty"`
}

// Checkpoint is an slo or regression processor's checkpoint state (restored_slos and
// last_error are the slo processor's).
type Checkpoint struct {
	Enabled      bool       `json:"enabled"`
	Storage      string     `json:"storage,omitempty"`
	Restored     bool       `json:"restored"`
	RestoredSLOs int        `json:"restored_slos"`
	LastSaved    *time.Time `json:"last_saved"`
	LastError    string     `json:"last_error,omitempty"`
	// StateAt is the time of the state the last saved checkpoint holds: what the processor saw
	// before it is in that checkpoint, nothing after.
	StateAt *time.Time `json:"state_at,omitempty"`
}

// SLO is one SLO of one slo processor.
type SLO struct {
	Processor              string          `json:"processor"`
	Name                   string          `json:"name"`
	Description            string          `json:"description"`
	Objective              Float           `json:"objective"`
	Window                 string          `json:"window"`
	WindowSeconds          Float           `json:"window_seconds"`
	Budgeting              string          `json:"budgeting"`
	ErrorBudgetPercent     Float           `json:"error_budget_percent"`
	BudgetThresholds       BudgetThreshold `json:"budget_thresholds_percent"`
	BurnRateRules          []BurnRateRule  `json:"burn_rate_rules"`
	BudgetRemainingPercent *Float          `json:"budget_remaining_percent"`
	BudgetStatus           string          `json:"budget_status"`
	Compliant              *bool           `json:"compliant"`
	FiringAlerts           int             `json:"firing_alerts"`
	Groups                 []SLOGroup      `json:"groups"`
}

// BudgetThreshold are the remaining-budget percentages below which SLOErrorBudgetLow fires.
type BudgetThreshold struct {
	Critical Float `json:"critical"`
	High     Float `json:"high"`
	Warning  Float `json:"warning"`
}

// BurnRateRule is one multi-window multi-burn-rate rule of an SLO.
type BurnRateRule struct {
	Severity    string `json:"severity"`
	LongWindow  string `json:"long_window"`
	ShortWindow string `json:"short_window"`
	Threshold   Float  `json:"threshold"`
	MinEvents   uint64 `json:"min_events"`
}

// SLOGroup is one series of an SLO (one per group_by value; one without group_by).
type SLOGroup struct {
	Labels                 map[string]string `json:"labels"`
	Events                 uint64            `json:"events"`
	BadEvents              uint64            `json:"bad_events"`
	SLI                    Float             `json:"sli"`
	BudgetRemainingPercent Float             `json:"budget_remaining_percent"`
	BudgetStatus           string            `json:"budget_status"`
	Compliant              bool              `json:"compliant"`
	Windows                []Window          `json:"windows"`
	BurnRates              []BurnRate        `json:"burn_rates"`
	Alerts                 []Alert           `json:"alerts"`
	Violations             map[string]uint64 `json:"violations"`
	BudgetHistory          History           `json:"budget_history,omitempty"`
}

// Window is the SLI and burn rate over one window.
type Window struct {
	Window   string `json:"window"`
	SLI      Float  `json:"sli"`
	BurnRate Float  `json:"burn_rate"`
	Events   uint64 `json:"events"`
}

// BurnRate is one rule evaluated on a group: both windows' burn rates against the threshold.
type BurnRate struct {
	Severity      string `json:"severity"`
	LongWindow    string `json:"long_window"`
	ShortWindow   string `json:"short_window"`
	Threshold     Float  `json:"threshold"`
	LongBurnRate  Float  `json:"long_burn_rate"`
	ShortBurnRate Float  `json:"short_burn_rate"`
	Exceeded      bool   `json:"exceeded"`
}

// Alert is a pending, firing or recently resolved alert of a group.
type Alert struct {
	Name        string     `json:"name"`
	State       string     `json:"state"`
	Severity    string     `json:"severity"`
	LongWindow  string     `json:"long_window,omitempty"`
	ShortWindow string     `json:"short_window,omitempty"`
	ActiveSince *time.Time `json:"active_since"`
}

// Regression is one (operation, type) alert of a regression processor.
type Regression struct {
	Processor      string            `json:"processor"`
	Operation      string            `json:"operation"`
	OperationParts map[string]string `json:"operation_parts,omitempty"`
	Type           string            `json:"type"`
	Unit           string            `json:"unit"`
	State          string            `json:"state"`
	Severity       string            `json:"severity"`
	ActiveSince    *time.Time        `json:"active_since"`
	FiringSince    *time.Time        `json:"firing_since"`
	ResolvedAt     *time.Time        `json:"resolved_at"`
	Figures        []Figure          `json:"figures"`
	Ratio          Float             `json:"ratio"`
	JaegerURL      string            `json:"jaeger_url,omitempty"`
}

// Figure is a baseline/current pair.
type Figure struct {
	Quantile string `json:"quantile,omitempty"`
	Baseline Float  `json:"baseline"`
	Current  Float  `json:"current"`
}

// ViolationsDocument is GET /observability/slo/violations.
type ViolationsDocument struct {
	SchemaVersion string      `json:"schema_version"`
	GeneratedAt   time.Time   `json:"generated_at"`
	Filters       Filters     `json:"filters"`
	Violations    []Violation `json:"violations"`
}

// Filters echo the query.
type Filters struct {
	Severity []string `json:"severity"`
	SLO      []string `json:"slo"`
	State    []string `json:"state"`
}

// Violation is one active (or, on request, resolved) SLO alert with its context.
type Violation struct {
	Processor              string            `json:"processor"`
	SLO                    string            `json:"slo"`
	Labels                 map[string]string `json:"labels"`
	Alert                  string            `json:"alert"`
	State                  string            `json:"state"`
	Severity               string            `json:"severity"`
	LongWindow             string            `json:"long_window,omitempty"`
	ShortWindow            string            `json:"short_window,omitempty"`
	ActiveSince            *time.Time        `json:"active_since"`
	ActiveSeconds          *Float            `json:"active_seconds"`
	Objective              Float             `json:"objective"`
	SLI                    Float             `json:"sli"`
	BudgetRemainingPercent Float             `json:"budget_remaining_percent"`
	BurnRate               *Float            `json:"burn_rate"`
	ViolationsTotal        uint64            `json:"violations_total"`
}

// HealthDocument is GET /health and GET /observability/health.
type HealthDocument struct {
	SchemaVersion string          `json:"schema_version"`
	GeneratedAt   time.Time       `json:"generated_at"`
	Status        string          `json:"status"`
	Healthy       bool            `json:"healthy"`
	Reasons       []string        `json:"reasons"`
	Processors    []ProcessorInfo `json:"processors"`
	Missing       []string        `json:"missing_processors"`
	History       HistoryInfo     `json:"history"`
}

// HistoryInfo describes the budget history the extension keeps.
type HistoryInfo struct {
	Series        int    `json:"series"`
	SeriesDropped uint64 `json:"series_dropped"`
}

// Budget statuses, worst last.
const (
	budgetNoData    = "no_data"
	budgetOK        = "ok"
	budgetWarning   = "warning"
	budgetHigh      = "high"
	budgetCritical  = "critical"
	budgetExhausted = "exhausted"
)

var budgetRank = map[string]int{budgetNoData: 0, budgetOK: 1, budgetWarning: 2, budgetHigh: 3, budgetCritical: 4, budgetExhausted: 5}

// Health values.
const (
	healthOK        = "ok"
	healthDegraded  = "degraded"
	healthUnhealthy = "unhealthy"
)

func budgetStatus(percent float64, th sloprocessor.BudgetThresholdStatus) string {
	switch {
	case percent <= 0:
		return budgetExhausted
	case th.Critical > 0 && percent < 100*th.Critical:
		return budgetCritical
	case th.High > 0 && percent < 100*th.High:
		return budgetHigh
	case th.Warning > 0 && percent < 100*th.Warning:
		return budgetWarning
	}
	return budgetOK
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func floatPtr(f float64) *Float {
	v := Float(f)
	return &v
}

// labelKey is a stable text form of a group's labels: k=v pairs sorted by key.
func labelKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
	}
	return b.String()
}

// processorInfo judges one processor's evaluation: stale when its last tick is older than
// maxMissed evaluation intervals (or, before the first tick, when the extension has waited that
// long since it started).
func processorInfo(id, kind string, lastTick time.Time, interval time.Duration, maxMissed int, now, since time.Time) ProcessorInfo {
	maxAge := time.Duration(maxMissed) * interval
	pi := ProcessorInfo{
		ID: id, Kind: kind, Healthy: true, LastTick: timePtr(lastTick),
		EvaluationIntervalSeconds: Float(interval.Seconds()), MaxTickAgeSeconds: Float(maxAge.Seconds()),
	}
	if lastTick.IsZero() {
		if now.Sub(since) > maxAge {
			pi.Healthy, pi.Reason = false, "no evaluation since the status extension started "+now.Sub(since).Round(time.Second).String()+" ago"
		}
		return pi
	}
	age := now.Sub(lastTick)
	pi.LastTickAgeSeconds = floatPtr(age.Seconds())
	if age > maxAge {
		pi.Healthy, pi.Reason = false, "last evaluation "+age.Round(time.Second).String()+" ago, more than "+strconv.Itoa(maxMissed)+" × the "+interval.String()+" interval"
	}
	return pi
}

func checkpointOf(c sloprocessor.CheckpointStatus) *Checkpoint {
	return &Checkpoint{
		Enabled: c.Enabled, Storage: c.Storage, Restored: c.Restored, RestoredSLOs: c.RestoredSLOs,
		LastSaved: timePtr(c.LastSaved), LastError: c.LastError, StateAt: timePtr(c.StateAt),
	}
}

func regressionInfo(pi *ProcessorInfo, st regressionprocessor.Status) {
	pi.Checkpoint = &Checkpoint{Enabled: st.CheckpointEnabled, Restored: st.CheckpointRestored,
		LastSaved: timePtr(st.CheckpointSaved), StateAt: timePtr(st.CheckpointStateAt)}
	spans, errs := st.WindowSpans, st.WindowErrors
	pi.WindowSpans, pi.WindowErrors = &spans, &errs
}

// buildSLO converts one SLO of a snapshot.
func buildSLO(processor string, s sloprocessor.SLOStatus) SLO {
	out := SLO{
		Processor: processor, Name: s.Name, Description: s.Description, Objective: Float(s.Objective),
		Window: formatWindow(s.Window), WindowSeconds: Float(s.Window.Seconds()), Budgeting: s.Budgeting,
		ErrorBudgetPercent: Float(round9(100 * (1 - s.Objective))),
		BudgetThresholds: BudgetThreshold{
			Critical: Float(round9(100 * s.BudgetThresholds.Critical)), High: Float(round9(100 * s.BudgetThresholds.High)), Warning: Float(round9(100 * s.BudgetThresholds.Warning)),
		},
		BurnRateRules: []BurnRateRule{},
		BudgetStatus:  budgetNoData,
		Groups:        []SLOGroup{},
	}
	for _, r := range s.Rules {
		out.BurnRateRules = append(out.BurnRateRules, BurnRateRule{Severity: r.Severity, LongWindow: r.LongWindow, ShortWindow: r.ShortWindow, Threshold: Float(r.BurnRate), MinEvents: r.MinEvents})
	}
	for _, g := range s.Groups {
		grp := buildGroup(s, g)
		out.Groups = append(out.Groups, grp)
		if out.BudgetRemainingPercent == nil || float64(grp.BudgetRemainingPercent) < float64(*out.BudgetRemainingPercent) {
			out.BudgetRemainingPercent = floatPtr(float64(grp.BudgetRemainingPercent))
		}
		if budgetRank[grp.BudgetStatus] > budgetRank[out.BudgetStatus] {
			out.BudgetStatus = grp.BudgetStatus
		}
		c := out.Compliant == nil || *out.Compliant
		c = c && grp.Compliant
		out.Compliant = &c
		for _, a := range grp.Alerts {
			if a.State == "firing" {
				out.FiringAlerts++
			}
		}
	}
	return out
}

func buildGroup(s sloprocessor.SLOStatus, g sloprocessor.GroupStatus) SLOGroup {
	labels := g.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	out := SLOGroup{
		Labels: labels, Events: g.Events, BadEvents: g.BadEvents, SLI: 1,
		BudgetRemainingPercent: Float(g.BudgetRemainingPercent),
		BudgetStatus:           budgetStatus(g.BudgetRemainingPercent, s.BudgetThresholds),
		Compliant:              g.Compliant,
		Windows:                []Window{},
		BurnRates:              []BurnRate{},
		Alerts:                 []Alert{},
		Violations:             map[string]uint64{},
	}
	if g.Events > 0 {
		out.SLI = Float(float64(g.Events-g.BadEvents) / float64(g.Events))
	}
	byWindow := map[string]sloprocessor.WindowStatus{}
	for _, w := range g.Windows {
		out.Windows = append(out.Windows, Window{Window: w.Window, SLI: Float(w.SLI), BurnRate: Float(w.BurnRate), Events: w.Events})
		byWindow[w.Window] = w
	}
	for _, r := range s.Rules {
		l, s := byWindow[r.LongWindow], byWindow[r.ShortWindow]
		out.BurnRates = append(out.BurnRates, BurnRate{
			Severity: r.Severity, LongWindow: r.LongWindow, ShortWindow: r.ShortWindow, Threshold: Float(r.BurnRate),
			LongBurnRate: Float(l.BurnRate), ShortBurnRate: Float(s.BurnRate),
			Exceeded: l.BurnRate >= r.BurnRate && s.BurnRate >= r.BurnRate && l.Events >= r.MinEvents && s.Events >= r.MinEvents,
		})
	}
	for _, a := range g.Alerts {
		out.Alerts = append(out.Alerts, Alert{Name: a.Name, State: a.State, Severity: a.Severity, LongWindow: a.LongWindow, ShortWindow: a.ShortWindow, ActiveSince: timePtr(a.ActiveSince)})
	}
	for k, v := range g.Violations {
		out.Violations[k] = v
	}
	return out
}

// formatWindow prints a duration as the SLO processor labels windows: 30d, 6h, 5m, 1h30m.
func formatWindow(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b []byte
	for _, u := range []struct {
		n time.Duration
		s byte
	}{{24 * time.Hour, 'd'}, {time.Hour, 'h'}, {time.Minute, 'm'}, {time.Second, 's'}} {
		if d >= u.n {
			b = strconv.AppendInt(b, int64(d/u.n), 10)
			b = append(b, u.s)
			d %= u.n
		}
	}
	return string(b)
}

var regressionUnits = map[string]string{
	"latency_regression": "seconds", "error_rate_regression": "ratio", "cost_regression": "usd_per_request",
}

// buildRegression converts one regression alert and links it to Jaeger.
func buildRegression(s regressionprocessor.Status, r regressionprocessor.RegressionStatus, jaeger string, now time.Time) Regression {
	out := Regression{
		Processor: s.ID, Operation: r.Operation, OperationParts: operationParts(s.OperationKey, r.Operation),
		Type: r.Type, Unit: regressionUnits[r.Type], State: r.State, Severity: r.Severity,
		ActiveSince: timePtr(r.ActiveSince), FiringSince: timePtr(r.FiringSince), ResolvedAt: timePtr(r.ResolvedAt),
		Figures: []Figure{}, Ratio: Float(r.Ratio),
	}
	for _, f := range r.Figures {
		out.Figures = append(out.Figures, Figure{Quantile: f.Quantile, Baseline: Float(f.Baseline), Current: Float(f.Current)})
	}
	if jaeger != "" {
		out.JaegerURL = jaegerSearch(jaeger, out.OperationParts, r, now)
	}
	return out
}

// operationParts maps the operation label back to the operation_key parts when that is
// unambiguous: as many "/"-separated values as parts (a part absent from the spans is left out
// of the label, so a shorter label cannot be attributed).
func operationParts(key []string, label string) map[string]string {
	vals := strings.Split(label, "/")
	if len(key) == 0 || len(vals) != len(key) {
		return nil
	}
	out := make(map[string]string, len(key))
	for i, k := range key {
		name, _, _ := strings.Cut(k, "|") // the first alternative names the part
		out[name] = vals[i]
	}
	return out
}

// jaegerSearch is a Jaeger UI search for the regressed operation's marked spans, from when the
// alert became active until now (or until it resolved).
func jaegerSearch(base string, parts map[string]string, r regressionprocessor.RegressionStatus, now time.Time) string {
	q := url.Values{}
	tags := map[string]string{"regression.detected": "true"}
	if svc := parts["service.name"]; svc != "" {
		q.Set("service", svc)
	}
	for k, v := range parts {
		if k != "service.name" && k != "span.name" && v != "" {
			tags[k] = v
		}
	}
	tj, _ := json.Marshal(tags) // map keys are sorted: the link is stable
	q.Set("tags", string(tj))
	start, end := r.ActiveSince, now
	if !r.ResolvedAt.IsZero() {
		end = r.ResolvedAt
	}
	if start.IsZero() {
		start = now.Add(-time.Hour)
	}
	q.Set("start", strconv.FormatInt(start.Add(-time.Minute).UnixMicro(), 10))
	q.Set("end", strconv.FormatInt(end.Add(time.Minute).UnixMicro(), 10))
	q.Set("lookback", "custom")
	q.Set("limit", "20")
	return strings.TrimRight(base, "/") + "/search?" + q.Encode()
}

// sortRegressions puts firing regressions first, then pending, then resolved.
func sortRegressions(rs []Regression) {
	rank := map[string]int{"firing": 0, "pending": 1, "resolved": 2}
	sort.SliceStable(rs, func(i, j int) bool { return rank[rs[i].State] < rank[rs[j].State] })
}
