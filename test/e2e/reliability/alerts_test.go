package reliability

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// alertKeyLabels identify an alert in this test, on /metrics (amas_alerts) and at the webhook
// alike (label names with dots written with underscores, as the Prometheus exporter does).
var alertKeyLabels = []string{"alertname", "slo", "operation", "severity", "long_window", "short_window", "threshold", "gen_ai_agent_name"}

func alertKey(labels map[string]string) string {
	norm := make(map[string]string, len(labels))
	for k, v := range labels {
		norm[strings.ReplaceAll(k, ".", "_")] = v
	}
	parts := make([]string, 0, len(alertKeyLabels))
	for _, k := range alertKeyLabels {
		if v, ok := norm[k]; ok && v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, ",")
}

// seenAlert is what the scrapes of the collector's /metrics showed of one alert.
type seenAlert struct {
	stretchFrom time.Time     // start of the current firing stretch (zero: not firing)
	longest     time.Duration // longest firing stretch: first to last firing scrape, no other state between
	last        string        // state at the last scrape that showed the alert
}

// alertWatch scrapes amas_alerts from the collector's /metrics every second, across the kills
// (a scrape while the collector is down shows nothing and changes nothing).
type alertWatch struct {
	url  string
	mu   sync.Mutex
	seen map[string]*seenAlert
	quit chan struct{}
	done chan struct{}
}

