package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"text/template"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/matcher"
)

// Config is the alert exporter's configuration.
type Config struct {
	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	BackOffConfig configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// ResolveTimeout resolves an alert whose series has not been seen for this long.
	ResolveTimeout time.Duration `mapstructure:"resolve_timeout"`
	// ResendInterval is how often firing alerts are re-sent to Alertmanager receivers, which
	// expire alerts that are not refreshed.
	ResendInterval time.Duration `mapstructure:"resend_interval"`
	// MaxAlerts bounds the alerts tracked at once; new alerts beyond it are dropped and counted.
	MaxAlerts int `mapstructure:"max_alerts"`
	// ValueMetricPrefixes names the sibling metrics whose points are joined to alerts as values.
	ValueMetricPrefixes []string `mapstructure:"value_metric_prefixes"`
	// MaxValuesPerAlert bounds the values joined to one alert.
	MaxValuesPerAlert int `mapstructure:"max_values_per_alert"`
	// Storage is a storage extension (file_storage) where delivery state is checkpointed. When
	// empty, sending_queue.storage is used if set.
	Storage *component.ID `mapstructure:"storage"`
	// CheckpointInterval is how often alert state is checkpointed when only timestamps moved;
	// delivery changes are checkpointed at once.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
	// ExternalURL is where the alerts come from (generatorURL, the webhook's externalURL).
	ExternalURL string `mapstructure:"external_url"`
	// JaegerURL is the Jaeger UI base URL for the search link; no link when empty.
	JaegerURL string `mapstructure:"jaeger_url"`
	// Annotations are text/template strings over .Labels, .Values, .StartsAt, .Status,
	// .JaegerURL and .ExternalURL; an annotation that renders empty is left out.
	Annotations map[string]string `mapstructure:"annotations"`

	Route     RouteConfig      `mapstructure:"route"`
	Receivers []ReceiverConfig `mapstructure:"receivers"`

	_ struct{}
}

// RouteConfig is one node of the routing tree. Zero durations and an empty group_by inherit
// from the parent.
type RouteConfig struct {
	Receiver       string        `mapstructure:"receiver"`
	Matchers       []string      `mapstructure:"matchers"`
	GroupBy        []string      `mapstructure:"group_by"`
	GroupWait      time.Duration `mapstructure:"group_wait"`
	GroupInterval  time.Duration `mapstructure:"group_interval"`
	RepeatInterval time.Duration `mapstructure:"repeat_interval"`
	Continue       bool          `mapstructure:"continue"`
	Routes         []RouteConfig `mapstructure:"-"` // key "routes", decoded by RouteConfig.Unmarshal
}

// ReceiverConfig names a set of integrations; each set one is notified.
type ReceiverConfig struct {
	Name         string              `mapstructure:"name"`
	Alertmanager *AlertmanagerConfig `mapstructure:"alertmanager"`
	Slack        *SlackConfig        `mapstructure:"slack"`
	PagerDuty    *PagerDutyConfig    `mapstructure:"pagerduty"`
	Email        *EmailConfig        `mapstructure:"email"`
	Webhook      *WebhookConfig      `mapstructure:"webhook"`
	Log          *LogConfig          `mapstructure:"log"`
}

// LogConfig writes each notification as one structured line to the collector's log: firing
// at WARN, resolved at INFO. It needs no other service and never fails.
type LogConfig struct {
	SendResolved *bool `mapstructure:"send_resolved"`
}

// AlertmanagerConfig posts to Alertmanager's API v2.
type AlertmanagerConfig struct {
	// URL is Alertmanager's base URL; /api/v2/alerts is appended.
	URL  configopaque.String     `mapstructure:"url"`
	HTTP confighttp.ClientConfig `mapstructure:"http"`
	// RetryClientErrors retries 4xx answers other than 408 and 429 (always retried) instead
	// of dropping the notification as permanently refused.
	RetryClientErrors bool `mapstructure:"retry_client_errors"`
}

// SlackConfig posts to a Slack incoming webhook.
type SlackConfig struct {
	WebhookURL   configopaque.String     `mapstructure:"webhook_url"`
	Channel      string                  `mapstructure:"channel"`
	Username     string                  `mapstructure:"username"`
	IconEmoji    string                  `mapstructure:"icon_emoji"`
	SendResolved *bool                   `mapstructure:"send_resolved"`
	HTTP         confighttp.ClientConfig `mapstructure:"http"`
}

// PagerDutyConfig sends PagerDuty Events API v2 events.
type PagerDutyConfig struct {
	RoutingKey configopaque.String `mapstructure:"routing_key"`
	// URL defaults to PagerDuty's events endpoint.
	URL          string                  `mapstructure:"url"`
	Source       string                  `mapstructure:"source"`
	Client       string                  `mapstructure:"client"`
	ClientURL    string                  `mapstructure:"client_url"`
	SeverityMap  map[string]string       `mapstructure:"severity_map"`
	SendResolved *bool                   `mapstructure:"send_resolved"`
	HTTP         confighttp.ClientConfig `mapstructure:"http"`
}

