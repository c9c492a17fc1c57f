package sloprocessor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/internal/slopromql"
)

// BootstrapConfig seeds the rings of a group that appears with no local state (a group that
// moved here from another replica, or every group after a lost or incompatible checkpoint)
// from a Prometheus-compatible query API that holds the processor's own event counters
// (amas_slo_events_total, amas_slo_bad_events_total: remote-written or scraped). Off while
// endpoint is empty.
type BootstrapConfig struct {
	// HTTP: endpoint is the API's base URL (http://prometheus:9090, the path /api/v1/... is
	// appended); timeout bounds each query; headers, auth and tls as in any collector HTTP
	// client. A named field, not an embedded one: an embedded ClientConfig would promote its
	// Unmarshal to this struct, and the keys below would never be read.
	HTTP confighttp.ClientConfig `mapstructure:",squash"`
	// MaxDuration bounds one group's whole bootstrap (all of its queries).
	MaxDuration time.Duration `mapstructure:"max_duration"`
	// MaxQueries bounds the queries of one group; the tiers that do not fit are left empty.
	MaxQueries int `mapstructure:"max_queries"`
	// MaxConcurrency is how many groups bootstrap at once.
	MaxConcurrency int `mapstructure:"max_concurrency"`
	// MaxPending bounds the groups waiting for a bootstrap; a group past it streams from empty.
	MaxPending int `mapstructure:"max_pending"`
	// Delay is how long after the group's first event here the queries wait, so that Prometheus
	// holds every sample up to the cut-over (the first event + evaluation_interval): at least
	// the evaluation interval plus the scrape interval or remote-write delay.
	Delay time.Duration `mapstructure:"delay"`
	// Lookback limits how far back history is read (0: each SLO's whole window).
	Lookback time.Duration `mapstructure:"lookback"`
	// MinStep is the narrowest query step: tiers with finer buckets are read at it (a step must
	// span at least two samples of the counters).
	MinStep time.Duration `mapstructure:"min_step"`
	// Matchers are label matchers added to the queries of SLOs without group_by, whose one
	// series is this collector's own (match the labels that tell its counters apart, e.g. the
	// remote-write external label naming the replica).
	Matchers map[string]string `mapstructure:"matchers"`
	// WarnInterval rate-limits the warning a failed bootstrap logs.
	WarnInterval time.Duration `mapstructure:"warn_interval"`
}

func (b *BootstrapConfig) enabled() bool { return b.HTTP.Endpoint != "" }

func defaultBootstrapConfig() BootstrapConfig {
	c := confighttp.NewDefaultClientConfig()
	c.Timeout = 10 * time.Second
	return BootstrapConfig{
		HTTP: c, MaxDuration: time.Minute, MaxQueries: 32, MaxConcurrency: 2, MaxPending: 1000,
		Delay: 30 * time.Second, MinStep: time.Minute, WarnInterval: time.Minute,
	}
}

