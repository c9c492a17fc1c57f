// Package reliability holds the crash test of the built binary: the default configuration with
// file_storage, steady traffic from the OpenTelemetry Go SDK, SIGKILLs at seeded random points.
package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

const (
	runsPerSecond = 40
	errorEvery    = 1000 // one failed agent run in 1000 outside the failure phase
	// An alert the collector showed firing for this long (first to last firing scrape, no other
	// state between) must reach the webhook: group_wait is 2 s in routeOverlay.
	mustAnnounce = 30 * time.Second
)

// routeOverlay shortens the alert route's group_wait and group_interval (10 s and 1 m in the
// default configuration) so that resolves reach the webhook within the test and a kill often
// falls between a flush and its checkpoint. The notification log, checkpoint and persistent
// queue under test are the default configuration's.
const routeOverlay = `
exporters:
  alert:
    route:
      group_wait: 2s
      group_interval: 5s
`

// span is one exported span as the client saw it: when the export started and returned.
type span struct {
	start, end time.Time
	root, bad  bool
}

// ackLog is what the client knows was accepted, per epoch (one epoch per collector process).
// uncertain counts spans whose export failed while the collector was up (a timeout on a loaded
// machine): the collector may have counted them, so they widen what the comparison accepts.
type ackLog struct {
	mu        sync.Mutex
	spans     map[int][]span
	uncertain map[int]int // roots
	uncSpans  map[int]int // every span
}

func (a *ackLog) count(epoch int, pred func(span) bool) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, s := range a.spans[epoch] {
		if pred(s) {
			n++
		}
	}
	return n
}

func (a *ackLog) unc(epoch int) (roots, spans int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.uncertain[epoch], a.uncSpans[epoch]
}

// countingExporter records each exported span once the export returned.
type countingExporter struct {
	sdktrace.SpanExporter
	log *ackLog
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	start := time.Now()
	err := c.SpanExporter.ExportSpans(ctx, spans)
	end := time.Now()
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	for _, s := range spans {
		epoch := -1
		root := false
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "kill.epoch":
				epoch = int(kv.Value.AsInt64())
			case "gen_ai.operation.name":
				root = kv.Value.AsString() == "invoke_agent"
			}
		}
		if epoch < 0 {
			continue
		}
		if err != nil {
			c.log.uncSpans[epoch]++
			if root {
				c.log.uncertain[epoch]++
			}
			continue
		}
		c.log.spans[epoch] = append(c.log.spans[epoch], span{start: start, end: end, root: root, bad: s.Status().Code == codes.Error})
	}
	return err
}

// generator sends agent runs (invoke_agent with a chat and an execute_tool child, each span
// exported on its own) at a steady rate until paused.
type generator struct {
	tracer trace.Tracer
	// failing makes every run fail: the failure phase before the first kill, which pages and
	// spends the budget, so that alerts are firing across the kills.
	failing atomic.Bool
	mu      sync.Mutex // held while a run is being sent; pause takes it
	epoch   int
	paused  bool
	n       int
	stop    chan struct{}
	done    chan struct{}
}

func (g *generator) loop() {
	defer close(g.done)
	tick := time.NewTicker(time.Second / runsPerSecond)
	defer tick.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
		}
		g.mu.Lock()
		if !g.paused {
			g.run()
		}
		g.mu.Unlock()
	}
}

