package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/spanclass"
)

const (
	// sampledKeys is how many distinct attribute keys a service remembers for its warning.
	sampledKeys = 16
	// sampleEvery: the attribute keys of one unclassified span in this many are sampled (and the
	// first one of each warning window), so the warning costs nothing per span.
	sampleEvery = 16
	// warnKeys is how many of the most seen keys the warning names.
	warnKeys = 8
)

type keyCount struct {
	key   string
	count uint32
}

// serviceStats is the classification bookkeeping of one service (guarded by the connector lock).
type serviceStats struct {
	// Totals since start, for the status page.
	classified, unclassified uint64
	// The current warning window.
	winStart                       pcommon.Timestamp
	lastWarn                       pcommon.Timestamp
	winClassified, winUnclassified uint64
	winReasons                     [numUnclassifiedReasons]uint64
	keys                           [sampledKeys]keyCount
	nkeys                          int
	sampleIn                       int
}

// serviceOf returns the bookkeeping of a service, nil past unclassified.max_services.
func (c *spanMetricsConnector) serviceOf(service string, now pcommon.Timestamp) *serviceStats {
	if s := c.services[service]; s != nil {
		return s
	}
	if len(c.services) >= c.cfg.Unclassified.MaxServices {
		c.stats.overflowed[ovServices]++
		return nil
	}
	s := &serviceStats{winStart: now}
	c.services[strings.Clone(service)] = s
	return s
}

// noteUnclassified counts a span no profile classified; every sampleEvery-th one contributes its
// attribute keys to the service's bounded sample.
func (c *spanMetricsConnector) noteUnclassified(s *serviceStats, attrs pcommon.Map, reason unclassifiedReason) {
	c.stats.unclassified[reason]++
	if s == nil {
		return
	}
	s.unclassified++
	s.winUnclassified++
	s.winReasons[reason]++
	if s.sampleIn > 0 {
		s.sampleIn--
		return
	}
	s.sampleIn = sampleEvery - 1
	for k := range attrs.All() {
		s.sampleKey(k)
	}
}

func (s *serviceStats) sampleKey(k string) {
	for i := 0; i < s.nkeys; i++ {
		if s.keys[i].key == k {
			s.keys[i].count++
			return
		}
	}
	if s.nkeys < sampledKeys {
		s.keys[s.nkeys] = keyCount{key: strings.Clone(k), count: 1}
		s.nkeys++
	}
}

func (s *serviceStats) resetWindow(now pcommon.Timestamp) {
	s.winStart = now
	s.winClassified, s.winUnclassified = 0, 0
	s.winReasons = [numUnclassifiedReasons]uint64{}
	s.keys = [sampledKeys]keyCount{}
	s.nkeys = 0
	s.sampleIn = 0
}

// unclassifiedWarning is one warning, built under the lock and logged after it.
type unclassifiedWarning struct {
	service string
	spans   uint64
	reasons []string
	keys    []string
	hint    string
}

// checkUnclassified runs at each flush: a service whose spans of the current window all failed
// to classify is warned about (at most once per unclassified.warn_interval); a window closes
// after warn_interval or a warning.
func (c *spanMetricsConnector) checkUnclassified(now pcommon.Timestamp) []unclassifiedWarning {
	interval := pcommon.Timestamp(c.cfg.Unclassified.WarnInterval.Nanoseconds())
	var warns []unclassifiedWarning
	for name, s := range c.services {
		if s.winUnclassified > 0 && s.winClassified == 0 && (s.lastWarn == 0 || now-s.lastWarn >= interval) {
			warns = append(warns, s.warning(name))
			s.lastWarn = now
			s.resetWindow(now)
			continue
		}
		if now-s.winStart >= interval {
			s.resetWindow(now)
		}
	}
	sort.Slice(warns, func(i, j int) bool { return warns[i].service < warns[j].service })
	return warns
}

func (s *serviceStats) warning(service string) unclassifiedWarning {
	w := unclassifiedWarning{service: service, spans: s.winUnclassified}
	for r, n := range s.winReasons {
		if n > 0 {
			w.reasons = append(w.reasons, unclassifiedReasonNames[r]+"="+uintString(n))
		}
	}
	keys := append([]keyCount(nil), s.keys[:s.nkeys]...)
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].count != keys[j].count {
			return keys[i].count > keys[j].count
		}
		return keys[i].key < keys[j].key
	})
	if len(keys) > warnKeys {
		keys = keys[:warnKeys]
	}
	for _, k := range keys {
		w.keys = append(w.keys, k.key)
	}
	w.hint = hintFor(s)
	return w
}

// hintFor names the setting most likely to make the service's spans classify.
func hintFor(s *serviceStats) string {
	has := func(prefix string) bool {
		for i := 0; i < s.nkeys; i++ {
			if strings.HasPrefix(s.keys[i].key, prefix) {
				return true
			}
		}
		return false
	}
	switch {
	case s.winReasons[reasonProfileDisabled] > 0:
		return "its spans carry the attributes of a disabled profile: set profiles.<genai|openinference|traceloop>.enabled: true"
	case s.winReasons[reasonUnknownOperation] > 0:
		return "its gen_ai.operation.name values are not listed: add them to operations.agent, operations.tool or operations.model"
	case s.winReasons[reasonOtherSpanKind] > 0:
		return "its span kinds are not mapped: add them to profiles.openinference.span_kinds or profiles.traceloop.span_kinds"
	case s.winReasons[reasonWorkflow]+s.winReasons[reasonChain] > 0:
		return "it sends only workflow or chain spans: instrument agent, tool and model calls, or map the kind in profiles.<openinference|traceloop>.span_kinds"
	case has("llm.") || has("gen_ai."):
		return "its GenAI attributes are not where a profile looks: name them in attributes.* or profiles.<name>.attributes"
	default:
		return "none of its spans carries gen_ai.operation.name, openinference.span.kind or traceloop.span.kind: add a request_rules entry, or a profile's attribute names"
	}
}

func (c *spanMetricsConnector) logUnclassified(warns []unclassifiedWarning) {
	for _, w := range warns {
		c.logger.Warn("A service sends spans none of which is classified: it gets no agent, tool or model metrics",
			zap.String("service", w.service),
			zap.Uint64("spans", w.spans),
			zap.Strings("reasons", w.reasons),
			zap.Strings("attribute_keys_seen", w.keys),
			zap.String("hint", w.hint))
	}
}

// ClassificationShare implements spanclass.Source: the classified and unclassified span counts of
// every tracked service since start, sorted by service.
func (c *spanMetricsConnector) ClassificationShare() spanclass.Snapshot {
	c.lock.Lock()
	defer c.lock.Unlock()
	snap := spanclass.Snapshot{Component: c.id.String(), MaxServices: c.cfg.Unclassified.MaxServices, Services: make([]spanclass.Service, 0, len(c.services))}
	for name, s := range c.services {
		snap.Services = append(snap.Services, spanclass.Service{Name: name, Classified: s.classified, Unclassified: s.unclassified})
	}
	sort.Slice(snap.Services, func(i, j int) bool { return snap.Services[i].Name < snap.Services[j].Name })
	return snap
}

func uintString(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}