func (b *BootstrapConfig) validate() []error {
	if !b.enabled() {
		return nil
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if u, err := url.Parse(b.HTTP.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("bootstrap.endpoint: must be an http(s) URL, got %q", b.HTTP.Endpoint)
	}
	if b.HTTP.Timeout <= 0 {
		add("bootstrap.timeout: must be > 0, got %s", b.HTTP.Timeout)
	}
	if b.MaxDuration <= 0 {
		add("bootstrap.max_duration: must be > 0, got %s", b.MaxDuration)
	}
	if b.MaxQueries < 1 {
		add("bootstrap.max_queries: must be ≥ 1, got %d", b.MaxQueries)
	}
	if b.MaxConcurrency < 1 {
		add("bootstrap.max_concurrency: must be ≥ 1, got %d", b.MaxConcurrency)
	}
	if b.MaxPending < 1 {
		add("bootstrap.max_pending: must be ≥ 1, got %d", b.MaxPending)
	}
	if b.Delay < 0 {
		add("bootstrap.delay: must be ≥ 0, got %s", b.Delay)
	}
	if b.Lookback < 0 {
		add("bootstrap.lookback: must be ≥ 0, got %s", b.Lookback)
	}
	if b.MinStep < time.Second || b.MinStep%time.Second != 0 {
		add("bootstrap.min_step: must be a whole number of seconds ≥ 1s, got %s", b.MinStep)
	}
	if b.WarnInterval <= 0 {
		add("bootstrap.warn_interval: must be > 0, got %s", b.WarnInterval)
	}
	return errs
}

// Bootstrap outcomes, the outcome attribute of otelcol_processor_slo_bootstrap_groups.
const (
	bootRestored  = "restored"  // history merged
	bootEmpty     = "empty"     // the queries succeeded and found no history
	bootPartial   = "partial"   // max_queries left some tiers unread; the others were merged
	bootFailed    = "failed"    // a query failed or timed out: the group streams from empty
	bootDropped   = "dropped"   // max_pending was full: the group streams from empty
	bootDiscarded = "discarded" // the group was evicted before its history arrived
)

var bootOutcomes = []string{bootRestored, bootEmpty, bootPartial, bootFailed, bootDropped, bootDiscarded}

type bootstrapJob struct {
	st  *sloState
	ser *series
	cut int64 // Unix ns: the group's birth here, floored to the second
}

// bootstrapper runs the bootstraps off the hot path: consume* only enqueues (a non-blocking
// send when a group is born), workers wait for the delay, query, and merge under p.mu.
type bootstrapper struct {
	cfg    *BootstrapConfig
	client *http.Client
	clock  clockwork.Clock
	logger *zap.Logger
	tel    *telemetry
	queue  chan bootstrapJob
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	warnLog logLimiter // the warnings of incomplete bootstraps
	// handoffSem bounds the handoff checks out at once (max_concurrency); moveLog rate-limits
	// their info lines (see handoff.go).
	handoffSem chan struct{}
	moveLog    logLimiter

	testHookDone    func(slo, outcome string) // set by tests before the first group is born
	testHookHandoff func(slo, result string)  // set by tests before the first check
}

func newBootstrapper(cfg *BootstrapConfig, client *http.Client, clock clockwork.Clock, logger *zap.Logger, tel *telemetry) *bootstrapper {
	ctx, cancel := context.WithCancel(context.Background())
	return &bootstrapper{
		cfg: cfg, client: client, clock: clock, logger: logger, tel: tel,
		queue: make(chan bootstrapJob, cfg.MaxPending), ctx: ctx, cancel: cancel,
		handoffSem: make(chan struct{}, cfg.MaxConcurrency),
	}
}

// startBootstrap builds the HTTP client and starts the workers (Start, after the checkpoint was
// restored: restored groups never bootstrap).
func (p *sloProcessor) startBootstrap(ctx context.Context, host component.Host, set component.TelemetrySettings) error {
	bc := &p.cfg.Bootstrap
	if !bc.enabled() {
		return nil
	}
	client, err := bc.HTTP.ToClient(ctx, host.GetExtensions(), set)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	b := newBootstrapper(bc, client, p.clock, p.logger, p.tel)
	for range bc.MaxConcurrency {
		b.wg.Add(1)
		go b.run(p)
	}
	p.mu.Lock()
	p.boot = b
	// An ungrouped SLO's one series exists from the start: bootstrap it now unless a
	// checkpoint restored it (a lost or incompatible checkpoint, or none, leaves it empty).
	now := p.now().UnixNano()
	for _, st := range p.slos {
		if ser := st.series[0]; len(st.groupBy) == 0 && ser != nil && ser.unrestored {
			b.enqueue(st, ser, now)
		}
	}
	p.mu.Unlock()
	return nil
}

func (b *bootstrapper) stop() {
	b.cancel()
	b.wg.Wait()
}

// enqueue asks for the history of a group born at now (Unix ns). Called with p.mu held, once
// per new group: it never blocks.
func (b *bootstrapper) enqueue(st *sloState, ser *series, now int64) {
	cut := now - now%int64(time.Second)
	select {
	case b.queue <- bootstrapJob{st: st, ser: ser, cut: cut}:
	default:
		b.done(st, bootDropped, errors.New("bootstrap.max_pending groups are already waiting"))
	}
}

func (b *bootstrapper) run(p *sloProcessor) {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case j := <-b.queue:
			if wait := time.Unix(0, j.cut).Add(b.cfg.Delay).Sub(p.now()); wait > 0 {
				select {
				case <-b.ctx.Done():
					return
				case <-b.clock.After(wait):
				}
			}
			b.bootstrap(p, j)
		}
	}
}

// historyPoint is the counts of [from, to) read at the resolution of one ring tier.
type historyPoint struct {
	tier     int
	from, to int64
	c        slomath.Counts
}