func (g *generator) run() {
	ctx := context.Background()
	agent := "kill-agent-" + strconv.Itoa(g.epoch)
	epoch := attribute.Int("kill.epoch", g.epoch)
	g.n++
	fail := g.n%errorEvery == 0 || g.failing.Load()
	rctx, root := g.tracer.Start(ctx, "invoke_agent "+agent, trace.WithAttributes(epoch,
		attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", agent)))
	_, chat := g.tracer.Start(rctx, "chat gpt-4o-mini", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(epoch,
		attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", "gpt-4o-mini"),
		attribute.Int("gen_ai.usage.input_tokens", 100), attribute.Int("gen_ai.usage.output_tokens", 20)))
	chat.End()
	_, tool := g.tracer.Start(rctx, "execute_tool search", trace.WithAttributes(epoch,
		attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "search"),
		attribute.String("gen_ai.agent.name", agent)))
	tool.End()
	if fail {
		root.SetStatus(codes.Error, "")
		root.SetAttributes(attribute.String("error.type", "tool_error"))
	}
	root.End()
}

// pause returns once no run is being sent: everything sent so far was accepted or failed.
func (g *generator) pause() {
	g.mu.Lock()
	g.paused = true
	g.mu.Unlock()
}

func (g *generator) resume(epoch int) {
	g.mu.Lock()
	g.epoch, g.paused = epoch, false
	g.mu.Unlock()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// state is what one processor's checkpoint holds, as its state time says: every span observed
// before stateAt is in it, none observed after. saved is false when the process saved nothing.
type state struct {
	saved   bool
	stateAt time.Time
}

// kill is one SIGKILL and what it lost.
type kill struct {
	after       time.Duration
	paused      time.Time
	slo, reg    state
	sloAge      time.Duration // pause − the SLO checkpoint's state time (0 when nothing was saved)
	regAge      time.Duration
	roots, bad  int // accepted in this epoch
	spans       int
	published   float64 // the epoch's requests counter on /metrics before the kill
	events      uint64  // agent_availability's events after the restart
	badEvents   uint64
	winSpans    uint64 // the regression windows' spans after the restart
	sloLost     int
	badLost     int
	regLost     int
	sloLo       int // the SLO's loss must be in [sloLo, sloHi] (or 0: a save after the pause)
	sloHi       int
	regLo       int
	regHi       int
	laterSave   string // which component saved after the pause (its state then holds everything)
	counter     float64
	counterLost int
}

// TestSIGKILLLosesExactlyWhatTheLastCheckpointDidNotHold kills the collector (default
// configuration, file_storage, the webhook overlay) with SIGKILL at seeded random points under
// steady traffic that includes a failure phase (the first kill while the first notification
// is in flight at the webhook), restarts it each time, and compares what
// survived with what the client was told was accepted and with the checkpoint state times the
// status API reported before the kill. It prints the loss per kill, the alerts and the
// duplicate notifications. AMAS_KILLS (default 3; `make kill-test` runs 10), AMAS_KILL_SEED and
// AMAS_KILL_MAX_GAP (the longest traffic before a kill, default 18s; `make kill-test`: 80s, so
// that some kills come after the regression processor's first 1-minute checkpoint) choose the kills.
func TestSIGKILLLosesExactlyWhatTheLastCheckpointDidNotHold(t *testing.T) {
	kills := envInt("AMAS_KILLS", 3)
	seed := uint64(envInt("AMAS_KILL_SEED", 14))
	maxGap := envDuration("AMAS_KILL_MAX_GAP", 18*time.Second)
	const minGap = 4 * time.Second
	rng := rand.New(rand.NewPCG(seed, 6))

	ports := harness.NewDefaultConfigPorts(t)
	sink := harness.StartWebhookSink(t)
	overlays := []string{ports.SendAlertsTo(t, sink), harness.WriteConfig(t, "route.yaml", routeOverlay)}

	log := &ackLog{spans: map[int][]span{}, uncertain: map[int]int{}, uncSpans: map[int]int{}}
	grpcExp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(harness.Addr(ports.OTLPGRPC)),
		otlptracegrpc.WithInsecure(), otlptracegrpc.WithTimeout(2*time.Second),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(&countingExporter{SpanExporter: grpcExp, log: log}),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("kill-test"))))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	// The first kill comes while the first notification is in flight: the webhook got it and
	// has not answered. The exporter must deliver it again after the restart (at-least-once).
	arrived, release := sink.Hold()
	t.Cleanup(release)

	c := harness.StartDefaultCollector(t, ports, overlays...)
	alerts := watchAlerts(t, harness.MetricsURL(ports.Prometheus))
	gen := &generator{tracer: tp.Tracer("kill-test"), stop: make(chan struct{}), done: make(chan struct{})}
	gen.failing.Store(true)
	go gen.loop()
	t.Cleanup(func() { close(gen.stop); <-gen.done })
	// The failure phase lasts until the collector shows the hard-down page firing.
	failStart := time.Now()
	harness.Eventually(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		states, err := scrapeAlerts(harness.MetricsURL(ports.Prometheus))
		if err != nil {
			return false, err.Error()
		}
		for k, st := range states {
			if st == "firing" && strings.HasPrefix(k, "alertname=SLOErrorBudgetBurn,") && strings.Contains(k, "long_window=1m,") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no hard-down page yet: %v", states)
	})
	gen.failing.Store(false)
	failEnd := time.Now()
	failFor := failEnd.Sub(failStart)
	var inFlight harness.WebhookMessage
	var inFlightRestart time.Time

	metrics := harness.MetricsURL(ports.Prometheus)
	requests := func(epoch int) float64 {
		fams, err := harness.ScrapeFamilies(metrics)
		if err != nil {
			return -1
		}
		var sum float64
		for _, st := range []string{"ok", "error"} {
			v, _ := harness.SeriesValue(fams, "amas_agent_requests_total", map[string]string{
				"agent": "kill-agent-" + strconv.Itoa(epoch), "operation": "invoke_agent", "status": st})
			sum += v
		}
		return sum
	}

	var ks []kill
	var kept, keptBad, keptSpans uint64 // what the restored state held after the previous restart
	for k := range kills {
		var d time.Duration
		if k == 0 {
			harness.Eventually(t, 60*time.Second, 50*time.Millisecond, func() (bool, string) {
				select {
				case <-arrived:
					return true, ""
				default:
					return false, "no notification has reached the webhook"
				}
			})
			msgs := sink.Messages()
			inFlight = msgs[len(msgs)-1]
			d = time.Since(failEnd)
		} else {
			d = minGap + time.Duration(rng.Int64N(int64(maxGap-minGap)))
			time.Sleep(d) // traffic runs for d: the kill point, not synchronisation
		}
		gen.pause()
		kl := kill{after: d, paused: time.Now(), published: requests(k)}
		kl.slo, kl.reg = quiescentStates(t, ports.SLOStatus)
		c.Kill(t)
		kl.roots = log.count(k, func(s span) bool { return s.root })
		kl.bad = log.count(k, func(s span) bool { return s.root && s.bad })
		kl.spans = log.count(k, func(span) bool { return true })

		restart := time.Now()
		if k == 0 {
			release()
			inFlightRestart = restart
		}
		c = harness.StartDefaultCollector(t, ports, overlays...)
		st := statusAfterTick(t, ports.SLOStatus, restart)
		kl.events, kl.badEvents, kl.winSpans = st.events, st.badEvents, st.windowSpans

		uncRoots, uncSpans := log.unc(k)
		// The SLO: this process added its roots; the kill took those its last checkpoint did not
		// hold. A root whose export ended before the state time is in it; one whose export
		// started after it is not; one in flight at that instant may be either.
		kl.sloLost = int(kept) + kl.roots - int(kl.events)
		kl.badLost = int(keptBad) + kl.bad - int(kl.badEvents)
		kl.regLost = int(keptSpans) + kl.spans - int(kl.winSpans)
		kl.sloLo, kl.sloHi = lossBounds(log, k, kl.slo, true)
		kl.regLo, kl.regHi = lossBounds(log, k, kl.reg, false)
		kl.sloHi += uncRoots
		kl.regHi += uncSpans
		if kl.slo.saved {
			kl.sloAge = kl.paused.Sub(kl.slo.stateAt)
		}
		if kl.reg.saved {
			kl.regAge = kl.paused.Sub(kl.reg.stateAt)
		}
		// A tick that began after the quiescent read saves a state newer than the pause: it holds
		// everything, and the loss is zero.
		var later []string
		if kl.sloLost <= 0 && kl.sloLo > 0 {
			later = append(later, "slo")
		}
		if kl.regLost <= 0 && kl.regLo > 0 {
			later = append(later, "regression")
		}
		kl.laterSave = strings.Join(later, "+")
		kept, keptBad, keptSpans = kl.events, kl.badEvents, kl.winSpans
		ks = append(ks, kl)
		gen.resume(k + 1)
	}

	// After the last restart: traffic goes on while the webhook catches up with the collector.
	time.Sleep(5 * time.Second) // the last epoch's traffic before the end, not synchronisation
	var agreement string
	harness.Eventually(t, 120*time.Second, time.Second, func() (bool, string) {
		ok, why := alerts.agrees(sink)
		agreement = why
		return ok, why
	})
	gen.pause()
	end := time.Now()
	harness.Eventually(t, 40*time.Second, 500*time.Millisecond, func() (bool, string) {
		got, want := requests(kills), log.count(kills, func(s span) bool { return s.root })
		return int(got) == want, fmt.Sprintf("last epoch: %v of %d runs counted", got, want)
	})
	final := statusAfterTick(t, ports.SLOStatus, end)
	alerts.stop()

	var totalRoots, totalUnc int
	for e := 0; e <= kills; e++ {
		totalRoots += log.count(e, func(s span) bool { return s.root })
		r, _ := log.unc(e)
		totalUnc += r
	}

	var b strings.Builder
	fmt.Fprintf(&b, "SIGKILL test: seed %d, %d kills at %v–%v of traffic, %d runs/s, every run failing for the first %v (until the hard-down page fired), %d runs accepted (%d exports of a run failed; the collector may have counted them)\n",
		seed, kills, minGap, maxGap, runsPerSecond, failFor.Round(100*time.Millisecond), totalRoots, totalUnc)
	fmt.Fprintf(&b, "%-4s %-8s %-5s | %-30s | %-39s | %s\n", "", "", "", "requests counter (connector)", "agent_availability budget (slo)", "regression windows")
	fmt.Fprintf(&b, "%-4s %-8s %-5s | %-9s %-9s %-10s | %-9s %-6s %-10s %-11s | %-9s %-6s %s\n",
		"kill", "after", "runs", "published", "kept", "lost", "state age", "lost", "(bounds)", "bad lost", "state age", "lost", "(bounds)")
	sumLost, sumRegLost, sumCounter, sumBad := 0, 0, 0, 0
	var maxSLOAge, maxRegAge time.Duration
	var anySLO, anyReg bool
	for k := range ks {
		kl := &ks[k]
		kl.counter = requests(k)
		kl.counterLost = kl.roots - int(kl.counter)
		sumLost += kl.sloLost
		sumRegLost += kl.regLost
		sumCounter += kl.counterLost
		sumBad += kl.badLost
		maxSLOAge, maxRegAge = max(maxSLOAge, kl.sloAge), max(maxRegAge, kl.regAge)
		anySLO, anyReg = anySLO || kl.slo.saved, anyReg || kl.reg.saved
		note := ""
		if k == 0 {
			note = " (a notification in flight; after: since the failure phase)"
		}
		if kl.laterSave != "" {
			note += " (a " + kl.laterSave + " save after the pause)"
		}
		fmt.Fprintf(&b, "%-4d %-8s %-5d | %-9.0f %-9.0f %-10d | %-9s %-6d %-10s %-11d | %-9s %-6d %s%s\n", k+1,
			kl.after.Round(100*time.Millisecond), kl.roots, kl.published, kl.counter, kl.counterLost,
			age(kl.slo, kl.sloAge), kl.sloLost, fmt.Sprintf("[%d,%d]", kl.sloLo, kl.sloHi), kl.badLost,
			age(kl.reg, kl.regAge), kl.regLost, fmt.Sprintf("[%d,%d]", kl.regLo, kl.regHi), note)
	}
	fmt.Fprintf(&b, "in all: the SLO lost %d of %d runs (%d of them failed runs), the requests counter %d, the regression windows %d of %d spans; after the last restart agent_availability counts %d events\n",
		sumLost, totalRoots, sumBad, sumCounter, sumRegLost, 3*totalRoots, final.events)
	exact := 0
	for _, kl := range ks {
		if kl.within() {
			exact++
		}
	}
	fmt.Fprintf(&b, "%d of %d kills lost exactly what the last checkpoint before the kill left out; oldest checkpoint state at a kill: slo %v, regression %v (\"none\": the process was killed before its first save and lost everything since its start)\n",
		exact, len(ks), age(state{saved: anySLO}, maxSLOAge), age(state{saved: anyReg}, maxRegAge))
	dups := duplicates(sink.Messages())
	again := deliveredAgain(sink.Messages(), inFlight, inFlightRestart)
	fmt.Fprintf(&b, "the notification in flight at kill 1 (%s, %d alerts) was delivered again after the restart: %v\n",
		inFlight.Receiver, len(inFlight.Alerts), again)
	b.WriteString(alerts.report(sink, dups))
	t.Log("\n" + b.String())

	for k, kl := range ks {
		// Counters: what /metrics showed before the kill was checkpointed first, so it survives;
		// nothing is counted twice.
		assert.GreaterOrEqual(t, kl.counter, kl.published, "kill %d: the counter lost a value it had published", k+1)
		uncRoots, _ := log.unc(k)
		assert.LessOrEqual(t, int(kl.counter), kl.roots+uncRoots, "kill %d: the counter counts runs twice", k+1)
		// Budgets and baselines: exactly what the last checkpoint did not hold, or nothing when a
		// save came after the pause.
		if !strings.Contains(kl.laterSave, "slo") {
			assert.True(t, kl.sloLost >= kl.sloLo && kl.sloLost <= kl.sloHi,
				"kill %d: agent_availability lost %d runs; its last checkpoint (state %v before the pause) left out [%d,%d]", k+1, kl.sloLost, kl.sloAge, kl.sloLo, kl.sloHi)
		}
		if !strings.Contains(kl.laterSave, "regression") {
			assert.True(t, kl.regLost >= kl.regLo && kl.regLost <= kl.regHi,
				"kill %d: the regression windows lost %d spans; the last checkpoint left out [%d,%d]", k+1, kl.regLost, kl.regLo, kl.regHi)
		}
		// The cadence: a checkpoint every tick (10 s slo, 1 min regression). Two intervals is
		// the bound that a late tick on a loaded machine still meets and a slower cadence does not.
		if kl.slo.saved {
			assert.Less(t, kl.sloAge, 20*time.Second, "kill %d: the slo checkpoint was older than two ticks", k+1)
		}
		if kl.reg.saved {
			assert.Less(t, kl.regAge, 2*time.Minute, "kill %d: the regression checkpoint was older than two ticks", k+1)
		}
		assert.GreaterOrEqual(t, kl.sloLost, -uncRoots, "kill %d: the SLO counts runs that were never sent", k+1)
		assert.GreaterOrEqual(t, kl.badLost, 0-uncRoots, "kill %d: the SLO counts failures that were never sent", k+1)
		assert.LessOrEqual(t, kl.badLost, kl.sloLost+uncRoots, "kill %d: more failures lost than runs", k+1)
	}
	lastRoots := log.count(kills, func(s span) bool { return s.root })
	assert.Equal(t, int(kept)+lastRoots, int(final.events), "after the last restart the SLO holds what the restores held plus every run since")
	assert.Zero(t, sink.Undecodable(), "every webhook post is webhook JSON")
	t.Log("alerts: " + agreement)
	alerts.assertNoneLost(t, sink)
	assert.True(t, again, "the notification in flight at the first kill never reached the webhook again (at-least-once)")
	for g, n := range dups.perGroup {
		assert.LessOrEqual(t, n, kills, "%s: more duplicate notifications than kills", g)
	}
}

