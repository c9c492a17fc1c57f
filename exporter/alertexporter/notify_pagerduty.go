package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// pagerdutyIntegration sends Events API v2 events: trigger while any alert of the group fires,
// resolve when none does, with a dedup_key derived from the group so PagerDuty keeps one
// incident per group across re-sends and collector restarts.
type pagerdutyIntegration struct {
	integrationBase
	httpSender
	cfg *PagerDutyConfig
}

func (p *pagerdutyIntegration) kind() string       { return "pagerduty" }
func (p *pagerdutyIntegration) sendResolved() bool { return boolOr(p.cfg.SendResolved, true) }

func (p *pagerdutyIntegration) start(ctx context.Context, host component.Host, set component.TelemetrySettings) error {
	return p.httpSender.start(ctx, &p.cfg.HTTP, host, set)
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

var defaultSeverityMap = map[string]string{"critical": "critical", "high": "error", "warning": "warning", "info": "info"}

// severityRank orders our severities; the most urgent firing alert sets the event's severity.
var severityRank = map[string]int{"critical": 4, "high": 3, "warning": 2, "info": 1}

// dedupKey is stable for a group: sha256 of receiver and group key, as Alertmanager does.
func dedupKey(n *notification) string {
	sum := sha256.Sum256([]byte(n.Receiver + "\x00" + n.GroupKey))
	return hex.EncodeToString(sum[:])
}

func (p *pagerdutyIntegration) event(n *notification) pdEvent {
	ev := pdEvent{RoutingKey: string(p.cfg.RoutingKey), DedupKey: dedupKey(n), Client: orDefault(p.cfg.Client, "otelcol-amas"), ClientURL: p.cfg.ClientURL}
	firing := n.firing()
	if len(firing) == 0 {
		ev.EventAction = "resolve"
		return ev
	}
	ev.EventAction = "trigger"
	top := firing[0]
	for _, a := range firing[1:] {
		if severityRank[a.Labels["severity"]] > severityRank[top.Labels["severity"]] {
			top = a
		}
	}
	sev := p.cfg.SeverityMap[top.Labels["severity"]]
	if sev == "" {
		sev = defaultSeverityMap[top.Labels["severity"]]
	}
	if sev == "" {
		sev = "error"
	}
	topLabels, topAnn := cleanLabels(top.Labels), cleanAnnotations(top.Annotations)
	summary := notificationTitle(n)
	if s := topAnn["summary"]; s != "" {
		summary += ": " + s
	}
	summary = clean(summary, pdMaxSummary, false)
	details := map[string]any{"firing": len(firing), "group": cleanLabels(n.GroupLabels)}
	var alerts []map[string]any
	for _, a := range n.Alerts {
		alerts = append(alerts, map[string]any{"status": a.Status, "labels": cleanLabels(a.Labels), "annotations": cleanAnnotations(a.Annotations), "values": a.Values})
	}
	details["alerts"] = alerts
	ev.Payload = &pdPayload{
		Summary: summary, Source: orDefault(p.cfg.Source, "otelcol-amas"), Severity: sev,
		Timestamp: top.StartsAt.UTC().Format(time.RFC3339), Component: orDefault(topLabels["slo"], topLabels["operation"]),
		Group: topLabels["alertname"], Class: topLabels["type"], CustomDetails: details,
	}
	for _, l := range []struct{ key, text string }{{"runbook_url", "Runbook"}, {"dashboard_url", "Dashboard"}, {"jaeger_search_url", "Traces in Jaeger"}} {
		if u := topAnn[l.key]; u != "" {
			ev.Links = append(ev.Links, pdLink{Href: u, Text: l.text})
		}
	}
	return ev
}

// PagerDuty Events API v2 limits: the summary is cut at 1024 characters and an event over
// 512 KB is refused with 400, which would lose the page.
const (
	pdMaxSummary = 1024
	pdMaxBody    = 512 * 1000 // under 512 KB whichever K is meant
)

// body marshals the event under pdMaxBody: when it is too large, custom_details keeps the
// first alerts that fit and says how many it left out (truncated_alerts) and why (truncated);
// if even the group labels do not fit, only the note remains.
func (p *pagerdutyIntegration) body(n *notification) ([]byte, error) {
	ev := p.event(n)
	b, err := json.Marshal(ev)
	if err != nil || len(b) < pdMaxBody || ev.Payload == nil {
		return b, err
	}
	details := ev.Payload.CustomDetails
	alerts, _ := details["alerts"].([]map[string]any)
	note := "custom_details truncated to stay under the PagerDuty Events API v2 limit of 512 KB"
	details["truncated"] = note
	// Binary search the longest prefix of alerts that fits.
	lo, hi := 0, len(alerts)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		details["alerts"] = alerts[:mid]
		details["truncated_alerts"] = len(alerts) - mid
		if b, err = json.Marshal(ev); err != nil {
			return nil, err
		}
		if len(b) < pdMaxBody {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	details["alerts"] = alerts[:lo]
	details["truncated_alerts"] = len(alerts) - lo
	if b, err = json.Marshal(ev); err != nil || len(b) < pdMaxBody {
		return b, err
	}
	ev.Payload.CustomDetails = map[string]any{"firing": details["firing"], "truncated": note, "truncated_alerts": len(alerts)}
	ev.Links = nil
	return json.Marshal(ev)
}

func (p *pagerdutyIntegration) notify(ctx context.Context, n *notification) error {
	body, err := p.body(n)
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	return p.post(ctx, orDefault(p.cfg.URL, defaultPagerDutyURL), body, nil, string(p.cfg.RoutingKey))
}
