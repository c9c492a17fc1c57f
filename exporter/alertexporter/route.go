package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/matcher"
)

// route is one compiled node of the routing tree, with inherited settings resolved.
type route struct {
	id             string
	receiver       string
	matchers       []*matcher.Matcher
	groupBy        []string
	groupAll       bool
	groupWait      time.Duration
	groupInterval  time.Duration
	repeatInterval time.Duration
	cont           bool
	children       []*route
}

// compileRoute builds the tree; parent settings fill the child's zero values, as in
// Alertmanager. Config.Validate has already checked matchers.
func compileRoute(rc *RouteConfig, parent *route, id string) *route {
	r := &route{id: id, receiver: rc.Receiver, cont: rc.Continue,
		groupWait: rc.GroupWait, groupInterval: rc.GroupInterval, repeatInterval: rc.RepeatInterval}
	if parent != nil {
		if r.receiver == "" {
			r.receiver = parent.receiver
		}
		if r.groupWait == 0 {
			r.groupWait = parent.groupWait
		}
		if r.groupInterval == 0 {
			r.groupInterval = parent.groupInterval
		}
		if r.repeatInterval == 0 {
			r.repeatInterval = parent.repeatInterval
		}
	}
	if len(rc.GroupBy) > 0 {
		r.groupAll = hasGroupByAll(rc.GroupBy)
		r.groupBy = append([]string(nil), rc.GroupBy...)
		sort.Strings(r.groupBy)
	} else if parent != nil {
		r.groupAll, r.groupBy = parent.groupAll, parent.groupBy
	}
	for _, s := range rc.Matchers {
		if ms, err := matcher.Parse(s); err == nil {
			r.matchers = append(r.matchers, ms...)
		}
	}
	seen := map[string]int{}
	for i := range rc.Routes {
		cid := childRouteID(id, &rc.Routes[i])
		if n := seen[cid]; n > 0 {
			cid += "#" + strconv.Itoa(n) // siblings with equal matchers, told apart by order
		}
		seen[childRouteID(id, &rc.Routes[i])]++
		r.children = append(r.children, compileRoute(&rc.Routes[i], r, cid))
	}
	return r
}

// warnClassicMatchers logs, as Alertmanager does, each matcher that only its classic parser
// accepts (an unquoted value with spaces or backslashes), with the quoted form that both read.
func warnClassicMatchers(logger *zap.Logger, rc *RouteConfig, path string) {
	for i, s := range rc.Matchers {
		if suggestion, ok := matcher.ClassicOnly(s); ok {
			logger.Warn("Route matcher parsed by Alertmanager's classic parser only; quote its values",
				zap.String("path", path+".matchers["+strconv.Itoa(i)+"]"),
				zap.String("matcher", s), zap.String("suggestion", suggestion))
		}
	}
	for i := range rc.Routes {
		warnClassicMatchers(logger, &rc.Routes[i], path+".routes["+strconv.Itoa(i)+"]")
	}
}

// rootRouteID is the id of the root route.
const rootRouteID = "0"

// childRouteID names a child route by its parent and its matchers, as Alertmanager does, not by
// its position: adding a route does not change the group keys (and PagerDuty dedup keys) of the
// others.
func childRouteID(parent string, rc *RouteConfig) string {
	parts := make([]string, 0, len(rc.Matchers))
	for _, s := range rc.Matchers {
		if ms, err := matcher.Parse(s); err == nil {
			for _, m := range ms {
				parts = append(parts, matcher.Canonical(m))
			}
		}
	}
	sort.Strings(parts)
	return parent + "/{" + strings.Join(parts, ",") + "}"
}

// match returns the routes an alert with labels goes to: the deepest matching nodes, walking
// children in order and stopping at the first match unless it has continue set; a node whose
// children do not match takes the alert itself.
func (r *route) match(labels map[string]string) []*route {
	if !matcher.All(r.matchers, labels) {
		return nil
	}
	var out []*route
	for _, c := range r.children {
		m := c.match(labels)
		if len(m) == 0 {
			continue
		}
		out = append(out, m...)
		if !c.cont {
			break
		}
	}
	if len(out) == 0 {
		out = []*route{r}
	}
	return out
}

// groupLabels picks the labels the route groups by.
func (r *route) groupLabels(labels map[string]string) map[string]string {
	out := make(map[string]string, len(r.groupBy))
	if r.groupAll {
		for k, v := range labels {
			out[k] = v
		}
		return out
	}
	for _, k := range r.groupBy {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

// groupKey is the route id and the sorted group labels: stable across restarts, used as the
// notification-log key and (hashed) as PagerDuty's dedup_key.
func groupKey(r *route, gl map[string]string) string {
	keys := make([]string, 0, len(gl))
	for k := range gl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(r.id)
	b.WriteString(":{")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(gl[k]))
	}
	b.WriteByte('}')
	return b.String()
}
