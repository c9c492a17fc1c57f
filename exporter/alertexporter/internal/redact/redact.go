// Package redact keeps secrets (webhook URLs, routing keys, passwords) out of logs and errors.
package redact // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/redact"

import (
	"net/url"
	"strings"
)

// URL returns the scheme and host of raw with the path, query and user info replaced by
// "/REDACTED": a Slack webhook's path is its secret, a generic webhook may carry a token in its
// query.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "REDACTED"
	}
	return u.Scheme + "://" + u.Host + "/REDACTED"
}

// String replaces every occurrence of each non-empty secret in s (and of its URL-escaped and
// path-only forms) with a redacted form.
func String(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		rep := "REDACTED"
		if strings.Contains(sec, "://") {
			rep = URL(sec)
			if u, err := url.Parse(sec); err == nil && u.Path != "" && len(u.Path) > 1 {
				s = strings.ReplaceAll(s, sec, rep)
				s = strings.ReplaceAll(s, u.Path, "/REDACTED")
				if u.RawQuery != "" {
					s = strings.ReplaceAll(s, u.RawQuery, "REDACTED")
				}
				continue
			}
		}
		s = strings.ReplaceAll(s, sec, rep)
		if esc := url.QueryEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, rep)
		}
	}
	return s
}

// Error is an error whose text has been redacted. It deliberately does not unwrap to the
// original, whose text (a *url.Error, say) holds the secret: classify errors before redacting.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Err returns err with its message redacted, or nil.
func Err(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	return &Error{msg: String(err.Error(), secrets...)}
}