// EmailConfig sends mail over SMTP.
type EmailConfig struct {
	// Smarthost is host:port of the SMTP server.
	Smarthost    string              `mapstructure:"smarthost"`
	From         string              `mapstructure:"from"`
	To           []string            `mapstructure:"to"`
	Hello        string              `mapstructure:"hello"`
	AuthUsername string              `mapstructure:"auth_username"`
	AuthPassword configopaque.String `mapstructure:"auth_password"`
	AuthIdentity string              `mapstructure:"auth_identity"`
	// RequireTLS refuses to send unless STARTTLS succeeds (default true).
	RequireTLS   *bool                  `mapstructure:"require_tls"`
	TLS          configtls.ClientConfig `mapstructure:"tls"`
	SendResolved *bool                  `mapstructure:"send_resolved"`
}

// WebhookConfig posts Alertmanager's webhook JSON.
type WebhookConfig struct {
	URL configopaque.String `mapstructure:"url"`
	// MaxAlerts truncates the alerts of one message (0 = all), as Alertmanager's max_alerts.
	MaxAlerts    int                     `mapstructure:"max_alerts"`
	SendResolved *bool                   `mapstructure:"send_resolved"`
	HTTP         confighttp.ClientConfig `mapstructure:"http"`
	// RetryClientErrors retries 4xx answers other than 408 and 429 (always retried) instead
	// of dropping the notification as permanently refused.
	RetryClientErrors bool `mapstructure:"retry_client_errors"`
}

const defaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// Validate checks every field and joins the errors.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cfg.QueueConfig.HasValue() {
		// The queue, retry, timeout, TLS and HTTP client sections validate themselves
		// (the collector walks nested Validate methods).
		if cfg.QueueConfig.Get().Batch.HasValue() {
			add("sending_queue.batch: not supported: each notification is delivered on its own")
		}
	}
	if len(cfg.Receivers) == 0 {
		add("receivers: must configure at least one receiver")
	}
	if cfg.ResolveTimeout <= 0 {
		add("resolve_timeout: must be positive, got %s", cfg.ResolveTimeout)
	}
	if cfg.ResendInterval <= 0 {
		add("resend_interval: must be positive, got %s", cfg.ResendInterval)
	}
	if cfg.MaxAlerts <= 0 {
		add("max_alerts: must be positive, got %d", cfg.MaxAlerts)
	}
	if cfg.MaxValuesPerAlert < 0 {
		add("max_values_per_alert: must not be negative, got %d", cfg.MaxValuesPerAlert)
	}
	for i, p := range cfg.ValueMetricPrefixes {
		if p == "" {
			add("value_metric_prefixes[%d]: must not be empty", i)
		}
	}
	if cfg.CheckpointInterval <= 0 {
		add("checkpoint_interval: must be positive, got %s", cfg.CheckpointInterval)
	}
	if cfg.ExternalURL != "" {
		if err := checkURL(cfg.ExternalURL); err != nil {
			add("external_url: %v", err)
		}
	}
	if cfg.JaegerURL != "" {
		if err := checkURL(cfg.JaegerURL); err != nil {
			add("jaeger_url: %v", err)
		}
	}
	for name, text := range cfg.Annotations {
		if _, err := template.New(name).Funcs(templateFuncs).Parse(text); err != nil {
			add("annotations.%s: invalid template: %v", name, err)
		}
	}

	names := map[string]int{}
	for i := range cfg.Receivers {
		r := &cfg.Receivers[i]
		path := fmt.Sprintf("receivers[%d]", i)
		if r.Name == "" {
			add("%s.name: must not be empty", path)
		} else if j, dup := names[r.Name]; dup {
			add("%s.name: %q already used by receivers[%d]", path, r.Name, j)
		} else {
			names[r.Name] = i
		}
		errs = append(errs, r.validate(path)...)
	}
	if cfg.Route.Receiver == "" {
		add("route.receiver: the root route must name a receiver")
	}
	if cfg.Route.GroupWait <= 0 {
		add("route.group_wait: must be positive on the root route, got %s", cfg.Route.GroupWait)
	}
	if cfg.Route.GroupInterval <= 0 {
		add("route.group_interval: must be positive on the root route, got %s", cfg.Route.GroupInterval)
	}
	if cfg.Route.RepeatInterval <= 0 {
		add("route.repeat_interval: must be positive on the root route, got %s", cfg.Route.RepeatInterval)
	}
	errs = append(errs, cfg.Route.validate("route", names)...)
	return errors.Join(errs...)
}

