package slosim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// The rules baseline: the generated Prometheus rules (amas-slo render) evaluated by a real
// Prometheus over the counters a Recorder wrote. Prometheus evaluates every rule group each
// minute over the whole month, and a 30-day window read at every minute is the slow query of
// rule-based SLOs; the evaluation here is arranged so that it takes minutes:
//
//   - The per-slice recording rules (amas_slo:slice_bad) are evaluated first at every minute and
//     written back as series (as Prometheus' own rule evaluation would have written them); then
//     the rules that read their own past (Latch), minute by minute, written back too.
//   - Every other recording rule is inlined into the alert expressions that read it.
//   - Each operand of an alert (the lines joined by `and` / `unless`) is evaluated on its own,
//     at a step of 1/1440 of its longest range, at least one minute: 1 minute for windows up to
//     1d, 3 minutes for 3d, 30 minutes for 30d, and held until its next step. An alert holds
//     at a minute when all its `and` operands hold and no `unless` operand does; it fires when
//     it has held for its `for`.

// RuleGroup is one group of a generated rules file.
type RuleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval"`
	Rules    []Rule `yaml:"rules"`
}

// Rule is a recording or alerting rule.
type Rule struct {
	Record string            `yaml:"record"`
	Alert  string            `yaml:"alert"`
	Expr   string            `yaml:"expr"`
	For    string            `yaml:"for"`
	Labels map[string]string `yaml:"labels"`
}

// RuleSet is a parsed rules file.
type RuleSet struct {
	Groups []RuleGroup `yaml:"groups"`
}

// ParseRules reads a Prometheus rules file.
func ParseRules(data []byte) (*RuleSet, error) {
	var rs RuleSet
	if err := yaml.Unmarshal(data, &rs); err != nil {
		return nil, err
	}
	return &rs, nil
}

// SliceRecord is the recorded per-slice series of the timeslices SLOs.
const SliceRecord = "amas_slo:slice_bad"

// Latch is a recording rule that reads its own past ("last_over_time(self[R]) or X": a value
// kept once set, such as the time of an SLO's first slice). Prometheus evaluates it minute by
// minute; EvaluateLatch does the same from X's values.
type Latch struct {
	Rule
	Range time.Duration
	Else  string // X, with the other recording rules inlined
}

var latchExpr = regexp.MustCompile(`^last_over_time\((amas_slo:[a-z_:]+)\{[^}]*\}\[([0-9a-z]+)\]\)\s+or\s+(.+)$`)

// Latches are the self-reading recording rules, evaluated after the slice rules.
func (rs *RuleSet) Latches() ([]Latch, error) {
	var out []Latch
	for _, g := range rs.Groups {
		for _, r := range g.Rules {
			if r.Record == "" || !strings.Contains(r.Expr, r.Record+"{") {
				continue
			}
			m := latchExpr.FindStringSubmatch(strings.Join(strings.Fields(r.Expr), " "))
			if m == nil || m[1] != r.Record {
				return nil, fmt.Errorf("recording rule %s reads itself in a form other than last_over_time(self[R]) or X: %s", r.Record, r.Expr)
			}
			d, err := slomath.ParseDuration(m[2])
			if err != nil {
				return nil, err
			}
			e, err := rs.inline(m[3], 0)
			if err != nil {
				return nil, err
			}
			out = append(out, Latch{Rule: r, Range: d, Else: e})
		}
	}
	return out, nil
}

// EvaluateLatch turns X's per-minute values (NaN: no value) into the latch's: at each minute the
// latch's own latest value within Range before it, else X.
func EvaluateLatch(l Latch, x []float64) []float64 {
	out := make([]float64, len(x))
	last := -1
	for i := range x {
		switch {
		case last >= 0 && time.Duration(i-last)*time.Minute <= l.Range:
			out[i] = out[last]
		default:
			out[i] = x[i]
		}
		if out[i] == out[i] {
			last = i
		}
	}
	return out
}

// materialized reports whether a recorded series is written back as series rather than inlined:
// the slice rules and the latches.
func (rs *RuleSet) materialized(name string) bool {
	if name == SliceRecord {
		return true
	}
	for _, g := range rs.Groups {
		for _, r := range g.Rules {
			if r.Record == name && strings.Contains(r.Expr, r.Record+"{") {
				return true
			}
		}
	}
	return false
}

