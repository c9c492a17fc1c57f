package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"sort"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logIntegration writes each notification as one structured line through the component's
// logger: firing at WARN, resolved at INFO. It needs no other service, so the default
// configuration's alerts are visible in the collector's own output on a first run; it never
// fails, so nothing is retried. Label values and annotations are cleaned (control
// characters replaced, length capped) like every other receiver's, so an agent name cannot
// forge a second log line.
type logIntegration struct {
	integrationBase
	cfg    *LogConfig
	logger *zap.Logger
}

func (l *logIntegration) kind() string       { return "log" }
func (l *logIntegration) sendResolved() bool { return boolOr(l.cfg.SendResolved, true) }

func (l *logIntegration) start(_ context.Context, _ component.Host, set component.TelemetrySettings) error {
	l.logger = set.Logger
	if l.logger == nil {
		l.logger = zap.NewNop()
	}
	return nil
}

// logMessage is the line's message; a log search for it finds every notification.
const logMessage = "Alert notification"

func (l *logIntegration) notify(_ context.Context, n *notification) error {
	level := zapcore.WarnLevel
	if len(n.firing()) == 0 {
		level = zapcore.InfoLevel
	}
	if ce := l.logger.Check(level, logMessage); ce != nil {
		ce.Write(
			zap.String("title", cleanText(notificationTitle(n), maxAnnotationBytes)),
			zap.String("status", n.status()),
			zap.String("receiver", cleanLabel(n.Receiver)),
			zap.Object("group_labels", labelObject(cleanLabels(n.GroupLabels))),
			zap.Array("alerts", logAlerts(n.Alerts)),
		)
	}
	return nil
}

// labelObject encodes a label map with its keys sorted, so the same alert logs the same line.
type labelObject map[string]string

func (m labelObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		enc.AddString(k, m[k])
	}
	return nil
}

type logAlerts []notifAlert

func (as logAlerts) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for i := range as {
		if err := enc.AppendObject(logAlert(as[i])); err != nil {
			return err
		}
	}
	return nil
}

type logAlert notifAlert

func (a logAlert) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("status", a.Status)
	enc.AddString("fingerprint", a.Fingerprint)
	enc.AddTime("starts_at", a.StartsAt.UTC())
	if !a.EndsAt.IsZero() && a.Status == "resolved" {
		enc.AddTime("ends_at", a.EndsAt.UTC())
	}
	if err := enc.AddObject("labels", labelObject(cleanLabels(a.Labels))); err != nil {
		return err
	}
	if len(a.Annotations) > 0 {
		if err := enc.AddObject("annotations", labelObject(cleanAnnotations(a.Annotations))); err != nil {
			return err
		}
	}
	if len(a.Values) > 0 {
		keys := make([]string, 0, len(a.Values))
		for k := range a.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return enc.AddObject("values", zapcore.ObjectMarshalerFunc(func(o zapcore.ObjectEncoder) error {
			for _, k := range keys {
				o.AddFloat64(cleanLabel(k), a.Values[k])
			}
			return nil
		}))
	}
	return nil
}
