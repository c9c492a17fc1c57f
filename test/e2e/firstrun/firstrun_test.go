// Package firstrun is the end-to-end test of a user's first run: the built otelcol-amas with the
// repository's default configuration and no other service, and the demo traffic generator
// (cmd/amas-demo, built from this checkout) sending to it. After a short healthy phase the demo's
// `support` agent fails every run; the test requires the page to appear in the collector's log
// and in the status API within two minutes of the incident, and prints how long it took.
package firstrun

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// alertBound is the product's requirement for a total agent failure: an alert within 2 minutes.
const alertBound = 2 * time.Minute

// demo is a running amas-demo whose output lines are timestamped as they arrive.
type demo struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []string
	incd time.Time // when the demo announced the incident
	done chan struct{}
}

func buildDemo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "amas-demo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/amas-demo")
	build.Dir = harness.RepoRoot(t)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/amas-demo:\n%s", out)
	return bin
}

func startDemo(t *testing.T, bin string, args ...string) *demo {
	t.Helper()
	d := &demo{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	stdout, err := d.cmd.StdoutPipe()
	require.NoError(t, err)
	d.cmd.Stderr = d.cmd.Stdout
	require.NoError(t, d.cmd.Start())
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.out = append(d.out, line)
			if d.incd.IsZero() && strings.Contains(line, " incident: ") {
				d.incd = time.Now()
			}
			d.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(15 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		err := d.cmd.Wait()
		assert.NoError(t, err, "amas-demo exits cleanly on SIGTERM:\n%s", d.output())
	})
	return d
}

func (d *demo) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.out, "\n")
}

func (d *demo) incidentAt() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.incd
}

// loggedPage returns the collector's first firing notification line for slo, if any: the
// console encoder's tab-separated `warn` level, then the message and its JSON fields.
func loggedPage(output, slo string) (string, bool) {
	for _, line := range strings.Split(output, "\n") {
		if strings.Contains(line, "\twarn\t") && strings.Contains(line, "Alert notification") &&
			strings.Contains(line, `"status": "firing"`) && strings.Contains(line, `"slo": "`+slo+`"`) {
			return line, true
		}
	}
	return "", false
}

type violations struct {
	Violations []struct {
		SLO      string `json:"slo"`
		Alert    string `json:"alert"`
		State    string `json:"state"`
		Severity string `json:"severity"`
	} `json:"violations"`
}

func TestTheDemoPagesInTheLogAndTheStatusAPIWithinTwoMinutesOfItsIncident(t *testing.T) {
	bin := buildDemo(t)
	ports := harness.NewDefaultConfigPorts(t)
	col := harness.StartDefaultCollector(t, ports) // the default configuration, no overlay
	statusURL := "http://" + harness.Addr(ports.SLOStatus) + "/observability/slo/violations?slo=agent_availability&state=firing"

	const healthy = 15 * time.Second
	d := startDemo(t, bin, "-endpoint", harness.Addr(ports.OTLPGRPC), "-healthy", healthy.String(),
		"-duration", "5m", "-report-every", "5s")

	// The healthy phase: traffic arrives, the connector counts it, nothing pages.
	harness.Eventually(t, healthy+10*time.Second, time.Second, func() (bool, string) {
		fams, err := harness.ScrapeFamilies(harness.MetricsURL(ports.Prometheus))
		if err != nil {
			return false, err.Error()
		}
		v, ok := harness.SeriesValue(fams, "amas_agent_requests_total", map[string]string{"agent": "support", "operation": "invoke_agent"})
		return ok && v > 0, "no amas_agent_requests_total{agent=\"support\"} yet\n" + d.output()
	})
	_, early := loggedPage(col.Output(), "agent_availability")
	require.False(t, early, "no page while every agent succeeds:\n%s", col.Output())

	harness.Eventually(t, healthy+15*time.Second, 500*time.Millisecond, func() (bool, string) {
		return !d.incidentAt().IsZero(), "the demo has not announced its incident:\n" + d.output()
	})
	incident := d.incidentAt()

	var inLog, inAPI time.Duration
	var line string
	harness.Eventually(t, alertBound, 500*time.Millisecond, func() (bool, string) {
		if inLog == 0 {
			if l, ok := loggedPage(col.Output(), "agent_availability"); ok {
				inLog, line = time.Since(incident), l
			}
		}
		if inAPI == 0 {
			code, body, err := harness.HTTPGet(statusURL)
			if err == nil && code == 200 {
				var v violations
				if json.Unmarshal([]byte(body), &v) == nil {
					for _, a := range v.Violations {
						if a.SLO == "agent_availability" && a.State == "firing" && a.Severity == "critical" {
							inAPI = time.Since(incident)
						}
					}
				}
			}
		}
		return inLog > 0 && inAPI > 0, "log: " + inLog.String() + ", status API: " + inAPI.String() + "\ncollector:\n" + tailLines(col.Output(), 30) + "\ndemo:\n" + d.output()
	})
	t.Logf("time to alert after the incident started: collector log %s, status API %s (bound %s)", inLog.Round(100*time.Millisecond), inAPI.Round(100*time.Millisecond), alertBound)
	t.Logf("the logged page: %s", line)

	assert.Contains(t, line, `"severity": "critical"`, "the hard-down page is critical")
	assert.Contains(t, line, `"receiver": "pages"`)
	assert.NotContains(t, col.Output(), "Exporting failed", "the default configuration delivers somewhere; nothing is retried")

	// The status page's data: the SLO the incident breaks is red, with its alerts listed.
	code, body, err := harness.HTTPGet("http://" + harness.Addr(ports.SLOStatus) + "/observability/slo/status?slo=agent_availability")
	require.NoError(t, err)
	require.Equal(t, 200, code, body)
	var st struct {
		SLOs []struct {
			Name         string `json:"name"`
			Compliant    bool   `json:"compliant"`
			FiringAlerts int    `json:"firing_alerts"`
		} `json:"slos"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.Len(t, st.SLOs, 1, body)
	assert.False(t, st.SLOs[0].Compliant, "agent_availability is out of compliance")
	assert.GreaterOrEqual(t, st.SLOs[0].FiringAlerts, 1)
}

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