// SliceRules are the amas_slo:slice_bad recording rules, evaluated first.
func (rs *RuleSet) SliceRules() []Rule {
	var out []Rule
	for _, g := range rs.Groups {
		for _, r := range g.Rules {
			if r.Record == SliceRecord {
				out = append(out, r)
			}
		}
	}
	return out
}

// PromAlert is an alerting rule ready to evaluate: its operands with the recording rules inlined.
type PromAlert struct {
	Rule
	Operands []Operand
	ForDur   time.Duration
}

// Operand is one line of an alert expression.
type Operand struct {
	Expr   string
	Unless bool
	Step   time.Duration
	// Alerts, for an `unless on(slo) ALERTS{...}` operand (a page suppressing the tickets of its
	// SLO), are the matchers of the ALERTS series; it holds while an alert matching them that
	// was evaluated before it (in file order, as in the rule group) is pending or firing.
	Alerts map[string]string
}

var (
	recRef   = regexp.MustCompile(`(amas_slo:[a-z_:]+)\{([^}]*)\}(\[[^\]]+\])?`)
	matcher  = regexp.MustCompile(`(\w+)="([^"]*)"`)
	rangeSel = regexp.MustCompile(`\[([0-9a-z]+)(:[0-9a-z]*)?\]`)
)

// Alerts returns every alerting rule with its recording rules inlined, except the materialized
// ones (SliceRecord and the latches).
func (rs *RuleSet) Alerts() ([]PromAlert, error) {
	var out []PromAlert
	for _, g := range rs.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			a := PromAlert{Rule: r}
			if r.For != "" {
				d, err := slomath.ParseDuration(r.For)
				if err != nil {
					return nil, fmt.Errorf("%s %s: for: %w", r.Alert, r.Labels["slo"], err)
				}
				a.ForDur = d
			}
			for _, line := range strings.Split(strings.TrimSpace(r.Expr), "\n") {
				line = strings.TrimSpace(line)
				op := Operand{}
				switch {
				case strings.HasPrefix(line, "and "):
					line = strings.TrimPrefix(line, "and ")
				case strings.HasPrefix(line, "unless on() "):
					op.Unless, line = true, strings.TrimPrefix(line, "unless on() ")
				case strings.HasPrefix(line, "unless "):
					op.Unless, line = true, strings.TrimPrefix(line, "unless ")
				case len(a.Operands) > 0:
					a.Operands[len(a.Operands)-1].Expr += " " + line
					continue
				}
				op.Expr = line
				if strings.HasPrefix(line, "on(slo) ALERTS{") {
					op.Alerts = map[string]string{}
					for _, kv := range matcher.FindAllStringSubmatch(line, -1) {
						op.Alerts[kv[1]] = kv[2]
					}
				}
				a.Operands = append(a.Operands, op)
			}
			for i := range a.Operands {
				if a.Operands[i].Alerts != nil {
					continue
				}
				e, err := rs.inline(a.Operands[i].Expr, 0)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", r.Alert, r.Labels["slo"], err)
				}
				a.Operands[i].Expr = e
				a.Operands[i].Step = stepFor(e)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

func (rs *RuleSet) inline(expr string, depth int) (string, error) {
	if depth > 8 {
		return "", fmt.Errorf("recording rules nested too deep in %s", expr)
	}
	var err error
	out := recRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := recRef.FindStringSubmatch(ref)
		if rs.materialized(m[1]) {
			return ref
		}
		want := map[string]string{}
		for _, kv := range matcher.FindAllStringSubmatch(m[2], -1) {
			want[kv[1]] = kv[2]
		}
		for _, g := range rs.Groups {
			for _, r := range g.Rules {
				if r.Record != m[1] || !labelsMatch(r.Labels, want) {
					continue
				}
				body, e := rs.inline(r.Expr, depth+1)
				if e != nil {
					err = e
					return ref
				}
				if m[3] != "" { // a range over a recorded series: a subquery at the group's interval
					return "(" + body + ")" + strings.TrimSuffix(m[3], "]") + ":1m]"
				}
				return "(" + body + ")"
			}
		}
		err = fmt.Errorf("no recording rule for %s", ref)
		return ref
	})
	return out, err
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// stepFor is 1/1440 of the longest range in expr, in whole minutes, at least one minute.
func stepFor(expr string) time.Duration {
	longest := time.Duration(0)
	for _, m := range rangeSel.FindAllStringSubmatch(expr, -1) {
		if d, err := slomath.ParseDuration(m[1]); err == nil && d > longest {
			longest = d
		}
	}
	step := (longest/1440 + time.Minute - 1).Truncate(time.Minute)
	return max(step, time.Minute)
}

