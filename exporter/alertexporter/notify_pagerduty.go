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
	summary := notificationTitle(n)
	if s := top.Annotations["summary"]; s != "" {
		summary += ": " + s
	}
	if len(summary) > 1024 {
		summary = summary[:1021] + "..."
	}
	details := map[string]any{"firing": len(firing), "group": n.GroupLabels}
	var alerts []map[string]any
	for _, a := range n.Alerts {
		alerts = append(alerts, map[string]any{"status": a.Status, "labels": a.Labels, "annotations": a.Annotations, "values": a.Values})
	}
	details["alerts"] = alerts
	ev.Payload = &pdPayload{
		Summary: summary, Source: orDefault(p.cfg.Source, "otelcol-amas"), Severity: sev,
		Timestamp: top.StartsAt.UTC().Format(time.RFC3339), Component: orDefault(top.Labels["slo"], top.Labels["operation"]),
		Group: top.Labels["alertname"], Class: top.Labels["type"], CustomDetails: details,
	}
	for _, l := range []struct{ key, text string }{{"runbook_url", "Runbook"}, {"dashboard_url", "Dashboard"}, {"jaeger_search_url", "Traces in Jaeger"}} {
		if u := top.Annotations[l.key]; u != "" {
			ev.Links = append(ev.Links, pdLink{Href: u, Text: l.text})
		}
	}
	return ev
}

func (p *pagerdutyIntegration) notify(ctx context.Context, n *notification) error {
	body, err := json.Marshal(p.event(n))
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	return p.post(ctx, orDefault(p.cfg.URL, defaultPagerDutyURL), body, nil, string(p.cfg.RoutingKey))
}
