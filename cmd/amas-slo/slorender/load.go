// Package slorender renders, from a collector configuration, what the slo processor evaluates as
// Prometheus recording and alerting rules, Grafana dashboards and a definitions file, so the SLOs
// are written once (in the collector YAML) and everything else follows from them.
//
// SLOs are decoded with the slo processor's own Config type and default config (so an empty
// `slos` means the AMAS specification's six SLOs), and the windows, factors, minimum event counts, budget
// thresholds and no-data settings come from internal/slomath, the math the processor runs.
package slorender // import "github.com/otelcol-amas/otelcol-amas/cmd/amas-slo/slorender"

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/confmap"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// Collector is what the renderer reads from a collector configuration.
type Collector struct {
	// SLOs of every slo processor, in the order of the processor IDs (sorted) and then of the
	// SLOs in each.
	SLOs []SLO
	// Connector is the amas_spanmetrics connector's config (defaults applied), nil when the
	// configuration defines none: span SLIs are then read from the processor's own series.
	Connector *spanmetrics.Config
	// ConnectorID is the component ID of that connector.
	ConnectorID string
	// JaegerURL is the alert exporter's jaeger_url (the Jaeger UI), "" when unset.
	JaegerURL string
}

// SLO is one SLO as the processor evaluates it: its configuration and the resolved alerting.
type SLO struct {
	Processor string // component ID of the slo processor, e.g. "slo" or "slo/checkout"
	Config    sloprocessor.SLOConfig
	// Rules are the rules as the processor builds them, guards set: the hard-down page first
	// when the SLO has one (an occurrences SLO with hard_down enabled), then the burn-rate rules.
	Rules        []slomath.BurnRule
	MinEvents    uint64
	MinBadEvents uint64
	Budget       slomath.BudgetThresholds
	// BudgetMinEvents is the least number of events (slices) in the SLO window before a budget
	// threshold may fire.
	BudgetMinEvents uint64
	NoData          sloprocessor.NoDataConfig
	// Windows are every window the processor reports for this SLO (rule windows and the SLO
	// window), shortest first: the `window` label values.
	Windows []time.Duration
}

// Timeslices reports whether the SLO counts slices of time rather than events.
func (s SLO) Timeslices() bool { return s.Config.Budgeting.Method == "timeslices" }

// envRef is ${env:NAME}, ${env:NAME:-default}, ${NAME} or ${NAME:-default}.
var envRef = regexp.MustCompile(`\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// substituteDefaults replaces every environment reference with its default (empty when it has
// none), ignoring the environment of the process: the rendered files must not depend on where
// they are rendered. `$${` is the collector's escape for a literal `${`.
func substituteDefaults(s string) string {
	const esc = "\x00ESCAPED\x00"
	s = strings.ReplaceAll(s, "$${", esc)
	s = envRef.ReplaceAllString(s, "$2")
	return strings.ReplaceAll(s, esc, "${")
}

// merge merges b into a as the collector merges several --config files: maps merge key by key,
// anything else (lists included) is replaced.
func merge(a, b map[string]any) map[string]any {
	if a == nil {
		return b
	}
	for k, bv := range b {
		am, aok := a[k].(map[string]any)
		bm, bok := bv.(map[string]any)
		if aok && bok {
			a[k] = merge(am, bm)
			continue
		}
		a[k] = bv
	}
	return a
}

// Load reads a collector configuration (several files merge in order, as the collector's
// --config flags do): every `slo` and `slo/<name>` processor is decoded with
// the processor's Config and default config and validated as the collector would; the
// amas_spanmetrics connector's config tells which metrics the span SLIs can be computed from.
func Load(data ...[]byte) (*Collector, error) {
	var raw map[string]any
	for i, d := range data {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(substituteDefaults(string(d))), &m); err != nil {
			return nil, fmt.Errorf("parsing the collector configuration (file %d): %w", i+1, err)
		}
		raw = merge(raw, m)
	}
	out := &Collector{}
	section := func(name string) map[string]any {
		m, _ := raw[name].(map[string]any)
		return m
	}

	processors := section("processors")
	var ids []string
	for id := range processors {
		if typeOf(id) == "slo" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("processors: no slo processor (type `slo`) in the configuration")
	}
	sort.Strings(ids)
	factory := sloprocessor.NewFactory()
	seen := map[string]string{}
	for _, id := range ids {
		cfg := factory.CreateDefaultConfig().(*sloprocessor.Config)
		if err := decode(processors[id], cfg); err != nil {
			return nil, fmt.Errorf("processors::%s: %w", id, err)
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("processors::%s: %w", id, err)
		}
		slos := cfg.SLOs
		if len(slos) == 0 {
			slos = sloprocessor.DefaultSLOs()
		}
		for _, s := range slos {
			if other, dup := seen[s.Name]; dup {
				return nil, fmt.Errorf("processors::%s: SLO %q is also defined by processors::%s; the slo label would mix them in Prometheus", id, s.Name, other)
			}
			seen[s.Name] = id
			out.SLOs = append(out.SLOs, resolve(id, cfg, s))
		}
	}

	connectors := section("connectors")
	var cids []string
	for id := range connectors {
		if typeOf(id) == "amas_spanmetrics" {
			cids = append(cids, id)
		}
	}
	sort.Strings(cids)
	if len(cids) > 0 {
		// With several connectors the first (by ID) is the one the rules read.
		c := spanmetrics.NewFactory().CreateDefaultConfig().(*spanmetrics.Config)
		if err := decode(connectors[cids[0]], c); err != nil {
			return nil, fmt.Errorf("connectors::%s: %w", cids[0], err)
		}
		out.Connector, out.ConnectorID = c, cids[0]
	}

	for id, v := range section("exporters") {
		if typeOf(id) != "alert" {
			continue
		}
		if m, ok := v.(map[string]any); ok {
			if u, ok := m["jaeger_url"].(string); ok && (out.JaegerURL == "" || id == "alert") {
				out.JaegerURL = u
			}
		}
	}
	return out, nil
}

func typeOf(id string) string {
	t, _, _ := strings.Cut(id, "/")
	return t
}

// decode unmarshals one component's YAML section as the collector does (durations, component
// IDs, unknown keys rejected).
func decode(section any, cfg any) error {
	m, _ := section.(map[string]any)
	if m == nil {
		return nil
	}
	return confmap.NewFromStringMap(m).Unmarshal(cfg)
}

// resolve takes the processor's own resolution of an SLO's alerting (inheritance and defaults),
// so the rules render what the processor evaluates.
func resolve(id string, cfg *sloprocessor.Config, s sloprocessor.SLOConfig) SLO {
	a := cfg.ResolveAlerting(s)
	out := SLO{
		Processor: id, Config: s, Rules: a.Rules, MinEvents: a.MinEvents, MinBadEvents: a.MinBadEvents,
		Budget: a.Budget, BudgetMinEvents: a.BudgetMinEvents, NoData: a.NoData,
	}
	ws := map[time.Duration]bool{s.Window: true}
	for _, r := range out.Rules {
		ws[r.LongWindow], ws[r.ShortWindow] = true, true
	}
	for w := range ws {
		out.Windows = append(out.Windows, w)
	}
	sort.Slice(out.Windows, func(i, j int) bool { return out.Windows[i] < out.Windows[j] })
	return out
}
