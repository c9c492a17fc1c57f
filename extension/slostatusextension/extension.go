package slostatusextension // import "github.com/otelcol-amas/otelcol-amas/extension/slostatusextension"

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// The status page and the JSON Schema, embedded: the page fetches nothing from the internet.
//
//go:embed web/index.html web/app.js web/style.css schema/v1.json
var assets embed.FS

// Paths served.
const (
	pathStatus     = "/observability/slo/status"
	pathViolations = "/observability/slo/violations"
	pathSchema     = "/observability/slo/schema.json"
	pathHealth     = "/health"
	pathObsHealth  = "/observability/health"
	pathPage       = "/observability/slo/"
	pathAssets     = "/assets/"
)

// The security policy of every response: the page loads its own script and style only.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type statusExtension struct {
	cfg   *Config
	set   extension.Settings
	src   source
	clock clockwork.Clock // the real clock in the collector, a fake one in tests
	hist  *history

	startedAt time.Time
	server    *http.Server
	stop      chan struct{}
	wg        sync.WaitGroup
}

var _ extension.Extension = (*statusExtension)(nil)

func newExtension(set extension.Settings, cfg *Config, src source, clock clockwork.Clock) *statusExtension {
	return &statusExtension{cfg: cfg, set: set, src: src, clock: clock, hist: newHistory(cfg.History)}
}

func (e *statusExtension) now() time.Time { return e.clock.Now() }

// Start listens on the endpoint and starts sampling budgets for the burn-down history.
func (e *statusExtension) Start(ctx context.Context, host component.Host) error {
	e.startedAt = e.now()
	ln, err := e.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return errors.New("endpoint: cannot listen on " + e.cfg.ServerConfig.NetAddr.Endpoint + ": " + err.Error())
	}
	port := 0
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	guard := newHostGuard(e.cfg.ServerConfig.NetAddr.Endpoint, port, e.cfg.AllowedHosts)
	srv, err := e.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), e.set.TelemetrySettings, guard.wrap(e.handler()))
	if err != nil {
		_ = ln.Close()
		return err
	}
	e.server = srv
	e.stop = make(chan struct{})
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.set.Logger.Error("The SLO status server stopped", zap.Error(err))
		}
	}()
	ticker := e.clock.NewTicker(e.cfg.History.SampleInterval)
	go func() {
		defer e.wg.Done()
		defer ticker.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-ticker.Chan():
				e.sample()
			}
		}
	}()
	scheme := "http://"
	if e.cfg.ServerConfig.TLS.HasValue() {
		scheme = "https://"
	}
	e.set.Logger.Info("SLO status page and API", zap.String("url", scheme+ln.Addr().String()+pathPage))
	return nil
}

// Shutdown stops the server and the sampling.
func (e *statusExtension) Shutdown(ctx context.Context) error {
	if e.server == nil {
		return nil
	}
	close(e.stop)
	err := e.server.Shutdown(ctx)
	e.wg.Wait()
	e.server = nil
	return err
}

// sample records every SLO group's budget remaining in the history.
func (e *statusExtension) sample() {
	slos, _ := e.src.SLO()
	e.hist.record(e.now(), slos)
}

func (e *statusExtension) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pathStatus, e.getOnly(e.serveStatus))
	mux.HandleFunc(pathViolations, e.getOnly(e.serveViolations))
	mux.HandleFunc(pathHealth, e.getOnly(e.serveHealth))
	mux.HandleFunc(pathObsHealth, e.getOnly(e.serveHealth))
	mux.HandleFunc(pathSchema, e.getOnly(func(w http.ResponseWriter, _ *http.Request) {
		e.serveAsset(w, "schema/v1.json", "application/schema+json")
	}))
	page := e.getOnly(func(w http.ResponseWriter, _ *http.Request) {
		e.serveAsset(w, "web/index.html", "text/html; charset=utf-8")
	})
	mux.HandleFunc("/{$}", page)
	mux.HandleFunc(pathPage+"{$}", page)
	mux.HandleFunc(pathAssets+"{name}", e.getOnly(func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("name") {
		case "app.js":
			e.serveAsset(w, "web/app.js", "text/javascript; charset=utf-8")
		case "style.css":
			e.serveAsset(w, "web/style.css", "text/css; charset=utf-8")
		default:
			http.NotFound(w, r)
		}
	}))
	return mux
}

func (e *statusExtension) getOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hdr.Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, errorDocument{SchemaVersion: SchemaVersion, Error: "method " + r.Method + " not allowed; use GET"})
			return
		}
		h(w, r)
	}
}

func (e *statusExtension) serveAsset(w http.ResponseWriter, name, contentType string) {
	b, err := fs.ReadFile(assets, name)
	if err != nil { // embedded at build time: cannot happen
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(b)
}

type errorDocument struct {
	SchemaVersion string `json:"schema_version"`
	Error         string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	writeJSONIndent(w, code, v, false)
}

// writeJSONIndent writes compact JSON, or indented JSON for ?pretty=true.
func writeJSONIndent(w http.ResponseWriter, code int, v any, pretty bool) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "  ")
	}
	_ = enc.Encode(v)
}

