package sloprocessor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// An SLO's checkpoint records the SLO's definition: its readable fields, one "key=value" line
// each, and their fingerprint (xxhash64 of the lines). On restore the recorded definition is
// compared with the configured one, field by field, and each changed field says what happens to
// the checkpointed counts:
//
//   - migrate: objective, window, rules, budget_thresholds — the counts are still the good and bad
//     events (or slices) of the same SLI: they are kept, re-bucketed if the windows changed;
//   - fresh: budgeting.method, budgeting.slice, budgeting.max_bad_ratio, group_by, sli.* — the
//     counts meant something else: the SLO starts fresh, with a warning naming the SLO and the
//     fields that changed;
//   - no_data_group_by: only the per-group no-data series start fresh.
//
// A field the processor does not know (written by a newer version) counts as fresh.

type changeKind int

const (
	changeMigrate changeKind = iota
	changeNoDataGroups
	changeFresh
)

var migrateFields = map[string]changeKind{
	"objective": changeMigrate, "window": changeMigrate, "rules": changeMigrate, "budget_thresholds": changeMigrate,
	"no_data_group_by": changeNoDataGroups,
}

type identity struct {
	lines []string // "key=value", in a fixed order
}

func (id identity) text() string { return strings.Join(id.lines, "\n") }

func (id identity) fingerprint() uint64 { return xxhash.Sum64String(id.text()) }

func (id identity) fields() map[string]string {
	out := make(map[string]string, len(id.lines))
	for _, l := range id.lines {
		k, v, _ := strings.Cut(l, "=")
		out[k] = v
	}
	return out
}

func parseIdentity(text string) identity {
	if text == "" {
		return identity{}
	}
	return identity{lines: strings.Split(text, "\n")}
}

// sloIdentity is the definition of a compiled SLO.
func sloIdentity(c *compiledSLO) identity {
	m := c.model
	s := c.cfg
	var id identity
	add := func(k, v string) { id.lines = append(id.lines, k+"="+v) }
	add("objective", strconv.FormatFloat(m.Objective, 'g', -1, 64))
	add("window", slomath.FormatWindow(m.Window))
	method, slice, ratio := methodOccurrences, "", "0"
	if ts := m.Timeslices; ts != nil {
		method, slice, ratio = methodTimeslices, slomath.FormatWindow(ts.Slice), strconv.FormatFloat(ts.MaxBadRatio, 'g', -1, 64)
	}
	add("budgeting.method", method)
	add("budgeting.slice", slice)
	add("budgeting.max_bad_ratio", ratio)
	var rules []string
	for _, r := range m.Rules {
		level := fmt.Sprintf("×%g", r.Factor(m.Window))
		if r.HardDown() {
			level = fmt.Sprintf("error ratio %g", r.ErrorRatio)
		}
		rules = append(rules, fmt.Sprintf("%s %s∧%s %s min %d bad %d for %s", r.Severity, slomath.FormatWindow(r.LongWindow), slomath.FormatWindow(r.ShortWindow),
			level, r.MinEvents, r.MinBadEvents, slomath.FormatWindow(r.For)))
	}
	add("rules", strings.Join(rules, "; "))
	add("budget_thresholds", fmt.Sprintf("%g/%g/%g %s/%s/%s min %d", m.Budget.Critical, m.Budget.High, m.Budget.Warning,
		m.Budget.Severity[0], m.Budget.Severity[1], m.Budget.Severity[2], m.BudgetMinEvents))
	add("group_by", quoteList(s.GroupBy))
	ndg := ""
	if c.beat != nil {
		ndg = quoteList(s.NoDataGroupBy)
	}
	add("no_data_group_by", ndg)
	switch {
	case s.SLI.Spans != nil:
		add("sli.spans.conditions", quoteList(s.SLI.Spans.Conditions))
		add("sli.spans.bad_conditions", quoteList(s.SLI.Spans.BadConditions))
	case s.SLI.Gauge != nil:
		g := s.SLI.Gauge
		add("sli.gauge.metrics", selectors(g.Metrics...))
		add("sli.gauge.threshold", g.Comparison+" "+strconv.FormatFloat(g.Threshold, 'g', -1, 64))
	case s.SLI.Ratio != nil:
		r := s.SLI.Ratio
		add("sli.ratio.numerator", selectors(r.Numerator))
		add("sli.ratio.denominator", selectors(r.Denominator))
		add("sli.ratio.threshold", r.Comparison+" "+strconv.FormatFloat(r.Threshold, 'g', -1, 64))
	}
	return id
}

// quoteList writes a list of strings on one line whatever they hold (newlines included).
func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

func selectors(sels ...MetricSelector) string {
	var parts []string
	for _, s := range sels {
		keys := make([]string, 0, len(s.Attributes))
		for k := range s.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		p := strconv.Quote(s.Name)
		for _, k := range keys {
			p += " " + strconv.Quote(k) + "=" + strconv.Quote(s.Attributes[k])
		}
		parts = append(parts, p)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// identityChange compares a checkpoint's definition with the configured one: the changed fields
// as "field: old → new", and the strongest kind of change among them.
func identityChange(old, cur identity) (changes []string, kind changeKind) {
	of, cf := old.fields(), cur.fields()
	seen := map[string]bool{}
	note := func(k string) {
		if seen[k] || of[k] == cf[k] {
			return
		}
		seen[k] = true
		changes = append(changes, fmt.Sprintf("%s: %s → %s", k, of[k], cf[k]))
		ck, ok := migrateFields[k]
		if !ok {
			ck = changeFresh
		}
		kind = max(kind, ck)
	}
	for _, l := range cur.lines {
		k, _, _ := strings.Cut(l, "=")
		note(k)
	}
	for _, l := range old.lines {
		k, _, _ := strings.Cut(l, "=")
		note(k)
	}
	return changes, kind
}
