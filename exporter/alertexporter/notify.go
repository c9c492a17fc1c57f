package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/redact"
)

// integration delivers notifications to one kind of receiver.
type integration interface {
	receiver() string
	kind() string
	sendResolved() bool
	// resends reports whether firing alerts are re-sent every resend_interval (Alertmanager
	// expires alerts that are not refreshed) rather than every repeat_interval.
	resends() bool
	start(ctx context.Context, host component.Host, set component.TelemetrySettings) error
	notify(ctx context.Context, n *notification) error
	shutdown()
}

func newIntegrations(rc *ReceiverConfig, e *alertExporter) []integration {
	var out []integration
	base := integrationBase{name: rc.Name, clock: e.clock, cfg: e.cfg}
	if c := rc.Alertmanager; c != nil {
		out = append(out, &alertmanagerIntegration{integrationBase: base, cfg: c})
	}
	if c := rc.Slack; c != nil {
		out = append(out, &slackIntegration{integrationBase: base, cfg: c})
	}
	if c := rc.PagerDuty; c != nil {
		out = append(out, &pagerdutyIntegration{integrationBase: base, cfg: c})
	}
	if c := rc.Email; c != nil {
		out = append(out, &emailIntegration{integrationBase: base, cfg: c})
	}
	if c := rc.Webhook; c != nil {
		out = append(out, &webhookIntegration{integrationBase: base, cfg: c})
	}
	if c := rc.Log; c != nil {
		out = append(out, &logIntegration{integrationBase: base, cfg: c})
	}
	return out
}

type integrationBase struct {
	name  string
	clock clockwork.Clock
	cfg   *Config
}

func (b *integrationBase) receiver() string { return b.name }
func (b *integrationBase) resends() bool    { return false }
func (b *integrationBase) shutdown()        {}

// httpSender posts JSON through a confighttp client and turns the answer into an error the
// exporterhelper retry sender understands: 429 is throttled (honouring Retry-After), 408 and
// 5xx and network errors are retried, any other 4xx is permanent (the receiver said the
// request itself is wrong: PagerDuty's 400 for an invalid event, Slack's 4xx for a bad
// payload or a revoked webhook) unless retryClientErrors is set (webhook and Alertmanager:
// retry_client_errors, for a receiver behind a proxy that answers 4xx while it restarts).
// The URL is a secret: errors carry its redacted form only.
type httpSender struct {
	client            *http.Client
	retryClientErrors bool
}

func (h *httpSender) start(ctx context.Context, cc *confighttp.ClientConfig, host component.Host, set component.TelemetrySettings) error {
	c, err := cc.ToClient(ctx, host.GetExtensions(), set)
	if err != nil {
		return err
	}
	h.client = c
	return nil
}

// maxErrorBody bounds how much of a receiver's error answer goes into the error.
const maxErrorBody = 256

func (h *httpSender) post(ctx context.Context, rawURL string, body []byte, headers map[string]string, secrets ...string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return consumererror.NewPermanent(errors.New("building request to " + redact.URL(rawURL) + " failed"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "otelcol-amas-alert")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if h.client == nil {
		return errors.New("receiver not started")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return redact.Err(err, append(secrets, rawURL)...)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	msg := redact.String("POST "+redact.URL(rawURL)+": HTTP "+strconv.Itoa(resp.StatusCode)+": "+string(bytes.TrimSpace(snippet)), append(secrets, rawURL)...)
	rerr := errors.New(msg)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return exporterhelper.NewThrottleRetry(rerr, retryAfter(resp.Header.Get("Retry-After")))
	case resp.StatusCode == http.StatusRequestTimeout:
		return rerr
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && !h.retryClientErrors:
		return consumererror.NewPermanent(rerr)
	default:
		return rerr
	}
}

// maxRetryAfter caps a receiver's Retry-After: one answer must not hold a page back for hours.
const maxRetryAfter = 5 * time.Minute

func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil && s > 0 {
		if s >= int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}
