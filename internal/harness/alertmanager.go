package harness

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// Alertmanager is a real Alertmanager (Debian's package) with no cluster port and a route that
// keeps every alert (a null receiver); tests read what arrived through its API v2.
type Alertmanager struct {
	*Process
	URL string
}

// StartAlertmanager starts Alertmanager and waits until it is ready.
func StartAlertmanager(tb testing.TB) *Alertmanager {
	tb.Helper()
	bin := SystemBinary(tb, "prometheus-alertmanager")
	dir := tb.TempDir()
	cfg := `route:
  receiver: keep
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: keep
`
	port := FreePort(tb)
	am := &Alertmanager{URL: "http://" + Addr(port)}
	am.Process = startProcess(tb, "alertmanager", dir, bin,
		"--config.file="+writeFile(tb, dir, "alertmanager.yml", cfg),
		"--storage.path="+dir+"/data",
		"--web.listen-address="+Addr(port),
		"--cluster.listen-address=", // no gossip port: one instance, loopback only
		"--log.level=warn",
	)
	am.stopOnCleanup(tb)
	waitHTTP200(tb, am.Process, am.URL+"/-/ready", 60*time.Second)
	return am
}

// AMAlert is an alert as Alertmanager's GET /api/v2/alerts returns it.
type AMAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State string `json:"state"` // active, suppressed, unprocessed
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager holds. By default its API lists only active ones
// (resolved alerts drop out of the list), which is what tests of firing and resolving need.
func (am *Alertmanager) Alerts() ([]AMAlert, error) {
	code, body, err := HTTPGet(am.URL + "/api/v2/alerts")
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("GET /api/v2/alerts: HTTP %d: %s", code, body)
	}
	var alerts []AMAlert
	if err := json.Unmarshal([]byte(body), &alerts); err != nil {
		return nil, fmt.Errorf("decoding alerts %q: %w", body, err)
	}
	return alerts, nil
}
