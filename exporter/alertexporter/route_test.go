package alertexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func routingTree() *route {
	rc := RouteConfig{
		Receiver: "default", GroupBy: []string{"alertname"}, GroupWait: time.Second, GroupInterval: time.Minute, RepeatInterval: time.Hour,
		Routes: []RouteConfig{
			{Matchers: []string{`severity="critical"`}, Receiver: "pager", Continue: true},
			{Matchers: []string{`severity=~"critical|high"`}, Receiver: "chat", GroupBy: []string{"slo"},
				Routes: []RouteConfig{{Matchers: []string{`agent="billing"`}, Receiver: "billing-team", GroupWait: 5 * time.Second}}},
			{Matchers: []string{`alertname="PerformanceRegression"`, `type!="cost_regression"`}, Receiver: "perf"},
		},
	}
	return compileRoute(&rc, nil, "0")
}

func TestRoutingSendsEachAlertToTheRightReceivers(t *testing.T) {
	cases := []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"a critical alert pages and, by continue, also goes to chat", map[string]string{"severity": "critical", "slo": "a"}, []string{"pager", "chat"}},
		{"a high alert goes to chat only", map[string]string{"severity": "high"}, []string{"chat"}},
		{"a high alert of the billing agent goes to the nested billing route", map[string]string{"severity": "high", "agent": "billing"}, []string{"billing-team"}},
		{"a warning latency regression goes to perf", map[string]string{"severity": "warning", "alertname": "PerformanceRegression", "type": "latency_regression"}, []string{"perf"}},
		{"a cost regression falls through to the default receiver", map[string]string{"severity": "warning", "alertname": "PerformanceRegression", "type": "cost_regression"}, []string{"default"}},
		{"an alert with no severity takes the root's receiver", map[string]string{}, []string{"default"}},
	}
	root := routingTree()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, r := range root.match(c.labels) {
				got = append(got, r.receiver)
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestChildRoutesInheritUnsetSettings(t *testing.T) {
	root := routingTree()
	billing := root.children[1].children[0]
	assert.Equal(t, 5*time.Second, billing.groupWait, "its own")
	assert.Equal(t, time.Minute, billing.groupInterval, "from the root")
	assert.Equal(t, []string{"slo"}, billing.groupBy, "from its parent")
	assert.Equal(t, []string{"alertname"}, root.children[0].groupBy)
}

func TestGroupingPutsAlertsWithEqualGroupLabelsTogether(t *testing.T) {
	cases := []struct {
		name    string
		groupBy []string
		alerts  []map[string]string
		groups  int
	}{
		{"by alertname, two SLOs burning share a group", []string{"alertname"},
			[]map[string]string{{"alertname": "Burn", "slo": "a"}, {"alertname": "Burn", "slo": "b"}}, 1},
		{"by slo, two SLOs make two groups", []string{"slo"},
			[]map[string]string{{"alertname": "Burn", "slo": "a"}, {"alertname": "Burn", "slo": "b"}}, 2},
		{"by a label no alert has, everything is one group", []string{"team"},
			[]map[string]string{{"slo": "a"}, {"slo": "b"}, {"operation": "chat"}}, 1},
		{"by ..., every distinct label set is its own group", []string{"..."},
			[]map[string]string{{"slo": "a"}, {"slo": "b"}, {"slo": "a"}}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := compileRoute(&RouteConfig{Receiver: "x", GroupBy: c.groupBy}, nil, "0")
			keys := map[string]bool{}
			for _, l := range c.alerts {
				keys[groupKey(r, r.groupLabels(l))] = true
			}
			assert.Len(t, keys, c.groups)
		})
	}
}

// TestAddingARouteDoesNotChangeTheGroupKeysOfTheOthers: the group key names the notification
// log and, hashed, PagerDuty's dedup_key. Inserting a route in front of another must not move
// the other's open incidents to a new key (whose resolve the old incident would never get).
func TestAddingARouteDoesNotChangeTheGroupKeysOfTheOthers(t *testing.T) {
	labels := map[string]string{"alertname": "Burn", "severity": "critical", "slo": "a"}
	pages := RouteConfig{Matchers: []string{`severity=~"critical|high"`}, Receiver: "pages"}
	before := RouteConfig{Receiver: "tickets", GroupBy: []string{"slo"}, Routes: []RouteConfig{pages}}
	after := RouteConfig{Receiver: "tickets", GroupBy: []string{"slo"}, Routes: []RouteConfig{
		{Matchers: []string{`team="billing"`}, Receiver: "billing"}, pages}}
	key := func(rc RouteConfig) string {
		root := compileRoute(&rc, nil, rootRouteID)
		m := root.match(labels)
		assert.Len(t, m, 1)
		assert.Equal(t, "pages", m[0].receiver)
		return groupKey(m[0], m[0].groupLabels(labels))
	}
	assert.Equal(t, key(before), key(after))

	// Two sibling routes with the same matchers still get distinct keys.
	twins := compileRoute(&RouteConfig{Receiver: "x", Routes: []RouteConfig{
		{Matchers: []string{`a="1"`}, Receiver: "y", Continue: true}, {Matchers: []string{`a = "1"`}, Receiver: "z"}}}, nil, rootRouteID)
	assert.NotEqual(t, twins.children[0].id, twins.children[1].id)
}

// TestMatchersPastedFromAlertmanagerYmlRouteAlike: a route's matchers are read with
// Alertmanager's parser, so the forms alertmanager.yml holds (a brace list in one entry, a
// comma list, unquoted values) route like the one-matcher-per-entry form; and a route's id, the
// base of its group keys and PagerDuty dedup keys, is the same for every spelling, so the keys
// in a checkpoint written before the parser changed still name the same groups.
func TestMatchersPastedFromAlertmanagerYmlRouteAlike(t *testing.T) {
	spellings := [][]string{
		{`severity=~"critical|high"`, `slo!="canary"`},
		{`{severity=~"critical|high", slo!="canary"}`},
		{`severity=~"critical|high",slo!="canary"`},
		{`slo != canary`, `severity =~ "critical|high"`},
	}
	var ids []string
	for _, m := range spellings {
		root := compileRoute(&RouteConfig{Receiver: "tickets", Routes: []RouteConfig{{Matchers: m, Receiver: "pages"}}}, nil, rootRouteID)
		var got []string
		for _, labels := range []map[string]string{
			{"severity": "critical", "slo": "a"},
			{"severity": "high", "slo": "canary"},
			{"severity": "warning", "slo": "a"},
			{"severity": "high"},
		} {
			got = append(got, root.match(labels)[0].receiver)
		}
		assert.Equal(t, []string{"pages", "tickets", "tickets", "pages"}, got, "%q", m)
		ids = append(ids, root.children[0].id)
	}
	for _, id := range ids {
		assert.Equal(t, `0/{severity=~"critical|high",slo!="canary"}`, id)
	}
}

func TestARouteMatcherOnlyTheClassicParserReadsIsLoggedWithItsQuotedForm(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	warnClassicMatchers(zap.New(core), &RouteConfig{Matchers: []string{`a="1"`}, Routes: []RouteConfig{
		{Matchers: []string{`slo="x"`, `agent=~billing\.eu`}}}}, "route")
	require.Equal(t, 1, logs.Len())
	e := logs.All()[0].ContextMap()
	assert.Equal(t, "route.routes[0].matchers[1]", e["path"])
	assert.Equal(t, `{agent=~"billing\\.eu"}`, e["suggestion"])
}
