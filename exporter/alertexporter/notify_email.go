package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"html/template"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/redact"
)

// emailIntegration sends one multipart (plain text + HTML) mail per notification to the
// on-call and team addresses, with STARTTLS (required by default) and SMTP AUTH.
type emailIntegration struct {
	integrationBase
	cfg    *EmailConfig
	tlsCfg *tls.Config
}

func (m *emailIntegration) kind() string       { return "email" }
func (m *emailIntegration) sendResolved() bool { return boolOr(m.cfg.SendResolved, true) }

func (m *emailIntegration) start(ctx context.Context, _ component.Host, _ component.TelemetrySettings) error {
	tc, err := m.cfg.TLS.LoadTLSConfig(ctx)
	if err != nil {
		return err
	}
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		host, _, _ := net.SplitHostPort(m.cfg.Smarthost)
		tc.ServerName = host
	}
	m.tlsCfg = tc
	return nil
}

func (m *emailIntegration) notify(ctx context.Context, n *notification) error {
	msg, err := m.message(n, m.clock.Now())
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	return m.classify(m.send(ctx, msg))
}

// classify: SMTP 5xx answers are permanent, 4xx and network errors are retried; the password
// never appears.
func (m *emailIntegration) classify(err error) error {
	if err == nil {
		return nil
	}
	permanent := false
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		permanent = true
	}
	if errors.Is(err, errNoStartTLS) || errors.Is(err, errNoAuth) {
		permanent = true
	}
	red := redact.Err(err, string(m.cfg.AuthPassword))
	if permanent {
		return consumererror.NewPermanent(red)
	}
	return red
}

var (
	errNoStartTLS = errors.New("smtp server does not offer STARTTLS and require_tls is true")
	errNoAuth     = errors.New("smtp server offers no supported AUTH mechanism (PLAIN, LOGIN)")
)

