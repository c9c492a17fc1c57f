package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// templateData is what annotation templates see.
type templateData struct {
	Labels      map[string]string
	Values      map[string]float64
	Status      string
	StartsAt    time.Time
	EndsAt      time.Time
	JaegerURL   string
	ExternalURL string
}

var templateFuncs = template.FuncMap{
	"humanize":        humanize,
	"budgetRemaining": budgetRemaining,
	"burnRates":       burnRates,
	"alertBurnRates":  alertBurnRates,
	"regression":      regressionFigures,
	"jaegerSearch":    jaegerSearch,
	"value": func(values map[string]float64, key string) string {
		if v, ok := values[key]; ok {
			return humanize(v)
		}
		return ""
	},
}

// Default annotations; each can be replaced or removed (set to "") in the config.
const (
	defaultSummary = `{{ .Labels.alertname }}{{ with .Labels.slo }} for SLO {{ . }}{{ end }}` +
		`{{ with .Labels.operation }} on {{ . }}{{ end }} ({{ .Labels.severity }})`
	defaultDescription = `{{ with .Labels.slo }}SLO {{ . }}{{ with $.Labels.long_window }} is burning its error budget over {{ . }}{{ with $.Labels.short_window }} and {{ . }}{{ end }}{{ end }}.{{ end }}` +
		`{{ with .Labels.operation }}Operation {{ . }} regressed{{ with $.Labels.type }} ({{ . }}){{ end }}.{{ end }}` +
		`{{ with budgetRemaining .Values }} Error budget remaining: {{ . }}.{{ end }}` +
		`{{ with alertBurnRates .Values .Labels }} Burn rate: {{ . }}.{{ end }}` +
		`{{ with regression .Values .Labels }} Current vs baseline: {{ . }}.{{ end }}`
	defaultJaegerSearch = `{{ jaegerSearch . }}`
)

func defaultAnnotations() map[string]string {
	return map[string]string{
		"summary":           defaultSummary,
		"description":       defaultDescription,
		"jaeger_search_url": defaultJaegerSearch,
	}
}

type compiledTemplates struct {
	names []string
	tmpls []*template.Template
}

func compileAnnotations(ann map[string]string) *compiledTemplates {
	c := &compiledTemplates{}
	for name := range ann {
		c.names = append(c.names, name)
	}
	sort.Strings(c.names)
	for _, name := range c.names {
		// Validate already parsed each one.
		t := template.Must(template.New(name).Funcs(templateFuncs).Option("missingkey=zero").Parse(ann[name]))
		c.tmpls = append(c.tmpls, t)
	}
	return c
}

// renderAnnotations renders every annotation for rec; a template that fails or renders empty
// leaves the annotation out. Called with e.mu held, on the dispatcher tick.
func (e *alertExporter) renderAnnotations(rec *alertRec, status string, now time.Time) map[string]string {
	if e.tmpl == nil {
		return nil
	}
	data := templateData{Labels: rec.labels, Values: rec.values, Status: status, StartsAt: rec.startsAt,
		EndsAt: rec.endsAt, JaegerURL: e.cfg.JaegerURL, ExternalURL: e.cfg.ExternalURL}
	if data.EndsAt.IsZero() {
		data.EndsAt = now
	}
	out := make(map[string]string, len(e.tmpl.names))
	var b strings.Builder
	for i, t := range e.tmpl.tmpls {
		b.Reset()
		if err := t.Execute(&b, data); err != nil {
			e.tel.invalidPoint()
			continue
		}
		if s := strings.TrimSpace(b.String()); s != "" && s != "<no value>" {
			out[e.tmpl.names[i]] = s
		}
	}
	return out
}