// Prometheus is the HTTP API of a running Prometheus.
type Prometheus struct {
	URL    string
	Client *http.Client
}

// QueryRange returns, for each step from start to end, the value of the first series of expr
// (NaN where expr returned nothing).
func (p Prometheus) QueryRange(expr string, start, end time.Time, step time.Duration) ([]float64, error) {
	n := int(end.Sub(start)/step) + 1
	out := make([]float64, n)
	for i := range out {
		out[i] = nan
	}
	const chunk = 10000
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n) - 1
		q := url.Values{}
		q.Set("query", expr)
		q.Set("start", strconv.FormatInt(start.Add(time.Duration(from)*step).Unix(), 10))
		q.Set("end", strconv.FormatInt(start.Add(time.Duration(to)*step).Unix(), 10))
		q.Set("step", strconv.FormatInt(int64(step/time.Second), 10))
		resp, err := p.Client.PostForm(p.URL+"/api/v1/query_range", q)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		var r struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []struct {
					Values [][2]any `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("query_range %s: %w: %.200s", expr, err, body)
		}
		if r.Status != "success" {
			return nil, fmt.Errorf("query_range %s: %s", expr, r.Error)
		}
		if len(r.Data.Result) > 1 {
			return nil, fmt.Errorf("query_range %s: %d series, want at most 1", expr, len(r.Data.Result))
		}
		for _, s := range r.Data.Result {
			for _, v := range s.Values {
				ts, _ := v[0].(float64)
				str, _ := v[1].(string)
				f, err := strconv.ParseFloat(str, 64)
				if err != nil {
					return nil, fmt.Errorf("query_range %s: value %q", expr, str)
				}
				i := int(time.Unix(int64(ts), 0).Sub(start) / step)
				if i >= 0 && i < n {
					out[i] = f
				}
			}
		}
	}
	return out, nil
}

var nan = func() float64 { var z float64; return z / z }()

// EvaluateAlerts evaluates the alerts at every minute from start to end and returns when each
// started firing. Operands shared by several alerts are queried once.
func (p Prometheus) EvaluateAlerts(alerts []PromAlert, start, end time.Time) ([]Firing, error) {
	n := int(end.Sub(start)/time.Minute) + 1
	cache := map[string][]bool{}
	held := func(op Operand) ([]bool, error) {
		key := op.Expr + "@" + op.Step.String()
		if h, ok := cache[key]; ok {
			return h, nil
		}
		vals, err := p.QueryRange(op.Expr, start, end, op.Step)
		if err != nil {
			return nil, err
		}
		h := make([]bool, n)
		per := int(op.Step / time.Minute)
		for i := range h {
			v := vals[i/per]
			h[i] = v == v // present (not NaN)
		}
		cache[key] = h
		return h, nil
	}
	var out []Firing
	type active struct {
		labels map[string]string
		cond   []bool
	}
	var done []active
	for _, a := range alerts {
		cond := make([]bool, n)
		for i := range cond {
			cond[i] = true
		}
		for _, op := range a.Operands {
			var h []bool
			if op.Alerts != nil {
				h = make([]bool, n)
				for _, d := range done {
					if !labelsMatch(d.labels, op.Alerts) {
						continue
					}
					for i := range h {
						h[i] = h[i] || d.cond[i]
					}
				}
			} else {
				var err error
				if h, err = held(op); err != nil {
					return nil, err
				}
			}
			for i := range cond {
				cond[i] = cond[i] && h[i] != op.Unless
			}
		}
		labels := map[string]string{"alertname": a.Alert}
		for k, v := range a.Labels {
			labels[k] = v
		}
		done = append(done, active{labels: labels, cond: cond})
		firing, since := false, -1
		for i, c := range cond {
			if !c {
				firing, since = false, -1
				continue
			}
			if since < 0 {
				since = i
			}
			if !firing && time.Duration(i-since)*time.Minute >= a.ForDur {
				firing = true
				labels := ""
				if a.Labels["long_window"] != "" {
					labels = a.Labels["long_window"] + "∧" + a.Labels["short_window"]
				}
				out = append(out, Firing{At: start.Add(time.Duration(i) * time.Minute), SLO: a.Labels["slo"], Name: a.Alert, Severity: a.Labels["severity"], Labels: labels})
			}
		}
	}
	return out, nil
}
