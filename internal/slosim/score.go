package slosim

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Firing is one alert starting to fire (a notification), as a driver observed it.
type Firing struct {
	At       time.Time
	SLO      string
	Name     string // alertname
	Severity string
	Labels   string // the other identifying labels, for the report (e.g. "5m∧1m")
}

// Page reports whether the alert is routed to the pages receiver (severity critical or high), as
// the default configuration's route does.
func (f Firing) Page() bool { return f.Severity == "critical" || f.Severity == "high" }

// Grace is how long after an incident ends an alert it explains may still start: the longest
// short window of the default rules (6h∧… tickets; 6h of the 6h∧30m page).
const Grace = 6 * time.Hour

// IncidentResult is what one incident got.
type IncidentResult struct {
	Incident
	// ToPage and ToTicket are from the incident's start to its first page / first ticket of the
	// incident's SLO (plus the notification delay the driver adds); -1 when none came.
	ToPage, ToTicket time.Duration
}

// Missed reports whether the incident did not get the alert it needs: a page when ExpectPage,
// else any alert.
func (r IncidentResult) Missed() bool {
	if r.ExpectPage {
		return r.ToPage < 0
	}
	return r.ToPage < 0 && r.ToTicket < 0
}

// SLOResult is the score of one SLO.
type SLOResult struct {
	SLO                      string
	Pages, Tickets           int // all notifications
	FalsePages, FalseTickets int
	FalseByAlert             map[string]int // "SLONoData warning" → count, false ones only
	False                    []Firing
	Incidents                []IncidentResult
}

// Missed counts the missed incidents.
func (r SLOResult) Missed() int {
	n := 0
	for _, i := range r.Incidents {
		if i.Missed() {
			n++
		}
	}
	return n
}

// Score judges firings against the scenario's labelled incidents. A firing of an SLO is true when
// it starts during one of that SLO's incidents or within Grace after it (and belongs to the last
// such incident to start); a budget alert
// (SLOErrorBudgetLow) is also true when the true budget remaining is below its threshold (plus
// one point of slack for bucketing) after at least MinBudgetHistory of traffic: the budget really
// is spent, whatever spent it. Every other firing is false. notify is added to every time to page
// or ticket (the alert exporter's group_wait).
func Score(s Scenario, truth *BudgetTruth, firings []Firing, notify time.Duration) []SLOResult {
	incidents := s.Truth()
	firings = slices.Clone(firings)
	slices.SortStableFunc(firings, func(a, b Firing) int { return a.At.Compare(b.At) })
	out := make([]SLOResult, 0, len(SLONames))
	for _, name := range SLONames {
		r := SLOResult{SLO: name, FalseByAlert: map[string]int{}}
		for _, inc := range incidents {
			if inc.SLO != name {
				continue
			}
			ir := IncidentResult{Incident: inc, ToPage: -1, ToTicket: -1}
			for _, f := range firings {
				if o, ok := owner(incidents, f); !ok || o.Start != inc.Start || o.Name != inc.Name {
					continue
				}
				d := f.At.Sub(inc.Start) + notify
				if f.Page() && ir.ToPage < 0 {
					ir.ToPage = d
				}
				if !f.Page() && ir.ToTicket < 0 {
					ir.ToTicket = d
				}
			}
			r.Incidents = append(r.Incidents, ir)
		}
		for _, f := range firings {
			if f.SLO != name {
				continue
			}
			if f.Page() {
				r.Pages++
			} else {
				r.Tickets++
			}
			explained := f.Name == "SLOErrorBudgetLow" && f.At.Sub(s.Start) >= MinBudgetHistory &&
				truth.Remaining(name, f.At) < BudgetThresholds[f.Severity]+0.01
			if _, ok := owner(incidents, f); ok {
				explained = true
			}
			if explained {
				continue
			}
			if f.Page() {
				r.FalsePages++
			} else {
				r.FalseTickets++
			}
			r.False = append(r.False, f)
			r.FalseByAlert[f.Name+" "+f.Severity+labelSuffix(f.Labels)]++
		}
		out = append(out, r)
	}
	return out
}

// owner is the incident a firing belongs to: of the incidents of its SLO that started at or
// before it and ended less than Grace before it, the one that started last (so an alert during
// a second incident is never credited to an earlier one still in its grace).
func owner(incidents []Incident, f Firing) (Incident, bool) {
	var best Incident
	found := false
	for _, inc := range incidents {
		if inc.SLO != f.SLO || f.At.Before(inc.Start) || f.At.After(inc.End().Add(Grace)) {
			continue
		}
		if !found || inc.Start.After(best.Start) {
			best, found = inc, true
		}
	}
	return best, found
}

func labelSuffix(l string) string {
	if l == "" {
		return ""
	}
	return " " + l
}

// Totals sums the false pages, false tickets and missed incidents of all SLOs.
func Totals(rs []SLOResult) (falsePages, falseTickets, missed int) {
	for _, r := range rs {
		falsePages += r.FalsePages
		falseTickets += r.FalseTickets
		missed += r.Missed()
	}
	return
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "—"
	}
	d = d.Round(time.Second)
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%.1fm", d.Minutes())
	default:
		return fmt.Sprintf("%.1fh", d.Hours())
	}
}

// WriteMarkdown writes one table per SLO with the results of several evaluators side by side
// (names[i] ↔ results[i]).
func WriteMarkdown(w io.Writer, start time.Time, names []string, results [][]SLOResult) {
	for si, slo := range SLONames {
		fmt.Fprintf(w, "#### `%s`\n\n", slo)
		fmt.Fprintf(w, "| | %s |\n|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
		row := func(label string, cell func(r SLOResult) string) {
			cells := make([]string, len(results))
			for i := range results {
				cells[i] = cell(results[i][si])
			}
			fmt.Fprintf(w, "| %s | %s |\n", label, strings.Join(cells, " | "))
		}
		row("false pages", func(r SLOResult) string { return fmt.Sprint(r.FalsePages) + falseDetail(r, true) })
		row("false tickets", func(r SLOResult) string { return fmt.Sprint(r.FalseTickets) + falseDetail(r, false) })
		row("missed incidents", func(r SLOResult) string { return fmt.Sprintf("%d of %d", r.Missed(), len(r.Incidents)) })
		for ii := range results[0][si].Incidents {
			inc := results[0][si].Incidents[ii]
			label := fmt.Sprintf("%s, day %d %s: page / ticket", inc.Name, int(inc.Start.Sub(start)/(24*time.Hour)), inc.Start.Format("15:04"))
			row(label, func(r SLOResult) string {
				ir := r.Incidents[ii]
				return fmtDur(ir.ToPage) + " / " + fmtDur(ir.ToTicket)
			})
		}
		fmt.Fprintln(w)
	}
}

func falseDetail(r SLOResult, pages bool) string {
	var parts []string
	for k, n := range r.FalseByAlert {
		sev := strings.Fields(k)[1]
		if (sev == "critical" || sev == "high") == pages {
			parts = append(parts, fmt.Sprintf("%d× %s", n, k))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	slices.Sort(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}