func (b *bootstrapper) bootstrap(p *sloProcessor, j bootstrapJob) {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.MaxDuration)
	defer cancel()
	var matchers [][2]string
	if len(j.st.groupBy) == 0 {
		for k, v := range b.cfg.Matchers {
			matchers = append(matchers, [2]string{k, v})
		}
	}
	for _, kv := range j.ser.labels {
		matchers = append(matchers, [2]string{slopromql.Label(kv[0]), kv[1]})
	}
	counts := slopromql.ProcessorCounts(j.st.name, promLabels(j.st.groupBy)).Match(matchers)
	plan := planBootstrap(j.st.c.model, j.cut, p.cfg.EvaluationInterval, b.cfg.Lookback, b.cfg.MinStep)
	var points []historyPoint
	queries, partial := 0, false
	for _, tq := range plan {
		if queries+tq.queries() > b.cfg.MaxQueries {
			partial = true
			continue
		}
		queries += tq.queries()
		got, err := b.readTier(ctx, counts, tq)
		if err != nil {
			b.done(j.st, bootFailed, err)
			return
		}
		points = append(points, got...)
	}
	p.mu.Lock()
	cur := j.st.series[j.ser.key]
	merged := false
	if cur == j.ser {
		for _, hp := range points {
			if j.st.c.model.MergeHistory(j.ser.s, hp.tier, hp.from, hp.to, hp.c) {
				merged = true
			}
		}
	}
	p.mu.Unlock()
	switch {
	case cur != j.ser:
		b.done(j.st, bootDiscarded, nil)
	case partial:
		b.done(j.st, bootPartial, fmt.Errorf("bootstrap.max_queries %d: the finest tiers were left unread", b.cfg.MaxQueries))
	case merged:
		b.done(j.st, bootRestored, nil)
	default:
		b.done(j.st, bootEmpty, nil)
	}
}

func promLabels(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = slopromql.Label(k)
	}
	return out
}

// done counts the outcome and logs a failure: a warning at most once per warn_interval (with how
// many were suppressed since), debug otherwise.
func (b *bootstrapper) done(st *sloState, outcome string, err error) {
	b.tel.bootstrapped(outcome)
	if b.testHookDone != nil {
		defer b.testHookDone(st.name, outcome)
	}
	if err == nil {
		return
	}
	warn, suppressed := b.warnLog.allow(b.clock.Now(), b.cfg.WarnInterval)
	fields := []zap.Field{zap.String("slo", st.name), zap.String("outcome", outcome), zap.Error(err)}
	if warn {
		b.logger.Warn("SLO history bootstrap incomplete; the group streams from what it has", append(fields, zap.Int("suppressed_since_last_warning", suppressed))...)
		return
	}
	b.logger.Debug("SLO history bootstrap incomplete", fields...)
}

// tierQuery is how one ring tier is read: full steps ending at first, first+step, ..., last
// (one query_range each for all and bad events), then the partial step (partialFrom, end] (one
// instant query each), when there is one.
type tierQuery struct {
	tier                int
	step                time.Duration
	first, last         int64 // Unix ns; no full step when !hasFull
	partialFrom, end    int64 // end is the history's end (see planBootstrap)
	hasFull, hasPartial bool
}

func (q tierQuery) queries() int {
	n := 0
	if q.hasFull {
		n += 2
	}
	if q.hasPartial {
		n += 2
	}
	return n
}

// planBootstrap says how each tier of m's layout is read, coarsest tier first (the SLO window's
// budget matters most; the finest tiers cover minutes the group mostly streams itself).
//
// The cut-over: the history is every sample Prometheus holds before end = cut + horizon − 1 ms,
// where cut is the group's birth here (floored to the second) and horizon the evaluation
// interval. Samples of other replicas (or of this one's previous life) up to then are events
// this series never saw, however late their counters reported them. This series' own counter
// cannot have risen in Prometheus before then: its first point, one tick after its birth, is 0
// (see series.countersShown), and its first rise is a tick later, after cut + horizon. So no
// event is counted twice; what is lost are the events another replica counted and exported
// only after end (a replica still receiving the service after the switch, or one scrape
// interval of lag). Prometheus ranges are (t−w, t] at millisecond precision.
//
// Steps are aligned to the Unix epoch, as the ring's buckets are, and a tier's step is its
// bucket width (or the least multiple of it ≥ minStep): each number Prometheus returns is
// increase() over exactly one bucket (or a whole number of them), so it lands whole in the
// bucket that holds its end. Only the last step, cut off by the cut-over, is partial; it is read
// as increase() over (last full step's end, end].
func planBootstrap(m *slomath.Model, cut int64, horizon, lookback, minStep time.Duration) []tierQuery {
	tiers := m.Layout.Tiers
	end := cut + int64(horizon) - int64(time.Millisecond)
	out := make([]tierQuery, 0, len(tiers))
	for i := len(tiers) - 1; i >= 0; i-- {
		t := tiers[i]
		span := t.Width * time.Duration(t.Len)
		if lookback > 0 {
			span = min(span, lookback)
		}
		step := t.Width
		if step < minStep {
			step = t.Width * ((minStep + t.Width - 1) / t.Width)
		}
		s := int64(step)
		q := tierQuery{tier: i, step: step, end: end}
		q.last = end - end%s
		start := cut - int64(span)
		q.first = (start + 2*s - 1) / s * s // the end of the first step that starts at or after start
		q.hasFull = q.first <= q.last
		q.partialFrom = max(q.last, start)
		// A partial step under a second is left out: it holds at most one sample interval.
		q.hasPartial = end-q.partialFrom >= int64(time.Second)
		if q.hasFull || q.hasPartial {
			out = append(out, q)
		}
	}
	return out
}

