package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// slackIntegration posts a readable message to a Slack incoming webhook: one attachment per
// alert with its SLO (or operation), severity, budget remaining, burn rates and links; a
// second message when the group resolves.
type slackIntegration struct {
	integrationBase
	httpSender
	cfg *SlackConfig
}

func (s *slackIntegration) kind() string       { return "slack" }
func (s *slackIntegration) sendResolved() bool { return boolOr(s.cfg.SendResolved, true) }

func (s *slackIntegration) start(ctx context.Context, host component.Host, set component.TelemetrySettings) error {
	return s.httpSender.start(ctx, &s.cfg.HTTP, host, set)
}

type slackMessage struct {
	Channel     string            `json:"channel,omitempty"`
	Username    string            `json:"username,omitempty"`
	IconEmoji   string            `json:"icon_emoji,omitempty"`
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Color     string       `json:"color"`
	Title     string       `json:"title"`
	TitleLink string       `json:"title_link,omitempty"`
	Text      string       `json:"text,omitempty"`
	Fields    []slackField `json:"fields"`
	Footer    string       `json:"footer,omitempty"`
	MrkdwnIn  []string     `json:"mrkdwn_in"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// notificationTitle is "[FIRING:2] SLOErrorBudgetBurn agent_availability" style, shared by
// Slack, PagerDuty and email subjects.
func notificationTitle(n *notification) string {
	nf := len(n.firing())
	var b strings.Builder
	if nf > 0 {
		b.WriteString("[FIRING:" + strconv.Itoa(nf) + "]")
	} else {
		b.WriteString("[RESOLVED]")
	}
	keys := make([]string, 0, len(n.GroupLabels))
	for k := range n.GroupLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 && len(n.Alerts) > 0 {
		b.WriteString(" " + cleanLabel(n.Alerts[0].Labels["alertname"]))
	}
	for _, k := range keys {
		b.WriteString(" " + cleanLabel(n.GroupLabels[k]))
	}
	return b.String()
}

// slackPayload builds the message. Every text that carries label values or templated
// annotations goes through slackText (mrkdwn escaping of & < >) after cleaning, so an agent
// named <!channel> is shown, never notifies the channel; only the links we build are markup.
func slackPayload(cfg *SlackConfig, n *notification) slackMessage {
	m := slackMessage{Channel: cfg.Channel, Username: cfg.Username, IconEmoji: cfg.IconEmoji,
		Text: slackText(notificationTitle(n))}
	for _, a := range n.Alerts {
		a.Labels, a.Annotations = cleanLabels(a.Labels), cleanAnnotations(a.Annotations)
		att := slackAttachment{Color: "good", MrkdwnIn: []string{"text", "fields"}}
		if a.Status == "firing" {
			att.Color = severityColor(a.Labels["severity"])
		}
		att.Title = slackText(capitalize(a.Status) + ": " + orDefault(a.Annotations["summary"], a.Labels["alertname"]))
		att.TitleLink = cleanLabel(a.Annotations["dashboard_url"])
		att.Text = slackText(a.Annotations["description"])
		if slo := a.Labels["slo"]; slo != "" {
			att.Fields = append(att.Fields, slackField{Title: "SLO", Value: slackText(slo), Short: true})
		}
		if op := a.Labels["operation"]; op != "" {
			att.Fields = append(att.Fields, slackField{Title: "Operation", Value: slackText(op), Short: true})
		}
		att.Fields = append(att.Fields, slackField{Title: "Severity", Value: slackText(orDefault(a.Labels["severity"], "none")), Short: true})
		if b := budgetRemaining(a.Values); b != "" {
			att.Fields = append(att.Fields, slackField{Title: "Budget remaining", Value: b, Short: true})
		}
		if br := alertBurnRates(a.Values, a.Labels); br != "" {
			att.Fields = append(att.Fields, slackField{Title: "Burn rate", Value: slackText(br), Short: true})
		}
		if rf := regressionFigures(a.Values, a.Labels); rf != "" {
			att.Fields = append(att.Fields, slackField{Title: "Current vs baseline", Value: slackText(rf), Short: false})
		}
		if l := slackLinks(a.Annotations); l != "" {
			att.Fields = append(att.Fields, slackField{Title: "Links", Value: l, Short: false})
		}
		att.Footer = "since " + a.StartsAt.UTC().Format("2006-01-02 15:04:05 MST")
		m.Attachments = append(m.Attachments, att)
	}
	return m
}

func slackLinks(ann map[string]string) string {
	var links []string
	for _, l := range []struct{ key, text string }{
		{"runbook_url", "Runbook"}, {"dashboard_url", "Dashboard"}, {"jaeger_search_url", "Traces"},
	} {
		if u := ann[l.key]; u != "" {
			links = append(links, "<"+slackURL(u)+"|"+l.text+">")
		}
	}
	return strings.Join(links, " · ")
}

func severityColor(sev string) string {
	switch sev {
	case "critical":
		return "danger"
	case "high":
		return "#e8780c"
	default:
		return "warning"
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *slackIntegration) notify(ctx context.Context, n *notification) error {
	body, err := json.Marshal(slackPayload(s.cfg, n))
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	return s.post(ctx, string(s.cfg.WebhookURL), body, nil)
}