func isPretty(r *http.Request) bool {
	v := r.URL.Query().Get("pretty")
	return v == "true" || v == "1"
}

// snapshot reads the processors once and judges their health.
type snapshot struct {
	now      time.Time
	slos     []sloprocessor.Status
	regs     []regressionprocessor.Status
	procs    []ProcessorInfo
	missing  []string
	health   string
	reasons  []string
	histInfo HistoryInfo
}

func (e *statusExtension) snapshot() snapshot {
	s := snapshot{now: e.now()}
	var missSLO, missReg []string
	s.slos, missSLO = e.src.SLO()
	s.regs, missReg = e.src.Regression()
	s.missing = append(append([]string{}, missSLO...), missReg...)
	s.procs = []ProcessorInfo{}
	unhealthy, degraded := false, false
	if len(s.slos) == 0 && len(missSLO) == 0 {
		unhealthy = true
		s.reasons = append(s.reasons, "no slo processor is running")
	}
	for _, id := range missSLO {
		unhealthy = true
		s.reasons = append(s.reasons, "slo processor "+id+" is not running")
	}
	for _, id := range missReg {
		degraded = true
		s.reasons = append(s.reasons, "regression processor "+id+" is not running")
	}
	maxMissed := e.cfg.Health.MaxMissedTicks
	for _, st := range s.slos {
		pi := processorInfo(st.ID, "slo", st.LastTick, st.EvaluationInterval, maxMissed, s.now, e.startedAt)
		pi.Checkpoint = checkpointOf(st.Checkpoint)
		if !pi.Healthy {
			unhealthy = true
			s.reasons = append(s.reasons, st.ID+": "+pi.Reason)
		}
		if st.Checkpoint.LastError != "" {
			reason := "checkpoint: " + st.Checkpoint.LastError
			if pi.Reason == "" {
				pi.Reason = reason
			}
			s.reasons = append(s.reasons, st.ID+": "+reason)
			if e.cfg.Health.CheckpointErrorUnhealthy {
				pi.Healthy, unhealthy = false, true
			} else {
				degraded = true
			}
		}
		s.procs = append(s.procs, pi)
	}
	for _, st := range s.regs {
		pi := processorInfo(st.ID, "regression", st.LastEvaluation, st.EvaluationInterval, maxMissed, s.now, e.startedAt)
		if !pi.Healthy {
			degraded = true
			s.reasons = append(s.reasons, st.ID+": "+pi.Reason)
		}
		s.procs = append(s.procs, pi)
	}
	s.health = healthOK
	switch {
	case unhealthy:
		s.health = healthUnhealthy
	case degraded:
		s.health = healthDegraded
	}
	if s.reasons == nil {
		s.reasons = []string{}
	}
	s.histInfo = e.hist.info()
	return s
}

// statusDocument builds the status; withHistory attaches the budget history to at most
// historyGroups groups per SLO (the lowest budgets first; 0: every group).
func (e *statusExtension) statusDocument(withHistory bool, historyGroups int) StatusDocument {
	s := e.snapshot()
	if withHistory {
		// A reader of the history gets the newest reading too: the last sample of a ring is
		// replaced until the stride has passed, so this costs no room.
		e.hist.record(s.now, s.slos)
	}
	doc := StatusDocument{
		SchemaVersion: SchemaVersion, GeneratedAt: s.now.UTC(), Health: s.health, Processors: s.procs,
		SLOs: []SLO{}, Regressions: []Regression{}, Missing: s.missing,
		Page: &PageSettings{RefreshSeconds: e.cfg.PageRefresh.Seconds(), JaegerURL: e.cfg.JaegerURL},
	}
	for _, st := range s.slos {
		for _, so := range st.SLOs {
			out := buildSLO(st.ID, so)
			if withHistory {
				idx := make([]int, len(out.Groups))
				for i := range idx {
					idx[i] = i
				}
				slices.SortStableFunc(idx, func(a, b int) int {
					return cmpFloat(out.Groups[a].BudgetRemainingPercent, out.Groups[b].BudgetRemainingPercent)
				})
				if historyGroups > 0 && len(idx) > historyGroups {
					idx = idx[:historyGroups]
				}
				for _, i := range idx {
					out.Groups[i].BudgetHistory = e.hist.get(seriesKey(st.ID, so.Name, out.Groups[i].Labels))
					if out.Groups[i].BudgetHistory == nil {
						out.Groups[i].BudgetHistory = History{}
					}
				}
			}
			doc.SLOs = append(doc.SLOs, out)
		}
	}
	for _, st := range s.regs {
		for _, r := range st.Regressions {
			doc.Regressions = append(doc.Regressions, buildRegression(st, r, e.cfg.JaegerURL, s.now))
		}
	}
	sortRegressions(doc.Regressions)
	doc.SpanClassification = buildClassification(e.src.Classification())
	return doc
}

