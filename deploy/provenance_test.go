package deploy

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The alert provenance rule: only the slo and regression processors may write amas_alerts,
// amas_slo_* and amas_performance_regression*. They remove those names from every batch they
// did not emit themselves, so a metrics pipeline that ends in the alert exporter is safe only
// if it contains one of them. These tests hold every shipped collector configuration to it.

// mergeConfigs merges collector config files as the collector does with several --config
// flags: maps merge key by key, anything else is replaced by the later file.
func mergeConfigs(t *testing.T, paths []string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, yaml.Unmarshal(b, &m), p)
		mergeInto(out, m)
	}
	return out
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func componentType(id string) string {
	typ, _, _ := strings.Cut(id, "/")
	return typ
}

// alertPipelinesWithoutEmitter lists the pipelines that export to an alert exporter without
// passing a slo or regression processor.
func alertPipelinesWithoutEmitter(cfg map[string]any) []string {
	var bad []string
	for name, p := range mapAt(cfg, "service", "pipelines") {
		pm, _ := p.(map[string]any)
		toAlert := false
		for _, e := range strs(listAt(pm, "exporters")) {
			toAlert = toAlert || componentType(e) == "alert"
		}
		if !toAlert {
			continue
		}
		gated := false
		for _, proc := range strs(listAt(pm, "processors")) {
			switch componentType(proc) {
			case "slo", "regression":
				gated = true
			}
		}
		if !gated {
			bad = append(bad, name)
		}
	}
	sort.Strings(bad)
	return bad
}

// requireAlertProvenance fails when the merged configuration breaks the rule. validateCollector
// calls it, so every configuration the compose and Kubernetes tests run is held to it.
func requireAlertProvenance(t *testing.T, configs []string) {
	t.Helper()
	assert.Empty(t, alertPipelinesWithoutEmitter(mergeConfigs(t, configs)),
		"%v: a pipeline that exports to alert must contain slo or regression, which drop forged alert states", configs)
}

func TestEveryShippedConfigurationSendsAlertsOnlyThroughAnEmitter(t *testing.T) {
	base := repo(t, "config/otelcol-amas.yaml")
	sets := [][]string{
		{base},
		{base, repo(t, "config/overlays/alertmanager.yaml")},
		{base, repo(t, "config/overlays/jaeger.yaml")},
		{base, repo(t, "config/overlays/jaeger.yaml"), repo(t, "config/overlays/alertmanager.yaml")},
		{base, repo(t, "deploy/replica/slo-by-service.yaml"), repo(t, "deploy/compose/otelcol/alert-receivers.yaml")},
		{repo(t, "deploy/gateway/gateway.yaml")},
	}
	// And every collector configuration file on its own (a file with a service section).
	for _, dir := range []string{"config", "deploy"} {
		require.NoError(t, filepath.Walk(repo(t, dir), func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
				return err
			}
			docs, err := yamlDocs(p)
			if err != nil {
				return err
			}
			for _, d := range docs {
				if mapAt(d, "service", "pipelines") != nil {
					sets = append(sets, []string{p})
					break
				}
			}
			return nil
		}))
	}
	alerting := 0
	for _, set := range sets {
		cfg := mergeConfigs(t, set)
		assert.Empty(t, alertPipelinesWithoutEmitter(cfg), "%v", set)
		if mapAt(cfg, "exporters", "alert") != nil {
			alerting++
		}
	}
	assert.Positive(t, alerting, "the check saw configurations that do alert")
}

func TestTheProvenanceCheckRejectsAnAlertPipelineWithoutAnEmitter(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.yaml")
	require.NoError(t, os.WriteFile(base, []byte(`
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, slo/x, batch]
      exporters: [prometheus, alert]
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_grpc]
`), 0o644))
	overlay := filepath.Join(dir, "overlay.yaml")
	require.NoError(t, os.WriteFile(overlay, []byte(`
service:
  pipelines:
    metrics/raw:
      receivers: [otlp]
      processors: [batch]
      exporters: [alert/pages]
`), 0o644))
	assert.Empty(t, alertPipelinesWithoutEmitter(mergeConfigs(t, []string{base})))
	assert.Equal(t, []string{"metrics/raw"}, alertPipelinesWithoutEmitter(mergeConfigs(t, []string{base, overlay})))
}
