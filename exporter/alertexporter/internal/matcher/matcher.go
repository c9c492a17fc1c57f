// Package matcher reads route matchers with Alertmanager's own parser, so a matcher pasted from
// alertmanager.yml means here what it means there: one entry of a route's `matchers` holds one
// matcher (`severity="page"`, `slo!="x"`, `slo=~"agent_.*"`, `op!~"chat|embed"`) or several,
// comma-separated, optionally in braces (`{severity="page", slo=~"agent_.*"}`). Regexes are
// anchored, and a missing label matches as the empty string, as in Alertmanager.
//
// The parser is Alertmanager's default ("fallback") mode: the UTF-8 matcher parser first, and
// the classic parser for inputs only it accepts (unquoted values with spaces or backslashes).
// Alertmanager logs a warning for those; ClassicOnly lets the exporter do the same.
package matcher // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/matcher"

import (
	"errors"
	"strconv"
	"strings"

	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/promslog"
)

// Matcher is one parsed label matcher (Alertmanager's type).
type Matcher = labels.Matcher

// parseMatchers logs nothing: Validate has no logger, and the exporter warns once at start
// through its own logger (ClassicOnly).
var parseMatchers = compat.FallbackMatchersParser(promslog.NewNopLogger())

// Parse parses one entry of a route's matchers. An entry that holds no matcher is an error:
// it would match everything, which is what leaving it out already says.
func Parse(s string) ([]*Matcher, error) {
	if strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "{}")) == "" {
		return nil, errors.New("must hold at least one matcher")
	}
	ms, err := parseMatchers(s, "alert exporter route")
	if err != nil {
		return nil, err
	}
	return ms, nil
}

// ClassicOnly reports whether s parses only with Alertmanager's classic parser, the inputs
// Alertmanager accepts with a warning and a suggested rewrite (returned).
func ClassicOnly(s string) (suggestion string, ok bool) {
	if _, err := parse.Matchers(s); err == nil {
		return "", false
	}
	ms, err := labels.ParseMatchers(s)
	if err != nil {
		return "", false
	}
	return labels.Matchers(ms).String(), true
}

// Canonical is the form a route's id is built from: name, operator, Go-quoted value. It is the
// form the exporter used before it read matchers with Alertmanager's parser, kept so that group
// keys (and PagerDuty dedup keys) in checkpoints survive the upgrade.
func Canonical(m *Matcher) string {
	return m.Name + m.Type.String() + strconv.Quote(m.Value)
}

// All reports whether every matcher matches labels.
func All(ms []*Matcher, lbls map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(lbls[m.Name]) {
			return false
		}
	}
	return true
}