func watchAlerts(t *testing.T, url string) *alertWatch {
	t.Helper()
	w := &alertWatch{url: url, seen: map[string]*seenAlert{}, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-tick.C:
			}
			states, err := scrapeAlerts(w.url)
			if err != nil {
				continue
			}
			now := time.Now()
			w.mu.Lock()
			for k, st := range states {
				a := w.seen[k]
				if a == nil {
					a = &seenAlert{}
					w.seen[k] = a
				}
				a.last = st
				if st != "firing" {
					a.stretchFrom = time.Time{}
					continue
				}
				if a.stretchFrom.IsZero() {
					a.stretchFrom = now
				}
				a.longest = max(a.longest, now.Sub(a.stretchFrom))
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *alertWatch) stop() {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
}

// scrapeAlerts returns each alert's state on /metrics: firing or pending (value 1), resolved.
func scrapeAlerts(url string) (map[string]string, error) {
	fams, err := harness.ScrapeFamilies(url)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	f, ok := fams["amas_alerts"]
	if !ok {
		return out, nil
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		state := labels["alertstate"]
		if state != "resolved" && m.GetGauge().GetValue() != 1 {
			continue
		}
		k := alertKey(labels)
		if out[k] != "firing" { // a firing series wins over the ended series of a previous state
			out[k] = state
		}
	}
	return out, nil
}

// lastStatuses is, per alert, the status of the last notification that carried it.
func lastStatuses(msgs []harness.WebhookMessage) map[string]string {
	out := map[string]string{}
	for _, m := range msgs {
		for _, a := range m.Alerts {
			out[alertKey(a.Labels)] = a.Status
		}
	}
	return out
}

// agrees reports whether the webhook's last word on every alert is the collector's state now:
// firing at the collector ⇔ the last notification carrying it said firing.
func (w *alertWatch) agrees(sink *harness.WebhookSink) (bool, string) {
	states, err := scrapeAlerts(w.url)
	if err != nil {
		return false, err.Error()
	}
	last := lastStatuses(sink.Messages())
	var bad []string
	for k, st := range states {
		if st == "firing" && last[k] != "firing" {
			bad = append(bad, k+" fires, the webhook last heard "+orNothing(last[k]))
		}
	}
	for k, st := range last {
		if st == "firing" && states[k] != "firing" {
			bad = append(bad, k+" is "+orNothing(states[k])+" at the collector, the webhook last heard firing")
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return false, strings.Join(bad, "; ")
	}
	firing := 0
	for _, st := range states {
		if st == "firing" {
			firing++
		}
	}
	return true, fmt.Sprintf("the webhook agrees with the collector on %d alerts (%d firing)", len(last), firing)
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// assertNoneLost checks that every alert the collector showed firing for mustAnnounce reached
// the webhook as firing at least once.
func (w *alertWatch) assertNoneLost(t *testing.T, sink *harness.WebhookSink) {
	t.Helper()
	got := map[string]int{}
	for _, m := range sink.Messages() {
		for _, a := range m.Alerts {
			if a.Status == "firing" {
				got[alertKey(a.Labels)]++
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	long := 0
	for k, a := range w.seen {
		if a.longest >= mustAnnounce {
			long++
			assert.Positive(t, got[k], "%s fired for %v at the collector and never reached the webhook", k, a.longest)
		}
	}
	assert.Positive(t, long, "some alert fired for %v: the failure phase must page", mustAnnounce)
}

// dupReport counts duplicate notifications: one that carries the same alerts in the same states
// as the previous notification of its receiver and group. Within a test shorter than every
// repeat_interval the exporter only notifies when something changed, so such a notification is
// one sent again after a restart (at-least-once).
type dupReport struct {
	perGroup map[string]int
	perAlert map[string]int
	total    int
}

func duplicates(msgs []harness.WebhookMessage) dupReport {
	r := dupReport{perGroup: map[string]int{}, perAlert: map[string]int{}}
	prev := map[string]string{}
	for _, m := range msgs {
		g := m.Receiver + " " + m.GroupKey
		s := signature(m)
		if p, ok := prev[g]; ok && p == s {
			r.perGroup[g]++
			r.total++
			for _, a := range m.Alerts {
				r.perAlert[alertKey(a.Labels)+" "+a.Status]++
			}
		}
		prev[g] = s
	}
	return r
}

func (w *alertWatch) report(sink *harness.WebhookSink, d dupReport) string {
	type counts struct{ firing, resolved int }
	got := map[string]*counts{}
	msgs := sink.Messages()
	for _, m := range msgs {
		for _, a := range m.Alerts {
			k := alertKey(a.Labels)
			if got[k] == nil {
				got[k] = &counts{}
			}
			if a.Status == "firing" {
				got[k].firing++
			} else {
				got[k].resolved++
			}
		}
	}
	last := lastStatuses(msgs)
	w.mu.Lock()
	keys := make([]string, 0, len(w.seen)+len(got))
	for k := range w.seen {
		keys = append(keys, k)
	}
	for k := range got {
		if w.seen[k] == nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "alerts: %d notifications received, %d duplicates (same alerts, same states as the group's previous notification)\n", len(msgs), d.total)
	fmt.Fprintf(&b, "%-95s %-9s %-10s %-6s %-8s %-9s %s\n", "alert", "longest", "collector", "fired", "resolved", "webhook", "duplicates")
	for _, k := range keys {
		a := w.seen[k]
		if a == nil {
			a = &seenAlert{}
		}
		c := got[k]
		if c == nil {
			c = &counts{}
		}
		fmt.Fprintf(&b, "%-95s %-9s %-10s %-6d %-8d %-9s %d/%d\n", k, a.longest.Round(time.Second), orNothing(a.last),
			c.firing, c.resolved, orNothing(last[k]), d.perAlert[k+" firing"], d.perAlert[k+" resolved"])
	}
	w.mu.Unlock()
	for g, n := range d.perGroup {
		fmt.Fprintf(&b, "duplicates of %s: %d\n", g, n)
	}
	return b.String()
}

// signature is a notification's alerts and their states, in a stable order.
func signature(m harness.WebhookMessage) string {
	sig := make([]string, 0, len(m.Alerts))
	for _, a := range m.Alerts {
		sig = append(sig, a.Fingerprint+":"+a.Status)
	}
	sort.Strings(sig)
	return strings.Join(sig, ",")
}
