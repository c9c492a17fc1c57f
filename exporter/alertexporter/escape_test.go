package alertexporter

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const injection = "x\r\nBcc: evil@example.com"

func TestCleanLabel(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	cases := []struct {
		name, in, want string
	}{
		{"A clean value is returned as it is.", "agent_availability", "agent_availability"},
		{"CR and LF become U+FFFD, so no header or line can be injected.", injection, "x\uFFFD\uFFFDBcc: evil@example.com"},
		{"NUL, TAB, DEL and C1 controls are replaced.", "a\x00b\tc\x7fd\u0085e", "a\uFFFDb\uFFFDc\uFFFDd\uFFFDe"},
		{"Line separators and bidirectional overrides are replaced.", "a\u2028b\u202ec", "a\uFFFDb\uFFFDc"},
		{"Invalid UTF-8 is replaced.", "a\xffb", "a\uFFFDb"},
		{"A value of exactly the limit is kept whole.", strings.Repeat("a", maxLabelBytes), strings.Repeat("a", maxLabelBytes)},
		{"A longer value is cut on a rune boundary with the marker.", long, strings.Repeat("é", (maxLabelBytes-len(truncMarker))/2) + truncMarker},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cleanLabel(c.in)
			assert.Equal(t, c.want, got)
			assert.LessOrEqual(t, len(got), maxLabelBytes)
			assert.True(t, utf8.ValidString(got))
		})
	}
	assert.Equal(t, "line 1\nline 2\tx\uFFFD", cleanText("line 1\nline 2\tx\r", 100), "annotations keep their lines")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = cleanLabel("agent_availability") }))
}

// hostileNotification carries what telemetry can put in labels and annotations: CR/LF and a
// Bcc header, Slack mentions and links, a value over the length cap.
func hostileNotification() *notification {
	n := goldenNotification("r", "x")
	n.GroupLabels = map[string]string{"alertname": "SLOErrorBudgetBurn", "operation": injection}
	a := &n.Alerts[0]
	a.Labels["operation"] = injection
	a.Labels["gen_ai.agent.name"] = "<!channel> <https://evil.example.com|click> & " + strings.Repeat("A", 5000)
	a.Annotations["summary"] = "Burn on " + injection + " <!here>"
	a.Annotations["description"] = "Agent <!channel> on " + injection
	a.Annotations["dashboard_url"] = "https://grafana.example.com/d/x?a=1|<!channel>"
	return n
}