func humanize(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func round(v float64, digits int) string {
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// budgetRemaining finds the joined error-budget-remaining value, whatever the namespace.
func budgetRemaining(values map[string]float64) string {
	for k, v := range values {
		if strings.HasSuffix(k, "slo_error_budget_remaining_percent") {
			return round(v, 2) + "%"
		}
	}
	return ""
}

const burnRateMarker = "slo_error_budget_burn_rate"

// burnRates lists the joined burn rates by window ("1h: 14.40×, 5m: 20.00×"), shortest key first.
func burnRates(values map[string]float64) string {
	var parts []string
	for k, v := range values {
		i := strings.Index(k, burnRateMarker)
		if i < 0 {
			continue
		}
		w := strings.TrimPrefix(k[i+len(burnRateMarker):], "_")
		if w == "" {
			w = "now"
		}
		parts = append(parts, w+": "+round(v, 2)+"×")
	}
	sort.Slice(parts, func(i, j int) bool { return windowLess(parts[i], parts[j]) })
	return strings.Join(parts, ", ")
}

// alertBurnRates is burnRates limited to the windows of the alert's burn-rate rule (its
// long_window and short_window labels) when it has them and their values were joined: the slo
// processor emits a burn rate for every window of the SLO, and the page is about two of them.
func alertBurnRates(values map[string]float64, labels map[string]string) string {
	long, short := labels["long_window"], labels["short_window"]
	if long == "" && short == "" {
		return burnRates(values)
	}
	picked := map[string]float64{}
	for k, v := range values {
		if i := strings.Index(k, burnRateMarker); i >= 0 {
			if w := strings.TrimPrefix(k[i+len(burnRateMarker):], "_"); w == long || w == short {
				picked[k] = v
			}
		}
	}
	if len(picked) == 0 {
		return burnRates(values)
	}
	return burnRates(picked)
}

// regressionFigures describes a regression alert's joined figures as "current vs baseline
// (ratio)", in the unit of its type: seconds per quantile for latency, percent for the error
// rate, USD per request for cost. Empty when the alert has no such values.
func regressionFigures(values map[string]float64, labels map[string]string) string {
	const base, cur, ratio = "performance_regression_baseline", "performance_regression_current", "performance_regression_ratio"
	format := func(v float64) string {
		switch labels["type"] {
		case "latency_regression":
			return strconv.FormatFloat(v, 'g', 3, 64) + "s"
		case "error_rate_regression":
			return strconv.FormatFloat(100*v, 'g', 3, 64) + "%"
		case "cost_regression":
			return "$" + strconv.FormatFloat(v, 'g', 3, 64)
		default:
			return strconv.FormatFloat(v, 'g', 3, 64)
		}
	}
	var parts []string
	var r string
	for k, v := range values {
		i := strings.Index(k, base)
		if i < 0 {
			if strings.HasSuffix(k, ratio) {
				r = " (" + round(v, 2) + "×)"
			}
			continue
		}
		q := strings.TrimPrefix(k[i+len(base):], "_")
		c, ok := values[k[:i]+cur+k[i+len(base):]]
		if !ok {
			continue
		}
		p := format(c) + " vs " + format(v)
		if q != "" {
			p = "p" + strings.TrimPrefix(strings.TrimPrefix(q, "0."), "0") + " " + p
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ") + r
}

// windowLess orders "5m: …" before "1h: …" before "1d: …" by parsed duration when possible.
func windowLess(a, b string) bool {
	da, ea := parseWindow(a[:strings.Index(a, ":")])
	db, eb := parseWindow(b[:strings.Index(b, ":")])
	if ea == nil && eb == nil && da != db {
		return da < db
	}
	return a < b
}

func parseWindow(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// jaegerSearch builds a Jaeger UI search link for the alert's service (agent) and operation,
// over the hour before the alert started up to its end (or now).
func jaegerSearch(d templateData) string {
	if d.JaegerURL == "" {
		return ""
	}
	q := url.Values{}
	service := firstLabel(d.Labels, "service.name", "service_name", "service", "gen_ai.agent.name", "agent")
	if service != "" {
		q.Set("service", service)
	}
	if op := firstLabel(d.Labels, "operation", "gen_ai.operation.name"); op != "" {
		q.Set("operation", op)
	}
	start := d.StartsAt.Add(-time.Hour)
	q.Set("start", strconv.FormatInt(start.UnixMicro(), 10))
	q.Set("end", strconv.FormatInt(d.EndsAt.UnixMicro(), 10))
	q.Set("limit", "20")
	if strings.Contains(strings.ToLower(d.Labels["type"]), "error") || d.Labels["slo"] != "" && strings.Contains(d.Labels["slo"], "availability") {
		tags, _ := json.Marshal(map[string]string{"error": "true"})
		q.Set("tags", string(tags))
	}
	return strings.TrimRight(d.JaegerURL, "/") + "/search?" + q.Encode()
}

func firstLabel(labels map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := labels[k]; v != "" {
			return v
		}
	}
	return ""
}