func (m *emailIntegration) send(ctx context.Context, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.cfg.Smarthost)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(m.cfg.Smarthost)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello(orDefault(m.cfg.Hello, "localhost")); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(m.tlsCfg.Clone()); err != nil {
			return err
		}
	} else if boolOr(m.cfg.RequireTLS, true) {
		return errNoStartTLS
	}
	if m.cfg.AuthUsername != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return errNoAuth
		}
		var auth smtp.Auth
		switch {
		case strings.Contains(mechs, "PLAIN"):
			auth = plainAuth{identity: m.cfg.AuthIdentity, user: m.cfg.AuthUsername, pass: string(m.cfg.AuthPassword)}
		case strings.Contains(mechs, "LOGIN"):
			auth = loginAuth{user: m.cfg.AuthUsername, pass: string(m.cfg.AuthPassword)}
		default:
			return errNoAuth
		}
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.Mail(m.addr(m.cfg.From)); err != nil {
		return err
	}
	for _, to := range m.cfg.To {
		if err := c.Rcpt(m.addr(to)); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (m *emailIntegration) addr(s string) string {
	if i := strings.LastIndex(s, "<"); i >= 0 {
		return strings.TrimSuffix(s[i+1:], ">")
	}
	return s
}

// plainAuth is smtp.PlainAuth without its refusal on non-localhost plain connections: we
// already refuse to authenticate unless STARTTLS succeeded or require_tls was turned off.
type plainAuth struct{ identity, user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte(a.identity + "\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}

type loginAuth struct{ user, pass string }

func (a loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }

func (a loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(fromServer))) {
	case "username:":
		return []byte(a.user), nil
	case "password:":
		return []byte(a.pass), nil
	}
	return nil, errors.New("unexpected LOGIN challenge")
}

var emailHTML = template.Must(template.New("email").Funcs(template.FuncMap{"title": func(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}}).Parse(`<!DOCTYPE html>
<html><body style="font-family:sans-serif">
<h2>{{ .Title }}</h2>
{{ range .Alerts }}<div style="border-left:4px solid {{ if eq .Status "firing" }}#d62728{{ else }}#2ca02c{{ end }};padding:4px 12px;margin:8px 0">
<h3>{{ title .Status }}: {{ .Summary }}</h3>
{{ with .Description }}<p>{{ . }}</p>{{ end }}
<table>{{ range .Fields }}<tr><th align="left">{{ .Name }}</th><td>{{ .Value }}</td></tr>{{ end }}</table>
{{ with .Links }}<p>{{ range . }}<a href="{{ .URL }}">{{ .Text }}</a> {{ end }}</p>{{ end }}
</div>{{ end }}
</body></html>
`))

type emailAlertView struct {
	Status, Summary, Description string
	Fields                       []struct{ Name, Value string }
	Links                        []struct{ Text, URL string }
}

func emailViews(n *notification) []emailAlertView {
	var out []emailAlertView
	for _, a := range n.Alerts {
		a.Labels, a.Annotations = cleanLabels(a.Labels), cleanAnnotations(a.Annotations)
		v := emailAlertView{Status: a.Status, Summary: cleanLabel(orDefault(a.Annotations["summary"], a.Labels["alertname"])), Description: a.Annotations["description"]}
		add := func(name, value string) {
			if value != "" {
				v.Fields = append(v.Fields, struct{ Name, Value string }{name, cleanLabel(value)})
			}
		}
		add("SLO", a.Labels["slo"])
		add("Operation", a.Labels["operation"])
		add("Severity", a.Labels["severity"])
		add("Budget remaining", budgetRemaining(a.Values))
		add("Burn rate", alertBurnRates(a.Values, a.Labels))
		add("Current vs baseline", regressionFigures(a.Values, a.Labels))
		add("Active since", a.StartsAt.UTC().Format(time.RFC3339))
		if a.Status != "firing" {
			add("Resolved at", a.EndsAt.UTC().Format(time.RFC3339))
		}
		for _, l := range []struct{ key, text string }{{"runbook_url", "Runbook"}, {"dashboard_url", "Dashboard"}, {"jaeger_search_url", "Traces in Jaeger"}} {
			if u := a.Annotations[l.key]; u != "" {
				v.Links = append(v.Links, struct{ Text, URL string }{l.text, u})
			}
		}
		out = append(out, v)
	}
	return out
}

// message builds the RFC 5322 message. Boundary and Message-ID derive from the group and
// sequence number, so the same notification retried is the same message.
func (m *emailIntegration) message(n *notification, now time.Time) ([]byte, error) {
	title := notificationTitle(n)
	views := emailViews(n)
	var text strings.Builder
	text.WriteString(title + "\n")
	for _, v := range views {
		text.WriteString("\n" + strings.ToUpper(v.Status) + ": " + v.Summary + "\n")
		if v.Description != "" {
			text.WriteString(v.Description + "\n")
		}
		for _, f := range v.Fields {
			text.WriteString("  " + f.Name + ": " + f.Value + "\n")
		}
		for _, l := range v.Links {
			text.WriteString("  " + l.Text + ": " + l.URL + "\n")
		}
	}
	var html bytes.Buffer
	if err := emailHTML.Execute(&html, struct {
		Title  string
		Alerts []emailAlertView
	}{title, views}); err != nil {
		return nil, err
	}
	id := dedupKey(n)[:24] + "." + strconv.FormatUint(n.Seq, 10)
	var buf bytes.Buffer
	hdr := func(k, v string) { buf.WriteString(k + ": " + v + "\r\n") }
	hdr("From", m.cfg.From)
	hdr("To", strings.Join(m.cfg.To, ", "))
	hdr("Subject", mimeHeader(title))
	hdr("Date", n.CreatedAt.UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+id+"@otelcol-amas>")
	hdr("MIME-Version", "1.0")
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary("amas-" + id); err != nil {
		return nil, err
	}
	hdr("Content-Type", "multipart/alternative; boundary=\""+mw.Boundary()+"\"")
	buf.WriteString("\r\n")
	for _, part := range []struct{ ctype, body string }{{"text/plain; charset=UTF-8", text.String()}, {"text/html; charset=UTF-8", html.String()}} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", part.ctype)
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	_ = now
	return buf.Bytes(), nil
}
