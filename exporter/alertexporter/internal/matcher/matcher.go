// Package matcher parses and evaluates Alertmanager-style label matchers:
// name="value", name!="value", name=~"regex", name!~"regex" (regexes are anchored, as in
// Alertmanager).
package matcher // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/matcher"

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// Op is a matcher operator.
type Op int

const (
	Equal Op = iota
	NotEqual
	Regexp
	NotRegexp
)

// Matcher is one parsed label matcher.
type Matcher struct {
	Name  string
	Op    Op
	Value string
	re    *regexp.Regexp
}

var nameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.]*$`)

// Parse parses `name OP "value"`; the value may also be unquoted.
func Parse(s string) (Matcher, error) {
	s = strings.TrimSpace(s)
	idx := strings.IndexAny(s, "=!")
	if idx <= 0 {
		return Matcher{}, errors.New("want name followed by =, !=, =~ or !~")
	}
	m := Matcher{Name: strings.TrimSpace(s[:idx])}
	rest := s[idx:]
	switch {
	case strings.HasPrefix(rest, "=~"):
		m.Op, rest = Regexp, rest[2:]
	case strings.HasPrefix(rest, "!~"):
		m.Op, rest = NotRegexp, rest[2:]
	case strings.HasPrefix(rest, "!="):
		m.Op, rest = NotEqual, rest[2:]
	case strings.HasPrefix(rest, "="):
		m.Op, rest = Equal, rest[1:]
	default:
		return Matcher{}, errors.New("want an operator =, !=, =~ or !~ after the label name")
	}
	if !nameRe.MatchString(m.Name) {
		return Matcher{}, errors.New("invalid label name " + strconv.Quote(m.Name))
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, `"`) {
		v, err := strconv.Unquote(rest)
		if err != nil {
			return Matcher{}, errors.New("value " + rest + " is not a valid quoted string")
		}
		rest = v
	}
	m.Value = rest
	if m.Op == Regexp || m.Op == NotRegexp {
		re, err := regexp.Compile("^(?:" + rest + ")$")
		if err != nil {
			return Matcher{}, errors.New("invalid regex " + strconv.Quote(rest) + ": " + err.Error())
		}
		m.re = re
	}
	return m, nil
}

var opStrings = [...]string{Equal: "=", NotEqual: "!=", Regexp: "=~", NotRegexp: "!~"}

// String is the canonical form of m: name, operator, quoted value.
func (m Matcher) String() string {
	return m.Name + opStrings[m.Op] + strconv.Quote(m.Value)
}

// Matches reports whether labels satisfy m. A missing label is the empty string, as in
// Alertmanager.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case Equal:
		return v == m.Value
	case NotEqual:
		return v != m.Value
	case Regexp:
		return m.re.MatchString(v)
	case NotRegexp:
		return !m.re.MatchString(v)
	}
	return false
}

// All reports whether every matcher matches.
func All(ms []Matcher, labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}
