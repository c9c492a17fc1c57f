package alertexporter

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"strings"
	"testing"
	"text/template"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component/componenttest"
)

// Fuzz targets for everything that turns telemetry-controlled strings into a notification.
// Each one checks that the output is valid for its medium, not only that nothing panics. Seed
// corpora are committed under testdata/fuzz/<target>; run one with e.g.
//   go test -run='^$' -fuzz=FuzzSlackPayload -fuzztime=30s ./exporter/alertexporter/

// fuzzNotification builds a notification whose labels, annotations and group labels hold the
// fuzzer's strings, with n alerts.
func fuzzNotification(key, value, summary, link string, n uint8) *notification {
	labels := map[string]string{"alertname": value, "severity": "critical", "slo": value, "operation": value, key: value}
	ann := map[string]string{"summary": summary, "description": summary + "\n" + value, "dashboard_url": link, "runbook_url": link, "jaeger_search_url": link}
	nf := &notification{Receiver: "r", Integration: "i", GroupKey: "{}:" + value, Seq: 1, CreatedAt: t0,
		GroupLabels: map[string]string{"alertname": value, key: value}}
	for i := 0; i <= int(n%8); i++ {
		status := "firing"
		if i%2 == 1 {
			status = "resolved"
		}
		nf.Alerts = append(nf.Alerts, notifAlert{Fingerprint: fpString(uint64(i)), Status: status, Labels: labels, Annotations: ann,
			StartsAt: t0, EndsAt: t0, Values: map[string]float64{"amas_slo_error_budget_burn_rate_" + value: 1.5}})
	}
	return nf
}

func addSeeds(f *testing.F) {
	f.Add("operation", injection, "summary <!channel>", "https://grafana.example.com/d/x?a=1|<!here>", uint8(1))
	f.Add("gen_ai.agent.name", strings.Repeat("é", 700), "\x00\x7f\u2028\u202e", "javascript:alert(1)", uint8(7))
	f.Add("", "", "", "", uint8(0))
	f.Add("a\r\nb", "\xff\xfe", "=?UTF-8?q?x?=", "<https://evil|x>", uint8(3))
}

func requireCleanLabels(t *testing.T, what string, m map[string]string) {
	t.Helper()
	for k, v := range m {
		if !isClean(k, false) || !isClean(v, false) || len(v) > maxLabelBytes || len(k) > maxLabelBytes {
			t.Fatalf("%s: unclean label %q=%q", what, k, v)
		}
	}
}

func FuzzTemplateRendering(f *testing.F) {
	for _, tmpl := range defaultAnnotations() {
		f.Add(tmpl, injection, 14.4)
	}
	f.Add(`{{ range $k, $v := .Labels }}{{ $k }}={{ $v }}{{ end }}`, "<!channel>", 0.5)
	f.Add(`{{ alertBurnRates .Values .Labels }} {{ regression .Values .Labels }} {{ value .Values "x" }}`, "1h", -1.0)
	f.Fuzz(func(t *testing.T, text, label string, v float64) {
		tmpl, err := template.New("a").Funcs(templateFuncs).Parse(text)
		if err != nil {
			return // Validate refuses it
		}
		_ = tmpl
		tel, err := newTelemetry(componenttest.NewNopTelemetrySettings())
		if err != nil {
			t.Fatal(err)
		}
		e := &alertExporter{cfg: &Config{JaegerURL: "http://jaeger:16686"}, tel: tel, tmpl: compileAnnotations(map[string]string{"a": text})}
		rec := &alertRec{labels: map[string]string{"alertname": label, "slo": label, "operation": label, "type": label,
			"long_window": label, "short_window": "5m"}, values: map[string]float64{
			"amas_slo_error_budget_burn_rate_" + label: v, "amas_slo_error_budget_burn_rate_5m": v,
			"amas_performance_regression_baseline_" + label: v, "amas_performance_regression_current_" + label: v,
		}, startsAt: t0}
		out := e.renderAnnotations(rec, "firing", t0)
		for k, s := range cleanAnnotations(out) {
			if !isClean(s, true) || len(s) > maxAnnotationBytes {
				t.Fatalf("annotation %s not clean after cleaning: %q", k, s)
			}
		}
	})
}

