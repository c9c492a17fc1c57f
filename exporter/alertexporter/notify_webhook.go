package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"encoding/json"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// webhookIntegration posts Alertmanager's webhook JSON (version 4), so tooling written for
// Alertmanager's webhook receiver accepts it unchanged.
type webhookIntegration struct {
	integrationBase
	httpSender
	cfg *WebhookConfig
}

func (w *webhookIntegration) kind() string       { return "webhook" }
func (w *webhookIntegration) sendResolved() bool { return boolOr(w.cfg.SendResolved, true) }

func (w *webhookIntegration) start(ctx context.Context, host component.Host, set component.TelemetrySettings) error {
	w.retryClientErrors = w.cfg.RetryClientErrors
	return w.httpSender.start(ctx, &w.cfg.HTTP, host, set)
}

type webhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
}

type webhookAlert struct {
	Status       string             `json:"status"`
	Labels       map[string]string  `json:"labels"`
	Annotations  map[string]string  `json:"annotations"`
	StartsAt     time.Time          `json:"startsAt"`
	EndsAt       time.Time          `json:"endsAt"`
	GeneratorURL string             `json:"generatorURL"`
	Fingerprint  string             `json:"fingerprint"`
	Values       map[string]float64 `json:"values,omitempty"`
}

func webhookPayload(n *notification, maxAlerts int) webhookMessage {
	m := webhookMessage{Version: "4", GroupKey: clean(n.GroupKey, maxGroupKeyBytes, false), Status: n.status(), Receiver: n.Receiver,
		GroupLabels: nonNil(cleanLabels(n.GroupLabels)), ExternalURL: n.ExternalURL}
	alerts := n.Alerts
	if maxAlerts > 0 && len(alerts) > maxAlerts {
		m.TruncatedAlerts = len(alerts) - maxAlerts
		alerts = alerts[:maxAlerts]
	}
	var labelSets, annSets []map[string]string
	for _, a := range n.Alerts {
		labelSets = append(labelSets, cleanLabels(a.Labels))
		annSets = append(annSets, cleanAnnotations(a.Annotations))
	}
	m.CommonLabels = common(labelSets)
	m.CommonAnnotations = common(annSets)
	for _, a := range alerts {
		m.Alerts = append(m.Alerts, webhookAlert{Status: a.Status, Labels: nonNil(cleanLabels(a.Labels)), Annotations: nonNil(cleanAnnotations(a.Annotations)),
			StartsAt: a.StartsAt.UTC(), EndsAt: a.EndsAt.UTC(), GeneratorURL: a.GeneratorURL, Fingerprint: a.Fingerprint, Values: a.Values})
	}
	return m
}

func (w *webhookIntegration) notify(ctx context.Context, n *notification) error {
	body, err := json.Marshal(webhookPayload(n, w.cfg.MaxAlerts))
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	return w.post(ctx, string(w.cfg.URL), body, nil)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// common returns the pairs every map has, as Alertmanager's commonLabels.
func common(sets []map[string]string) map[string]string {
	out := map[string]string{}
	if len(sets) == 0 {
		return out
	}
	for k, v := range sets[0] {
		all := true
		for _, s := range sets[1:] {
			if s[k] != v {
				all = false
				break
			}
		}
		if all {
			out[k] = v
		}
	}
	return out
}