func (e *statusExtension) serveStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	withHistory := false
	switch v := q.Get("history"); v {
	case "", "false", "0":
	case "true", "1":
		withHistory = true
	default:
		writeJSON(w, http.StatusBadRequest, errorDocument{SchemaVersion: SchemaVersion, Error: "history: must be true or false, got " + quote(v)})
		return
	}
	historyGroups := 0
	if v := q.Get("history_groups"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, errorDocument{SchemaVersion: SchemaVersion, Error: "history_groups: must be a whole number ≥ 0, got " + quote(v)})
			return
		}
		historyGroups = n
	}
	doc := e.statusDocument(withHistory, historyGroups)
	if names := listParam(q["slo"]); len(names) > 0 {
		doc.SLOs = slices.DeleteFunc(doc.SLOs, func(s SLO) bool { return !slices.Contains(names, s.Name) })
	}
	writeJSONIndent(w, http.StatusOK, doc, isPretty(r))
}

func cmpFloat(a, b Float) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// listParam accepts repeated and comma-separated values: ?severity=critical,high&severity=warning.
func listParam(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

var (
	severities = []string{"critical", "high", "warning", "info"}
	states     = []string{"pending", "firing", "resolved"}
)

func (e *statusExtension) serveViolations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filters{Severity: listParam(q["severity"]), SLO: listParam(q["slo"]), State: listParam(q["state"])}
	for _, s := range f.Severity {
		if !slices.Contains(severities, s) {
			writeJSON(w, http.StatusBadRequest, errorDocument{SchemaVersion: SchemaVersion, Error: "severity: must be one of critical, high, warning, info, got " + quote(s)})
			return
		}
	}
	for _, s := range f.State {
		if !slices.Contains(states, s) {
			writeJSON(w, http.StatusBadRequest, errorDocument{SchemaVersion: SchemaVersion, Error: "state: must be one of pending, firing, resolved, got " + quote(s)})
			return
		}
	}
	if f.Severity == nil {
		f.Severity = []string{}
	}
	if f.SLO == nil {
		f.SLO = []string{}
	}
	if len(f.State) == 0 {
		f.State = []string{"pending", "firing"}
	}
	s := e.snapshot()
	doc := ViolationsDocument{SchemaVersion: SchemaVersion, GeneratedAt: s.now.UTC(), Filters: f, Violations: []Violation{}}
	for _, st := range s.slos {
		for _, so := range st.SLOs {
			if len(f.SLO) > 0 && !slices.Contains(f.SLO, so.Name) {
				continue
			}
			slo := buildSLO(st.ID, so)
			for _, g := range slo.Groups {
				for _, a := range g.Alerts {
					if !slices.Contains(f.State, a.State) || (len(f.Severity) > 0 && !slices.Contains(f.Severity, a.Severity)) {
						continue
					}
					v := Violation{
						Processor: st.ID, SLO: so.Name, Labels: g.Labels, Alert: a.Name, State: a.State, Severity: a.Severity,
						LongWindow: a.LongWindow, ShortWindow: a.ShortWindow, ActiveSince: a.ActiveSince,
						Objective: slo.Objective, SLI: g.SLI, BudgetRemainingPercent: g.BudgetRemainingPercent,
						ViolationsTotal: g.Violations[a.Severity],
					}
					if a.ActiveSince != nil {
						v.ActiveSeconds = floatPtr(s.now.Sub(*a.ActiveSince).Seconds())
					}
					if a.LongWindow != "" {
						for _, win := range g.Windows {
							if win.Window == a.LongWindow {
								b := win.BurnRate
								v.BurnRate = &b
							}
						}
					}
					doc.Violations = append(doc.Violations, v)
				}
			}
		}
	}
	sevRank := map[string]int{"critical": 0, "high": 1, "warning": 2, "info": 3}
	slices.SortStableFunc(doc.Violations, func(a, b Violation) int { return sevRank[a.Severity] - sevRank[b.Severity] })
	writeJSONIndent(w, http.StatusOK, doc, isPretty(r))
}

func (e *statusExtension) serveHealth(w http.ResponseWriter, r *http.Request) {
	s := e.snapshot()
	doc := HealthDocument{
		SchemaVersion: SchemaVersion, GeneratedAt: s.now.UTC(), Status: s.health, Healthy: s.health != healthUnhealthy,
		Reasons: s.reasons, Processors: s.procs, Missing: s.missing, History: s.histInfo,
	}
	code := http.StatusOK
	if !doc.Healthy {
		code = http.StatusServiceUnavailable
	}
	writeJSONIndent(w, code, doc, isPretty(r))
}
