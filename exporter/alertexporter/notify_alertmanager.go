package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// alertmanagerIntegration posts to Alertmanager's API v2 as Prometheus does: firing alerts
// carry an endsAt a few resend intervals ahead and are re-sent every resend_interval; a
// resolve is the same alert with endsAt in the past.
type alertmanagerIntegration struct {
	integrationBase
	httpSender
	cfg *AlertmanagerConfig
}

func (a *alertmanagerIntegration) kind() string       { return "alertmanager" }
func (a *alertmanagerIntegration) sendResolved() bool { return true }
func (a *alertmanagerIntegration) resends() bool      { return true }

func (a *alertmanagerIntegration) start(ctx context.Context, host component.Host, set component.TelemetrySettings) error {
	a.retryClientErrors = a.cfg.RetryClientErrors
	return a.httpSender.start(ctx, &a.cfg.HTTP, host, set)
}

type amPostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// amEndsAtFactor is Prometheus' choice: a firing alert lives four resend intervals unless refreshed.
const amEndsAtFactor = 4

func (a *alertmanagerIntegration) payload(n *notification, now time.Time) ([]byte, error) {
	out := make([]amPostableAlert, 0, len(n.Alerts))
	for _, al := range n.Alerts {
		p := amPostableAlert{Labels: sanitizeLabels(al.Labels, maxLabelBytes, false), Annotations: sanitizeLabels(al.Annotations, maxAnnotationBytes, true),
			StartsAt: al.StartsAt.UTC(), GeneratorURL: al.GeneratorURL}
		if al.Status == "firing" {
			// Computed at send time: a notification that waited in the queue through an
			// outage must not arrive already expired.
			p.EndsAt = now.Add(amEndsAtFactor * a.cfg2().ResendInterval).UTC()
		} else {
			p.EndsAt = al.EndsAt.UTC()
		}
		if p.StartsAt.IsZero() {
			p.StartsAt = n.CreatedAt.UTC()
		}
		if p.EndsAt.Before(p.StartsAt) {
			p.EndsAt = p.StartsAt
		}
		if len(p.Labels) == 0 {
			p.Labels = map[string]string{"alertname": "unknown"}
		}
		out = append(out, p)
	}
	return json.Marshal(out)
}

func (a *alertmanagerIntegration) cfg2() *Config { return a.integrationBase.cfg }

func (a *alertmanagerIntegration) notify(ctx context.Context, n *notification) error {
	body, err := a.payload(n, a.clock.Now())
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	return a.post(ctx, alertsURL(string(a.cfg.URL)), body, nil, string(a.cfg.URL))
}

// alertsURL appends /api/v2/alerts to the base URL's path, keeping its query.
func alertsURL(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return strings.TrimRight(base, "/") + "/api/v2/alerts" // post reports the bad URL, redacted
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/v2/alerts"
	u.RawPath = ""
	return u.String()
}

// sanitizeLabels makes label names valid for Alertmanager (letters, digits, underscores, not
// starting with a digit), as Prometheus does for OTel attribute names; empty values are left
// out, which Alertmanager treats the same as absent. Values are cleaned (escape.go) and cut to limit.
func sanitizeLabels(in map[string]string, limit int, keepLines bool) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		if v == "" {
			continue
		}
		out[sanitizeName(cleanLabel(k))] = clean(v, limit, keepLines)
	}
	return out
}

func sanitizeName(k string) string {
	ok := k != ""
	for i := 0; i < len(k) && ok; i++ {
		c := k[i]
		ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
	}
	if ok {
		return k
	}
	b := []byte(k)
	for i, c := range b {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			b[i] = '_'
		}
	}
	if len(b) == 0 || (b[0] >= '0' && b[0] <= '9') {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}
