package deploy

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// fieldPathOf is the downward-API field an env entry reads ("" for a plain value).
func fieldPathOf(e map[string]any) string {
	if p, ok := mapAt(e, "valueFrom", "fieldRef")["fieldPath"].(string); ok {
		return p
	}
	return ""
}

// The gateway routes by service.name, so every SLO of the replica overlay must be grouped by it
// (or something finer): an SLO without it is judged on every replica over a share of the traffic.
func TestTheReplicaOverlayGroupsEverySLOByTheGatewaysRoutingKey(t *testing.T) {
	gw, err := yamlDocs(repo(t, "deploy/gateway/gateway.yaml"))
	require.NoError(t, err)
	require.Equal(t, "service", mapAt(gw[0], "exporters", "load_balancing")["routing_key"], "the gateway routes by service.name")

	docs, err := yamlDocs(repo(t, "deploy/replica/slo-by-service.yaml"))
	require.NoError(t, err)
	require.Len(t, docs, 1)
	var names []string
	for _, s := range listAt(docs[0], "processors", "slo", "slos") {
		slo := s.(map[string]any)
		names = append(names, slo["name"].(string))
		assert.Contains(t, slo["group_by"], "service.name", "%s is grouped by the routing key", slo["name"])
	}
	var defaults []string
	for _, s := range sloprocessor.DefaultSLOs() {
		defaults = append(defaults, s.Name)
	}
	assert.Equal(t, defaults, names, "the overlay restates the six default SLOs")

	// cost_efficiency reads the connector's counters: they must carry the service.
	var dims []string
	for _, d := range listAt(docs[0], "connectors", "amas_spanmetrics", "dimensions") {
		dims = append(dims, d.(map[string]any)["name"].(string))
	}
	assert.Contains(t, dims, "service.name", "the connector's counters carry service.name for cost_efficiency")

	for _, emitter := range []string{"slo", "regression"} {
		assert.Equal(t, "${env:AMAS_INSTANCE}", mapAt(docs[0], "processors", emitter, "instance_label")["value"],
			"%s labels its series with the replica's name", emitter)
	}
}

// Every replica form (plain StatefulSet, Helm values, Operator resource) gives AMAS_INSTANCE the
// pod's name, so the overlay's instance label differs per replica.
func TestEveryReplicaPodNamesItsInstanceFromTheDownwardAPI(t *testing.T) {
	check := func(where string, env []corev1.EnvVar) {
		i := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == "AMAS_INSTANCE" })
		if !assert.GreaterOrEqual(t, i, 0, "%s sets AMAS_INSTANCE", where) {
			return
		}
		require.NotNil(t, env[i].ValueFrom, where)
		require.NotNil(t, env[i].ValueFrom.FieldRef, where)
		assert.Equal(t, "metadata.name", env[i].ValueFrom.FieldRef.FieldPath, where)
		// The bootstrap's Prometheus: the cluster's, which scrapes every replica.
		j := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == "AMAS_PROMETHEUS_URL" })
		if assert.GreaterOrEqual(t, j, 0, "%s sets AMAS_PROMETHEUS_URL", where) {
			assert.Regexp(t, `^http://prometheus-operated\.[a-z-]+\.svc\.cluster\.local:9090$`, env[j].Value, where)
		}
	}
	found := false
	for _, o := range loadKubernetes(t) {
		if o.kind != "StatefulSet" || o.name != "otelcol-amas" {
			continue
		}
		found = true
		var s appsv1.StatefulSet
		strictDecode(t, o.doc, &s)
		check(o.file, s.Spec.Template.Spec.Containers[0].Env)
	}
	assert.True(t, found, "the replicas' StatefulSet")
	for _, f := range []struct {
		file string
		env  []string
	}{
		{"deploy/helm/replica-values.yaml", []string{"extraEnvs"}},
		{"deploy/operator/otelcol-amas.yaml", []string{"spec", "env"}},
	} {
		docs, err := yamlDocs(repo(t, f.file))
		require.NoError(t, err)
		var env []corev1.EnvVar
		strictDecode(t, listAt(docs[0], f.env...), &env)
		check(f.file, env)
	}
}

// The replica overlay turns the slo processor's bootstrap on from AMAS_PROMETHEUS_URL (off when it
// is unset), and the replica's configuration validates both ways.
func TestTheReplicaOverlayBootstrapsFromThePrometheusItIsGiven(t *testing.T) {
	docs, err := yamlDocs(repo(t, "deploy/replica/slo-by-service.yaml"))
	require.NoError(t, err)
	b := mapAt(docs[0], "processors", "slo", "bootstrap")
	assert.Equal(t, "${env:AMAS_PROMETHEUS_URL:-}", b["endpoint"])
	assert.Equal(t, map[string]any{"amas_instance": "${env:AMAS_INSTANCE}"}, b["matchers"])
	files := []string{repo(t, "config/otelcol-amas.yaml"), repo(t, "deploy/replica/slo-by-service.yaml")}
	for _, env := range []map[string]string{
		{"AMAS_INSTANCE": "otelcol-amas-0", "AMAS_PROMETHEUS_URL": "http://prometheus-operated.observability.svc.cluster.local:9090"},
		{"AMAS_INSTANCE": "otelcol-amas-0"},
	} {
		code, out := validateCollector(t, files, env)
		assert.Equal(t, 0, code, "otelcol-amas validate with %v:\n%s", env, out)
	}
	code, out := validateCollector(t, files, map[string]string{"AMAS_INSTANCE": "otelcol-amas-0", "AMAS_PROMETHEUS_URL": "prometheus:9090"})
	assert.NotEqual(t, 0, code, "a URL without a scheme is refused")
	assert.Contains(t, out, "bootstrap.endpoint")
}

// The remote-write overlay merges onto a replica's configuration and passes validate.
func TestTheRemoteWriteOverlayValidatesOnAReplica(t *testing.T) {
	code, out := validateCollector(t, []string{
		repo(t, "config/otelcol-amas.yaml"), repo(t, "deploy/replica/slo-by-service.yaml"), repo(t, "deploy/replica/remote-write.yaml"),
	}, map[string]string{"AMAS_INSTANCE": "otelcol-amas-0"})
	assert.Equal(t, 0, code, "otelcol-amas validate:\n%s", out)
}