func TestTheEmailHeadersCannotBeInjected(t *testing.T) {
	m := &emailIntegration{integrationBase: integrationBase{name: "mail"}, cfg: &EmailConfig{From: "amas <amas@example.com>", To: []string{"oncall@example.com"}}}
	msg, err := m.message(hostileNotification(), t0)
	require.NoError(t, err)
	parsed, err := mail.ReadMessage(bytes.NewReader(msg))
	require.NoError(t, err)
	assert.Empty(t, parsed.Header.Get("Bcc"), "no Bcc header")
	assert.ElementsMatch(t, []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type"}, headerNames(parsed.Header))
	subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	require.NoError(t, err)
	assert.Contains(t, subject, "x\uFFFD\uFFFDBcc: evil@example.com", "the value is shown, defused")
	assert.NotContains(t, subject, "\r")
	assert.NotContains(t, subject, "\n")
	_, _ = io.Copy(io.Discard, parsed.Body)
	for _, line := range strings.Split(string(msg[:bytes.Index(msg, []byte("\r\n\r\n"))]), "\r\n") {
		assert.LessOrEqual(t, len(line), 998, "RFC 5322 line length")
	}
}

func headerNames(h mail.Header) []string {
	var out []string
	for k := range h {
		out = append(out, k)
	}
	return out
}

func TestAnASCIISubjectStaysReadableAndANonASCIIOneIsEncoded(t *testing.T) {
	assert.Equal(t, "[FIRING:1] SLOErrorBudgetBurn", mimeHeader("[FIRING:1] SLOErrorBudgetBurn"))
	enc := mimeHeader("[FIRING:1] agent café")
	assert.True(t, strings.HasPrefix(enc, "=?UTF-8?q?"), enc)
	dec, err := new(mime.WordDecoder).DecodeHeader(enc)
	require.NoError(t, err)
	assert.Equal(t, "[FIRING:1] agent café", dec)
	long := mimeHeader(strings.Repeat("ü", 1000))
	dec, err = new(mime.WordDecoder).DecodeHeader(strings.ReplaceAll(long, "\r\n ", " "))
	require.NoError(t, err)
	assert.Equal(t, maxSubjectRunes, utf8.RuneCountInString(dec), "cut to maxSubjectRunes")
	for _, line := range strings.Split(long, "\r\n") {
		assert.LessOrEqual(t, len(line), 78, "folded into encoded words of at most 75 characters")
	}
}

func TestSlackShowsMentionsAndLinksFromLabelsInsteadOfActingOnThem(t *testing.T) {
	m := slackPayload(&SlackConfig{}, hostileNotification())
	b, err := json.Marshal(m)
	require.NoError(t, err)
	texts := []string{m.Text}
	for _, a := range m.Attachments {
		texts = append(texts, a.Title, a.Text)
		for _, f := range a.Fields {
			if f.Title != "Links" {
				texts = append(texts, f.Value)
			}
		}
	}
	for _, s := range texts {
		assert.NotContains(t, s, "<", s)
		assert.NotContains(t, s, ">", s)
	}
	all := strings.Join(texts, "\n")
	assert.Contains(t, all, "&lt;!channel&gt;")
	assert.Contains(t, all, "&lt;!here&gt;")
	assert.NotContains(t, m.Text, "\n", "group label values carry no line breaks")
	assert.True(t, json.Valid(b))
	for _, f := range m.Attachments[0].Fields {
		if f.Title == "Links" {
			assert.Contains(t, f.Value, "<https://grafana.example.com/d/x?a=1%7C&lt;!channel&gt;|Dashboard>", "our link stays a link, its target defused")
		}
	}
}

func TestWebhookAndAlertmanagerGetNoControlCharactersAndCappedValues(t *testing.T) {
	n := hostileNotification()
	b, err := json.Marshal(webhookPayload(n, 0))
	require.NoError(t, err)
	var msg webhookMessage
	require.NoError(t, json.Unmarshal(b, &msg))
	checkLabels := func(t *testing.T, labels map[string]string) {
		for k, v := range labels {
			assert.True(t, isClean(k, false) && isClean(v, false), "%q=%q", k, v)
			assert.LessOrEqual(t, len(v), maxLabelBytes)
		}
	}
	checkLabels(t, msg.GroupLabels)
	checkLabels(t, msg.CommonLabels)
	for _, a := range msg.Alerts {
		checkLabels(t, a.Labels)
	}
	assert.Equal(t, "x\uFFFD\uFFFDBcc: evil@example.com", msg.Alerts[0].Labels["operation"])

	am := &alertmanagerIntegration{integrationBase: integrationBase{clock: clockwork.NewFakeClockAt(t0), cfg: createDefaultConfig().(*Config)}, cfg: &AlertmanagerConfig{}}
	b, err = am.payload(n, t0)
	require.NoError(t, err)
	var posted []amPostableAlert
	require.NoError(t, json.Unmarshal(b, &posted))
	for _, a := range posted {
		checkLabels(t, a.Labels)
	}
	assert.True(t, strings.HasSuffix(posted[0].Labels["gen_ai_agent_name"], truncMarker))
}

func TestPagerDutyStaysUnderItsLimits(t *testing.T) {
	p := &pagerdutyIntegration{cfg: &PagerDutyConfig{RoutingKey: "rk"}}
	n := hostileNotification()
	n.Alerts[0].Annotations["summary"] = strings.Repeat("s", 5000)
	for i := 0; i < 2000; i++ { // 2000 alerts of ~1.5 KB each: ~3 MB of details
		a := n.Alerts[0]
		a.Fingerprint = fpString(uint64(i))
		n.Alerts = append(n.Alerts, a)
	}
	b, err := p.body(n)
	require.NoError(t, err)
	assert.Less(t, len(b), pdMaxBody)
	var ev pdEvent
	require.NoError(t, json.Unmarshal(b, &ev))
	assert.LessOrEqual(t, len(ev.Payload.Summary), pdMaxSummary)
	assert.True(t, utf8.ValidString(ev.Payload.Summary))
	assert.Contains(t, ev.Payload.CustomDetails["truncated"], "512 KB", "the payload says it was truncated")
	left := ev.Payload.CustomDetails["truncated_alerts"].(float64)
	kept := len(ev.Payload.CustomDetails["alerts"].([]any))
	assert.Equal(t, len(n.Alerts), int(left)+kept)
	assert.Positive(t, kept, "as many alerts as fit are kept")

	small, err := p.body(goldenNotification("pd", "pagerduty"))
	require.NoError(t, err)
	assert.NotContains(t, string(small), "truncated", "a normal event is not touched")
}

func TestAlertLabelsAreCleanedWhenTheyArrive(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	e := startExporter(t, testConfig(r.srv.URL+"/hook"), clk, nil)
	p := burn("agent_availability", t0, "firing")
	p.labels["operation"] = injection
	p.labels["agent\nname"] = strings.Repeat("a", 2*maxLabelBytes)
	consume(t, e, batch(clk.Now(), []point{p}))
	e.mu.Lock()
	defer e.mu.Unlock()
	require.Len(t, e.alerts, 1)
	for _, rec := range e.alerts {
		assert.Equal(t, "x\uFFFD\uFFFDBcc: evil@example.com", rec.labels["operation"])
		assert.Len(t, rec.labels["agent\uFFFDname"], maxLabelBytes)
		for _, g := range rec.groups {
			assert.True(t, isClean(g.key, false), "the group key carries cleaned values: %q", g.key)
		}
	}
}