// readTier runs a tier's queries and returns its history points.
func (b *bootstrapper) readTier(ctx context.Context, c slopromql.Counts, q tierQuery) ([]historyPoint, error) {
	type sample struct {
		to    int64
		total float64
		bad   float64
	}
	byTo := map[int64]*sample{}
	var order []int64
	put := func(to int64, v float64, bad bool) {
		s, ok := byTo[to]
		if !ok {
			s = &sample{to: to}
			byTo[to] = s
			order = append(order, to)
		}
		if bad {
			s.bad += v
		} else {
			s.total += v
		}
	}
	if q.hasFull {
		for _, bad := range []bool{false, true} {
			expr := c.Events(q.step)
			if bad {
				expr = c.BadEvents(q.step)
			}
			vals, err := b.queryRange(ctx, expr, q.first, q.last, q.step)
			if err != nil {
				return nil, err
			}
			for _, v := range vals {
				put(v.t, v.v, bad)
			}
		}
	}
	if q.hasPartial {
		w := time.Duration(q.end - q.partialFrom)
		for _, bad := range []bool{false, true} {
			expr := c.Events(w)
			if bad {
				expr = c.BadEvents(w)
			}
			vals, err := b.queryInstant(ctx, expr, q.end)
			if err != nil {
				return nil, err
			}
			for _, v := range vals {
				put(q.end, v.v, bad)
			}
		}
	}
	out := make([]historyPoint, 0, len(order))
	for _, to := range order {
		s := byTo[to]
		total := uint64(math.Round(s.total))
		bad := min(uint64(math.Round(s.bad)), total)
		if total == 0 {
			continue
		}
		from := to - int64(q.step)
		if to == q.end && q.hasPartial {
			from = q.partialFrom
		}
		out = append(out, historyPoint{tier: q.tier, from: from, to: to, c: slomath.Counts{Total: total, Bad: bad}})
	}
	return out, nil
}

type promValue struct {
	t int64 // Unix ns
	v float64
}

// maxResponseBytes bounds a query's response: a group's answer is one series of at most a few
// hundred points.
const maxResponseBytes = 4 << 20

func (b *bootstrapper) queryRange(ctx context.Context, expr string, start, end int64, step time.Duration) ([]promValue, error) {
	v := url.Values{}
	v.Set("query", expr)
	v.Set("start", promTime(start))
	v.Set("end", promTime(end))
	v.Set("step", strconv.FormatInt(int64(step/time.Second), 10))
	return b.query(ctx, "/api/v1/query_range", v)
}

func (b *bootstrapper) queryInstant(ctx context.Context, expr string, at int64) ([]promValue, error) {
	v := url.Values{}
	v.Set("query", expr)
	v.Set("time", promTime(at))
	return b.query(ctx, "/api/v1/query", v)
}

func promTime(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) }

// promResponse is the part of the Prometheus HTTP API's answer a bootstrap reads.
type promResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Value  []any   `json:"value"`
			Values [][]any `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func (b *bootstrapper) query(ctx context.Context, path string, params url.Values) ([]promValue, error) {
	u := strings.TrimSuffix(b.cfg.HTTP.Endpoint, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		b.tel.bootstrapQuery(false)
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err == nil && len(body) > maxResponseBytes {
		err = fmt.Errorf("%s: response over %d bytes", path, maxResponseBytes)
	}
	var pr promResponse
	if err == nil {
		if jerr := json.Unmarshal(body, &pr); jerr != nil {
			err = fmt.Errorf("%s: HTTP %d, undecodable response: %w", path, resp.StatusCode, jerr)
		} else if resp.StatusCode != http.StatusOK || pr.Status != "success" {
			err = fmt.Errorf("%s: HTTP %d, status %q: %s", path, resp.StatusCode, pr.Status, pr.Error)
		}
	}
	b.tel.bootstrapQuery(err == nil)
	if err != nil {
		return nil, err
	}
	var out []promValue
	for _, r := range pr.Data.Result {
		if r.Value != nil {
			if pv, ok := parsePoint(r.Value); ok {
				out = append(out, pv)
			}
		}
		for _, p := range r.Values {
			if pv, ok := parsePoint(p); ok {
				out = append(out, pv)
			}
		}
	}
	return out, nil
}

// parsePoint reads [unix seconds, "value"]; anything else, and values that are not finite and ≥ 0,
// are skipped.
func parsePoint(p []any) (promValue, bool) {
	if len(p) != 2 {
		return promValue{}, false
	}
	ts, ok1 := p[0].(float64)
	s, ok2 := p[1].(string)
	if !ok1 || !ok2 {
		return promValue{}, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return promValue{}, false
	}
	return promValue{t: int64(math.Round(ts*1000)) * int64(time.Millisecond), v: v}, true
}