// within reports whether the SLO's and the regression windows' losses are in their bounds (or
// zero after a save that came after the pause).
func (kl kill) within() bool {
	slo := kl.sloLost >= kl.sloLo && kl.sloLost <= kl.sloHi
	reg := kl.regLost >= kl.regLo && kl.regLost <= kl.regHi
	return (slo || strings.Contains(kl.laterSave, "slo")) && (reg || strings.Contains(kl.laterSave, "regression"))
}

// deliveredAgain reports whether a notification of m's receiver and group carrying m's alerts in
// the same states arrived after the restart.
func deliveredAgain(msgs []harness.WebhookMessage, m harness.WebhookMessage, restart time.Time) bool {
	want := signature(m)
	for _, x := range msgs {
		if x.Received.After(restart) && x.Receiver == m.Receiver && x.GroupKey == m.GroupKey && signature(x) == want {
			return true
		}
	}
	return false
}

func age(s state, d time.Duration) string {
	if !s.saved {
		return "none"
	}
	return d.Round(100 * time.Millisecond).String()
}

// lossBounds is the range of epoch's spans (roots only for the SLO) that a checkpoint with
// state s did not hold: at least those whose export started after the state time, at most
// those whose export had not ended by it. Without a save in this process, all of them.
func lossBounds(log *ackLog, epoch int, s state, roots bool) (lo, hi int) {
	counted := func(sp span) bool { return !roots || sp.root }
	if !s.saved {
		n := log.count(epoch, counted)
		return n, n
	}
	lo = log.count(epoch, func(sp span) bool { return counted(sp) && sp.start.After(s.stateAt) })
	hi = log.count(epoch, func(sp span) bool { return counted(sp) && sp.end.After(s.stateAt) })
	return lo, hi
}
