package slosim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
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

// QueryRange returns, for each step from start to end, the value of the only series of expr (NaN
// where expr returned nothing); more than one series is an error.
func (p Prometheus) QueryRange(expr string, start, end time.Time, step time.Duration) ([]float64, error) {
	all, err := p.QueryRangeSeries(expr, start, end, step)
	if err != nil {
		return nil, err
	}
	if len(all) > 1 {
		return nil, fmt.Errorf("query_range %s: %d series, want at most 1", expr, len(all))
	}
	for _, v := range all {
		return v, nil
	}
	out := make([]float64, int(end.Sub(start)/step)+1)
	for i := range out {
		out[i] = nan
	}
	return out, nil
}

// QueryRangeSeries returns, per series of expr (keyed by its labels, "k=v,…" sorted; "" for a
// series without labels), its value at each step from start to end (NaN where absent).
func (p Prometheus) QueryRangeSeries(expr string, start, end time.Time, step time.Duration) (map[string][]float64, error) {
	n := int(end.Sub(start)/step) + 1
	out := map[string][]float64{}
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
					Metric map[string]string `json:"metric"`
					Values [][2]any          `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("query_range %s: %w: %.200s", expr, err, body)
		}
		if r.Status != "success" {
			return nil, fmt.Errorf("query_range %s: %s", expr, r.Error)
		}
		for _, s := range r.Data.Result {
			key := labelKey(s.Metric)
			vals, ok := out[key]
			if !ok {
				vals = make([]float64, n)
				for i := range vals {
					vals[i] = nan
				}
				out[key] = vals
			}
			for _, v := range s.Values {
				ts, _ := v[0].(float64)
				str, _ := v[1].(string)
				f, err := strconv.ParseFloat(str, 64)
				if err != nil {
					return nil, fmt.Errorf("query_range %s: value %q", expr, str)
				}
				i := int(time.Unix(int64(ts), 0).Sub(start) / step)
				if i >= 0 && i < n {
					vals[i] = f
				}
			}
		}
	}
	return out, nil
}

func labelKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if k != "__name__" {
			keys = append(keys, k+"="+v)
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

var nan = func() float64 { var z float64; return z / z }()

// EvaluateAlerts evaluates the alerts at every minute from start to end and returns when each of
// their series started firing. Operands shared by several alerts are queried once. Series of
// `and` operands are matched by their labels (a series without labels matches every series);
// an `unless` operand removes every series while it holds (the generated rules use `on()`).
func (p Prometheus) EvaluateAlerts(alerts []PromAlert, start, end time.Time) ([]Firing, error) {
	n := int(end.Sub(start)/time.Minute) + 1
	cache := map[string]map[string][]bool{}
	held := func(op Operand) (map[string][]bool, error) {
		key := op.Expr + "@" + op.Step.String()
		if h, ok := cache[key]; ok {
			return h, nil
		}
		all, err := p.QueryRangeSeries(op.Expr, start, end, op.Step)
		if err != nil {
			return nil, err
		}
		per := int(op.Step / time.Minute)
		out := map[string][]bool{}
		for k, vals := range all {
			h := make([]bool, n)
			for i := range h {
				v := vals[i/per]
				h[i] = v == v // present (not NaN)
			}
			out[k] = h
		}
		cache[key] = out
		return out, nil
	}
	var out []Firing
	type active struct {
		labels map[string]string
		cond   []bool // any series pending or firing
	}
	var done []active
	for _, a := range alerts {
		var conds map[string][]bool
		for j, op := range a.Operands {
			var h map[string][]bool
			if op.Alerts != nil {
				any := make([]bool, n)
				for _, d := range done {
					if !labelsMatch(d.labels, op.Alerts) {
						continue
					}
					for i := range any {
						any[i] = any[i] || d.cond[i]
					}
				}
				h = map[string][]bool{"": any}
			} else {
				var err error
				if h, err = held(op); err != nil {
					return nil, err
				}
			}
			if j == 0 {
				conds = map[string][]bool{}
				for k, v := range h {
					conds[k] = slices.Clone(v)
				}
				continue
			}
			if op.Unless {
				for i := range n {
					hit := false
					for _, v := range h {
						hit = hit || v[i]
					}
					if hit {
						for _, c := range conds {
							c[i] = false
						}
					}
				}
				continue
			}
			for k, c := range conds {
				v, ok := h[k]
				if !ok {
					v, ok = h[""]
				}
				for i := range c {
					c[i] = c[i] && ok && v[i]
				}
			}
		}
		labels := map[string]string{"alertname": a.Alert}
		for k, v := range a.Labels {
			labels[k] = v
		}
		anyCond := make([]bool, n)
		keys := make([]string, 0, len(conds))
		for k := range conds {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cond := conds[k]
			firing, since := false, -1
			for i, c := range cond {
				anyCond[i] = anyCond[i] || c
				if !c {
					firing, since = false, -1
					continue
				}
				if since < 0 {
					since = i
				}
				if !firing && time.Duration(i-since)*time.Minute >= a.ForDur {
					firing = true
					var parts []string
					for _, kv := range strings.Split(k, ",") {
						if kv != "" && !strings.HasPrefix(kv, "slo=") {
							parts = append(parts, kv)
						}
					}
					desc := strings.Join(parts, ",")
					if a.Labels["long_window"] != "" {
						desc = strings.TrimPrefix(desc+" "+a.Labels["long_window"]+"∧"+a.Labels["short_window"], " ")
					}
					out = append(out, Firing{At: start.Add(time.Duration(i) * time.Minute), SLO: a.Labels["slo"], Name: a.Alert, Severity: a.Labels["severity"], Labels: desc})
				}
			}
		}
		done = append(done, active{labels: labels, cond: anyCond})
	}
	return out, nil
}
