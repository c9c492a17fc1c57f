package matcher

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReadsWhatAlertmanagerYmlHolds(t *testing.T) {
	cases := []struct {
		name  string
		entry string
		want  []string // Canonical forms
	}{
		{"An equality matcher with a quoted value is one matcher.", `severity="page"`, []string{`severity="page"`}},
		{"Spaces around the operator are allowed.", `severity = "page"`, []string{`severity="page"`}},
		{"An unquoted value is read as the value.", `severity=page`, []string{`severity="page"`}},
		{"Each of the four operators is read.", `{a="1", b!="2", c=~"3.*", d!~"4|5"}`, []string{`a="1"`, `b!="2"`, `c=~"3.*"`, `d!~"4|5"`}},
		{"A comma-separated list without braces is several matchers.", `severity="page",slo=~"agent_.*"`, []string{`severity="page"`, `slo=~"agent_.*"`}},
		{"An escaped quote stays in the value.", `a="b\"c"`, []string{`a="b\"c"`}},
		{"A dotted label name, which the exporter's own parser accepted, still parses.", `gen_ai.agent.name="x"`, []string{`gen_ai.agent.name="x"`}},
		{"An unquoted value with a space parses with the classic parser, as Alertmanager falls back.", `a=b c`, []string{`a="b c"`}},
		{"A quoted UTF-8 label name parses, as in Alertmanager's UTF-8 mode.", `"team name"="ops"`, []string{`team name="ops"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ms, err := Parse(c.entry)
			require.NoError(t, err)
			got := make([]string, len(ms))
			for i, m := range ms {
				got[i] = Canonical(m)
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestParseRejectsWhatAlertmanagerRejects(t *testing.T) {
	cases := []struct{ name, entry, want string }{
		{"A name without an operator is not a matcher.", `severity`, "bad matcher format"},
		{"A regex that does not compile is refused.", `slo=~"("`, "error parsing regexp"},
		{"An unterminated quote is refused.", `a="b`, ""},
		{"An empty entry would match everything and is refused.", ``, "must hold at least one matcher"},
		{"Empty braces are refused too.", ` { } `, "must hold at least one matcher"},
		{"An operator without a label name is refused.", `=~"x"`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.entry)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestMatchersMatchAsInAlertmanager(t *testing.T) {
	parse := func(s string) []*Matcher {
		ms, err := Parse(s)
		require.NoError(t, err)
		return ms
	}
	lbls := map[string]string{"severity": "critical", "slo": "agent_availability"}
	assert.True(t, All(parse(`{severity="critical", slo=~"agent_.*"}`), lbls))
	assert.False(t, All(parse(`slo=~"agent"`), lbls), "a regex is anchored at both ends")
	assert.True(t, All(parse(`team=""`), lbls), "a missing label matches the empty string")
	assert.True(t, All(parse(`team!~".+"`), lbls), "a missing label matches the empty string")
	assert.False(t, All(parse(`severity!="critical"`), lbls))
	assert.True(t, All(parse(`severity!~"high|warning"`), lbls))
	assert.True(t, All(nil, lbls), "no matchers match everything")
}

func TestClassicOnlyFlagsTheInputsAlertmanagerWarnsAbout(t *testing.T) {
	s, ok := ClassicOnly(`a=~x\.y`)
	assert.True(t, ok)
	assert.Equal(t, `{a=~"x\\.y"}`, s)
	_, ok = ClassicOnly(`a=~"x\\.y"`)
	assert.False(t, ok, "the quoted form parses in both")
	_, ok = ClassicOnly(`severity`)
	assert.False(t, ok, "an input neither parser reads is a Validate error, not a warning")
}