func FuzzWebhookPayload(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, key, value, summary, link string, n uint8) {
		nf := fuzzNotification(key, value, summary, link, n)
		b, err := json.Marshal(webhookPayload(nf, int(n%4)))
		if err != nil || !json.Valid(b) {
			t.Fatalf("invalid JSON: %v", err)
		}
		var m webhookMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		requireCleanLabels(t, "groupLabels", m.GroupLabels)
		requireCleanLabels(t, "commonLabels", m.CommonLabels)
		for _, a := range m.Alerts {
			requireCleanLabels(t, "labels", a.Labels)
		}
		if len(m.GroupKey) > maxGroupKeyBytes || !isClean(m.GroupKey, false) {
			t.Fatalf("group key %q", m.GroupKey)
		}
	})
}

func FuzzAlertmanagerPayload(f *testing.F) {
	addSeeds(f)
	am := &alertmanagerIntegration{integrationBase: integrationBase{clock: clockwork.NewFakeClockAt(t0), cfg: createDefaultConfig().(*Config)}, cfg: &AlertmanagerConfig{}}
	f.Fuzz(func(t *testing.T, key, value, summary, link string, n uint8) {
		b, err := am.payload(fuzzNotification(key, value, summary, link, n), t0)
		if err != nil || !json.Valid(b) {
			t.Fatalf("invalid JSON: %v", err)
		}
		var posted []amPostableAlert
		if err := json.Unmarshal(b, &posted); err != nil {
			t.Fatal(err)
		}
		for _, a := range posted {
			requireCleanLabels(t, "labels", a.Labels)
			for k := range a.Labels {
				if sanitizeName(k) != k {
					t.Fatalf("label name %q is not valid for Alertmanager", k)
				}
			}
		}
	})
}

func FuzzSlackPayload(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, key, value, summary, link string, n uint8) {
		m := slackPayload(&SlackConfig{Channel: "#oncall"}, fuzzNotification(key, value, summary, link, n))
		b, err := json.Marshal(m)
		if err != nil || !json.Valid(b) {
			t.Fatalf("invalid JSON: %v", err)
		}
		texts := []string{m.Text}
		for _, a := range m.Attachments {
			texts = append(texts, a.Title, a.Text)
			for _, fl := range a.Fields {
				if fl.Title == "Links" {
					// Our own markup: <url|text> with a defused url.
					for _, l := range strings.Split(fl.Value, " · ") {
						inner := strings.TrimSuffix(strings.TrimPrefix(l, "<"), ">")
						if strings.ContainsAny(inner, "<>") || strings.Count(inner, "|") != 1 {
							t.Fatalf("link %q carries markup", l)
						}
					}
					continue
				}
				texts = append(texts, fl.Value)
			}
		}
		for _, s := range texts {
			if strings.ContainsAny(s, "<>") {
				t.Fatalf("unescaped mrkdwn in %q", s)
			}
		}
	})
}

func FuzzPagerDutyEvent(f *testing.F) {
	addSeeds(f)
	p := &pagerdutyIntegration{cfg: &PagerDutyConfig{RoutingKey: "rk"}}
	f.Fuzz(func(t *testing.T, key, value, summary, link string, n uint8) {
		b, err := p.body(fuzzNotification(key, value, summary, link, n))
		if err != nil || !json.Valid(b) {
			t.Fatalf("invalid JSON: %v", err)
		}
		if len(b) >= pdMaxBody {
			t.Fatalf("body of %d bytes", len(b))
		}
		var ev pdEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Payload != nil && (len(ev.Payload.Summary) > pdMaxSummary || !utf8.ValidString(ev.Payload.Summary) || !isClean(ev.Payload.Summary, false)) {
			t.Fatalf("summary %q", ev.Payload.Summary)
		}
	})
}

func FuzzEmailMessage(f *testing.F) {
	addSeeds(f)
	m := &emailIntegration{integrationBase: integrationBase{name: "mail"}, cfg: &EmailConfig{From: "amas <amas@example.com>", To: []string{"oncall@example.com"}}}
	want := map[string]bool{"From": true, "To": true, "Subject": true, "Date": true, "Message-Id": true, "Mime-Version": true, "Content-Type": true}
	f.Fuzz(func(t *testing.T, key, value, summary, link string, n uint8) {
		msg, err := m.message(fuzzNotification(key, value, summary, link, n), t0)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatalf("unparseable message: %v", err)
		}
		if len(parsed.Header) != len(want) {
			t.Fatalf("headers %v", parsed.Header)
		}
		for k := range parsed.Header {
			if !want[k] {
				t.Fatalf("injected header %q", k)
			}
		}
		head := msg[:bytes.Index(msg, []byte("\r\n\r\n"))]
		for _, line := range bytes.Split(head, []byte("\r\n")) {
			if len(line) > 998 || bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("header line of %d bytes: %q", len(line), line)
			}
		}
	})
}