func (r *RouteConfig) validate(path string, receivers map[string]int) []error {
	var errs []error
	if r.Receiver != "" {
		if _, ok := receivers[r.Receiver]; !ok {
			errs = append(errs, fmt.Errorf("%s.receiver: no receiver named %q", path, r.Receiver))
		}
	}
	for i, m := range r.Matchers {
		if _, err := matcher.Parse(m); err != nil {
			errs = append(errs, fmt.Errorf("%s.matchers[%d]: %v, got %q", path, i, err, m))
		}
	}
	for i, l := range r.GroupBy {
		if l == "" {
			errs = append(errs, fmt.Errorf("%s.group_by[%d]: must not be empty", path, i))
		}
	}
	if r.GroupWait < 0 {
		errs = append(errs, fmt.Errorf("%s.group_wait: must not be negative, got %s", path, r.GroupWait))
	}
	if r.GroupInterval < 0 {
		errs = append(errs, fmt.Errorf("%s.group_interval: must not be negative, got %s", path, r.GroupInterval))
	}
	if r.RepeatInterval < 0 {
		errs = append(errs, fmt.Errorf("%s.repeat_interval: must not be negative, got %s", path, r.RepeatInterval))
	}
	for i := range r.Routes {
		errs = append(errs, r.Routes[i].validate(fmt.Sprintf("%s.routes[%d]", path, i), receivers)...)
	}
	return errs
}

func (r *ReceiverConfig) validate(path string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	n := 0
	if c := r.Alertmanager; c != nil {
		n++
		if err := checkURL(string(c.URL)); err != nil {
			add("%s.alertmanager.url: %v", path, err)
		}
		errs = append(errs, checkHTTP(path+".alertmanager.http", &c.HTTP)...)
	}
	if c := r.Slack; c != nil {
		n++
		if err := checkURL(string(c.WebhookURL)); err != nil {
			add("%s.slack.webhook_url: %v", path, err)
		}
		errs = append(errs, checkHTTP(path+".slack.http", &c.HTTP)...)
	}
	if c := r.PagerDuty; c != nil {
		n++
		if c.RoutingKey == "" {
			add("%s.pagerduty.routing_key: must not be empty", path)
		}
		if c.URL != "" {
			if err := checkURL(c.URL); err != nil {
				add("%s.pagerduty.url: %v", path, err)
			}
		}
		for k, v := range c.SeverityMap {
			switch v {
			case "critical", "error", "warning", "info":
			default:
				add("%s.pagerduty.severity_map.%s: must be one of critical, error, warning, info, got %q", path, k, v)
			}
		}
		errs = append(errs, checkHTTP(path+".pagerduty.http", &c.HTTP)...)
	}
	if c := r.Email; c != nil {
		n++
		if _, port, err := net.SplitHostPort(c.Smarthost); err != nil || port == "" {
			add("%s.email.smarthost: must be host:port, got %q", path, c.Smarthost)
		}
		if _, err := mail.ParseAddress(c.From); err != nil {
			add("%s.email.from: must be an address, got %q", path, c.From)
		}
		if len(c.To) == 0 {
			add("%s.email.to: must list at least one address", path)
		}
		for i, to := range c.To {
			if _, err := mail.ParseAddress(to); err != nil {
				add("%s.email.to[%d]: must be an address, got %q", path, i, to)
			}
		}
		if c.AuthPassword != "" && c.AuthUsername == "" {
			add("%s.email.auth_username: must be set when auth_password is", path)
		}
	}
	if c := r.Webhook; c != nil {
		n++
		if err := checkURL(string(c.URL)); err != nil {
			add("%s.webhook.url: %v", path, err)
		}
		if c.MaxAlerts < 0 {
			add("%s.webhook.max_alerts: must not be negative, got %d", path, c.MaxAlerts)
		}
		errs = append(errs, checkHTTP(path+".webhook.http", &c.HTTP)...)
	}
	if r.Log != nil {
		n++
	}
	if n == 0 {
		add("%s: must configure at least one of alertmanager, slack, pagerduty, email, webhook, log", path)
	}
	return errs
}

// checkURL validates an absolute http(s) URL without ever quoting it: it may be a secret.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("must be set")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("must be an absolute http or https URL (value not shown)")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must be an absolute http or https URL (value not shown)")
	}
	if u.Host == "" {
		return errors.New("must have a host (value not shown)")
	}
	return nil
}

func checkHTTP(path string, c *confighttp.ClientConfig) []error {
	var errs []error
	if c.Endpoint != "" {
		errs = append(errs, fmt.Errorf("%s.endpoint: not used; set the receiver's url, which is kept secret", path))
	}
	return errs
}

// groupByAll is Alertmanager's special group_by value: group by every label.
const groupByAll = "..."

func hasGroupByAll(groupBy []string) bool {
	for _, l := range groupBy {
		if strings.TrimSpace(l) == groupByAll {
			return true
		}
	}
	return false
}
