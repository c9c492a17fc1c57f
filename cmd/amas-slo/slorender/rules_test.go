package slorender

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promtool is Debian's (package prometheus); the test fails, never skips, without it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is needed: apt-get install prometheus")
	return p
}

func loadFile(t *testing.T, path string) *Collector {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	c, err := Load(data)
	require.NoError(t, err)
	return c
}

// TestRulesPassPromtool renders the rules of a collector configuration, checks them with
// `promtool check rules` and runs the hand-written `promtool test rules` cases against them: each
// alert fires where the processor's math says it must and stays silent where it must not.
func TestRulesPassPromtool(t *testing.T) {
	bin := promtool(t)
	cases := []struct {
		name, config, rules, tests string
		mode                       Mode
	}{
		{"the default configuration's six SLOs", "../../../config/otelcol-amas.yaml", "prometheus_alerts.yaml", "testdata/promtool/default_rules_test.yaml", ModeDirect},
		{"SLOs grouped per agent, with custom rules, thresholds and no-data", "testdata/collector/grouped.yaml", "grouped_rules.yaml", "testdata/promtool/grouped_rules_test.yaml", ModeDirect},
		{"central mode: long windows summed from hourly records across replicas", "testdata/collector/central.yaml", "central_rules.yaml", "testdata/promtool/central_rules_test.yaml", ModeCentral},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rules := filepath.Join(dir, tc.rules)
			require.NoError(t, os.WriteFile(rules, RulesFileMode(loadFile(t, tc.config), tc.config, tc.mode), 0o644))
			tests, err := os.ReadFile(tc.tests)
			require.NoError(t, err)
			testFile := filepath.Join(dir, filepath.Base(tc.tests))
			require.NoError(t, os.WriteFile(testFile, tests, 0o644))

			out, err := exec.Command(bin, "check", "rules", rules).CombinedOutput()
			assert.NoError(t, err, "promtool check rules:\n%s", out)
			assert.Contains(t, string(out), "SUCCESS")

			cmd := exec.Command(bin, "test", "rules", filepath.Base(testFile))
			cmd.Dir = dir
			out, err = cmd.CombinedOutput()
			assert.NoError(t, err, "promtool test rules:\n%s", out)
			assert.Contains(t, string(out), "SUCCESS")
		})
	}
}

// TestRulesFileIsDeterministic: the CI diff check needs the same bytes on every run.
func TestRulesFileIsDeterministic(t *testing.T) {
	c := loadFile(t, "testdata/collector/grouped.yaml")
	first := RulesFile(c, "x")
	for range 5 {
		assert.Equal(t, string(first), string(RulesFile(c, "x")))
	}
}
