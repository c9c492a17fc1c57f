// Package deploy checks the deployment files of deploy/ as far as this machine can without
// Docker or Kubernetes: every YAML parses; every file a compose service or a Kubernetes pod
// mounts exists; the collector configurations the containers run (the image's files from the
// Dockerfile, the mounted overlays, the container's environment) pass `otelcol-amas validate`;
// the Prometheus configuration and the generated rules pass `promtool check config` and
// `promtool check rules`; the Alertmanager configuration passes `amtool check-config`; every
// host:port that one service's configuration names is a service of the stack exposing that port.
package deploy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// ---- helpers -------------------------------------------------------------------------------

func repo(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(harness.RepoRoot(t), rel)
}

// yamlDocs decodes every document of a YAML file.
func yamlDocs(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, len(docs)+1, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

func mapAt(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := m[k].(map[string]any)
		if next == nil {
			return nil
		}
		m = next
	}
	return m
}

func listAt(m map[string]any, keys ...string) []any {
	if len(keys) == 0 {
		return nil
	}
	parent := mapAt(m, keys[:len(keys)-1]...)
	if parent == nil {
		return nil
	}
	l, _ := parent[keys[len(keys)-1]].([]any)
	return l
}

func strs(l []any) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// fsMap maps container paths (files or directories) to host paths.
type fsMap map[string]string

// resolve returns the host path of a container path, through the longest mapped prefix.
func (m fsMap) resolve(p string) (string, bool) {
	best := ""
	for c := range m {
		if (p == c || strings.HasPrefix(p, strings.TrimSuffix(c, "/")+"/")) && len(c) > len(best) {
			best = c
		}
	}
	if best == "" {
		return "", false
	}
	return filepath.Join(m[best], strings.TrimPrefix(p, best)), true
}

// materialize copies the mapped files into a temporary root, so tools that follow relative
// paths (Prometheus' rule_files) see the container's layout.
func (m fsMap) materialize(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for c, h := range m {
		info, err := os.Stat(h)
		require.NoError(t, err, "mounted %s -> %s", h, c)
		if !info.IsDir() {
			copyFile(t, h, filepath.Join(root, c))
			continue
		}
		require.NoError(t, filepath.Walk(h, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(h, p)
			copyFile(t, p, filepath.Join(root, c, rel))
			return nil
		}))
	}
	return root
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o755))
	require.NoError(t, os.WriteFile(to, b, 0o644))
}

// dockerfile is what the repository's Dockerfile puts in the final image: files copied from the
// build context and ENV variables.
type dockerfile struct {
	files fsMap
	env   map[string]string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(repo(t, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	cur := ""
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		lines = append(lines, cur+l)
		cur = ""
	}
	require.NoError(t, sc.Err())
	d := dockerfile{files: fsMap{}, env: map[string]string{}}
	final := false
	for _, l := range lines {
		fields := strings.Fields(l)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			// Only the last stage is the image.
			d, final = dockerfile{files: fsMap{}, env: map[string]string{}}, true
		case "COPY":
			if !final || strings.Contains(l, "--from=") {
				continue
			}
			var args []string
			for _, a := range fields[1:] {
				if !strings.HasPrefix(a, "--") {
					args = append(args, a)
				}
			}
			require.GreaterOrEqual(t, len(args), 2, "Dockerfile: %q", l)
			dst := args[len(args)-1]
			if len(args) == 2 && !strings.HasSuffix(dst, "/") {
				d.files[dst] = repo(t, strings.TrimSuffix(args[0], "/"))
				continue
			}
			for _, src := range args[:len(args)-1] {
				d.files[strings.TrimSuffix(dst, "/")] = repo(t, strings.TrimSuffix(src, "/"))
				if !strings.HasSuffix(src, "/") {
					delete(d.files, strings.TrimSuffix(dst, "/"))
					d.files[filepath.Join(dst, filepath.Base(src))] = repo(t, src)
				}
			}
		case "ENV":
			for _, kv := range fields[1:] {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "Dockerfile ENV %q: want KEY=value", kv)
				d.env[k] = v
			}
		}
	}
	require.NotEmpty(t, d.files, "the Dockerfile copies the configuration into the image")
	return d
}

// validateCollector runs `otelcol-amas validate` on configs (host paths) with env.
func validateCollector(t *testing.T, configs []string, env map[string]string) (int, string) {
	t.Helper()
	requireAlertProvenance(t, configs)
	requireAuthBeyondLoopback(t, configs, env)
	args := []string{"validate"}
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(harness.CollectorBinary(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

func run(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(harness.SystemBinary(t, name), args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

// configArgs returns the values of --config flags (--config=x or --config x).
func configArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--config="):
			out = append(out, strings.TrimPrefix(a, "--config="))
		case a == "--config" && i+1 < len(args):
			out = append(out, args[i+1])
			i++
		}
	}
	return out
}

// ---- every YAML file -------------------------------------------------------------------------

func TestEveryYAMLFileUnderDeployParses(t *testing.T) {
	var files []string
	require.NoError(t, filepath.Walk(repo(t, "deploy"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	}))
	require.GreaterOrEqual(t, len(files), 10, "compose, its configs, the gateway, the replica overlay and the Kubernetes manifests")
	for _, f := range files {
		docs, err := yamlDocs(f)
		if assert.NoError(t, err) {
			assert.NotEmpty(t, docs, "%s holds at least one document", f)
		}
	}
}

// ---- docker compose --------------------------------------------------------------------------

type composeService struct {
	name    string
	spec    map[string]any
	mounts  fsMap // container path -> host path (bind mounts only)
	expose  map[string]bool
	env     map[string]string
	command []string
}

func loadCompose(t *testing.T) (string, map[string]*composeService) {
	t.Helper()
	dir := repo(t, "deploy/compose")
	docs, err := yamlDocs(filepath.Join(dir, "docker-compose.yaml"))
	require.NoError(t, err)
	require.Len(t, docs, 1)
	services := map[string]*composeService{}
	for name, raw := range mapAt(docs[0], "services") {
		spec, _ := raw.(map[string]any)
		s := &composeService{name: name, spec: spec, mounts: fsMap{}, expose: map[string]bool{}, env: map[string]string{}}
		for _, v := range strs(listAt(spec, "volumes")) {
			parts := strings.Split(v, ":")
			require.GreaterOrEqual(t, len(parts), 2, "%s: volume %q", name, v)
			if !strings.HasPrefix(parts[0], ".") && !strings.HasPrefix(parts[0], "/") {
				continue // a named volume
			}
			s.mounts[parts[1]] = filepath.Join(dir, parts[0])
		}
		for _, p := range strs(listAt(spec, "expose")) {
			s.expose[p] = true
		}
		for _, p := range strs(listAt(spec, "ports")) {
			parts := strings.Split(p, ":")
			s.expose[parts[len(parts)-1]] = true
		}
		for k, v := range mapAt(spec, "environment") {
			s.env[k] = fmt.Sprint(v)
		}
		s.command = strs(listAt(spec, "command"))
		services[name] = s
	}
	return dir, services
}

func TestComposeServicesMountFilesThatExistAndDependOnServicesThatExist(t *testing.T) {
	dir, services := loadCompose(t)
	for _, want := range []string{"otelcol-amas", "prometheus", "alertmanager", "jaeger", "grafana"} {
		require.Contains(t, services, want, "the AMAS specification's stack has a %s service", want)
	}
	for _, s := range services {
		for c, h := range s.mounts {
			_, err := os.Stat(h)
			assert.NoError(t, err, "%s mounts %s at %s: the file must exist", s.name, h, c)
		}
		for _, d := range strs(listAt(s.spec, "depends_on")) {
			assert.Contains(t, services, d, "%s depends on %s", s.name, d)
		}
		if b := mapAt(s.spec, "build"); b != nil {
			ctx := filepath.Join(dir, fmt.Sprint(b["context"]))
			_, err := os.Stat(filepath.Join(ctx, fmt.Sprint(b["dockerfile"])))
			assert.NoError(t, err, "%s builds from an existing Dockerfile", s.name)
		}
	}
}

var hostPort = regexp.MustCompile(`\b([a-z][a-z0-9-]*):([0-9]{2,5})\b`)

// TestComposeConfigsPointAtEachOther finds every host:port in each service's mounted
// configuration files and environment whose host is a service of the stack, and checks that
// service exposes the port.
func TestComposeConfigsPointAtEachOther(t *testing.T) {
	_, services := loadCompose(t)
	found := map[string]bool{}
	check := func(from, where, text string) {
		for _, m := range hostPort.FindAllStringSubmatch(text, -1) {
			target, ok := services[m[1]]
			if !ok {
				continue
			}
			found[from+" -> "+m[1]+":"+m[2]] = true
			assert.True(t, target.expose[m[2]], "%s (%s) points at %s:%s, which %s does not expose", from, where, m[1], m[2], m[1])
		}
	}
	for _, s := range services {
		for k, v := range s.env {
			check(s.name, "environment "+k, v)
		}
		for c, h := range s.mounts {
			info, err := os.Stat(h)
			require.NoError(t, err)
			if info.IsDir() {
				continue
			}
			b, err := os.ReadFile(h)
			require.NoError(t, err)
			check(s.name, c, string(b))
		}
	}
	// The links the stack needs.
	for _, want := range []string{
		"otelcol-amas -> jaeger:4317",
		"otelcol-amas -> alertmanager:9093",
		"prometheus -> otelcol-amas:8889",
		"prometheus -> alertmanager:9093",
		"grafana -> prometheus:9090",
		"grafana -> jaeger:16686",
	} {
		assert.True(t, found[want], "missing link %s (found %v)", want, keys(found))
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestComposeCollectorConfigPassesValidate(t *testing.T) {
	_, services := loadCompose(t)
	col := services["otelcol-amas"]
	require.NotNil(t, col)
	df := readDockerfile(t)
	files := fsMap{}
	for c, h := range df.files {
		files[c] = h
	}
	for c, h := range col.mounts {
		files[c] = h
	}
	env := map[string]string{}
	for k, v := range df.env {
		env[k] = v
	}
	for k, v := range col.env {
		env[k] = v
	}
	// The image's ENTRYPOINT runs the command's flags.
	paths := configArgs(col.command)
	require.NotEmpty(t, paths, "the collector's command names its --config files")
	var host []string
	for _, p := range paths {
		h, ok := files.resolve(p)
		require.True(t, ok, "--config %s is neither in the image (Dockerfile COPY) nor mounted", p)
		host = append(host, h)
	}
	code, out := validateCollector(t, host, env)
	assert.Equal(t, 0, code, "otelcol-amas validate %v with %v:\n%s", paths, env, out)

	// The check can fail: the same files plus an overlay with an impossible objective do not pass.
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	require.NoError(t, os.WriteFile(broken, []byte("processors:\n  slo:\n    slos:\n      - name: x\n        objective: 1.5\n        window: 720h\n        sli: {spans: {bad_conditions: ['status.code == STATUS_CODE_ERROR']}}\n"), 0o644))
	code, _ = validateCollector(t, append(host, broken), env)
	assert.NotEqual(t, 0, code, "validate rejects a bad configuration")
}

func TestComposePrometheusConfigAndGeneratedRulesPassPromtool(t *testing.T) {
	_, services := loadCompose(t)
	prom := services["prometheus"]
	require.NotNil(t, prom)
	root := prom.mounts.materialize(t)
	var cfg string
	for _, a := range prom.command {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			cfg = filepath.Join(root, v)
		}
	}
	require.NotEmpty(t, cfg, "prometheus' command names its --config.file")
	code, out := run(t, "promtool", "check", "config", cfg)
	require.Equal(t, 0, code, out)
	// promtool checks the rule files the config's rule_files find; there must be some.
	m := regexp.MustCompile(`SUCCESS: (\d+) rules found`).FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, m, "the generated rules are loaded:\n%s", out)
	n, _ := strconv.Atoi(m[0][1])
	assert.Greater(t, n, 0, out)

	code, out = run(t, "promtool", "check", "rules", repo(t, "config/observability/prometheus_alerts.yaml"))
	assert.Equal(t, 0, code, out)
}

func TestComposeAlertmanagerConfigPassesAmtool(t *testing.T) {
	_, services := loadCompose(t)
	am := services["alertmanager"]
	require.NotNil(t, am)
	var cfg string
	for _, a := range am.command {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			cfg, _ = am.mounts.resolve(v)
		}
	}
	require.NotEmpty(t, cfg, "alertmanager's --config.file is mounted")
	code, out := run(t, "amtool", "check-config", cfg)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "SUCCESS")
}

func TestComposeGrafanaProvisionsTheDatasourcesAndTheGeneratedDashboards(t *testing.T) {
	_, services := loadCompose(t)
	g := services["grafana"]
	require.NotNil(t, g)
	ds, ok := g.mounts.resolve("/etc/grafana/provisioning/datasources/datasources.yaml")
	require.True(t, ok, "datasources are provisioned")
	docs, err := yamlDocs(ds)
	require.NoError(t, err)
	types := map[string]bool{}
	for _, d := range listAt(docs[0], "datasources") {
		m, _ := d.(map[string]any)
		types[fmt.Sprint(m["type"])] = true
	}
	assert.True(t, types["prometheus"] && types["jaeger"], "Prometheus and Jaeger datasources: %v", types)

	prov, ok := g.mounts.resolve("/etc/grafana/provisioning/dashboards/dashboards.yaml")
	require.True(t, ok, "dashboards are provisioned")
	docs, err = yamlDocs(prov)
	require.NoError(t, err)
	providers := listAt(docs[0], "providers")
	require.NotEmpty(t, providers)
	path := fmt.Sprint(mapAt(providers[0].(map[string]any), "options")["path"])
	dir, ok := g.mounts.resolve(path)
	require.True(t, ok, "the provider's path %s is mounted", path)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var dashboards int
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		var db map[string]any
		require.NoError(t, json.Unmarshal(b, &db), "%s is one dashboard object (Grafana's file provider reads one per file)", e.Name())
		assert.NotEmpty(t, db["uid"], e.Name())
		assert.NotEmpty(t, db["panels"], e.Name())
		dashboards++
	}
	assert.GreaterOrEqual(t, dashboards, 1, "the generated dashboards are in the provisioned directory")
}

// ---- the two tiers ---------------------------------------------------------------------------

func TestGatewayAndReplicaConfigsPassValidate(t *testing.T) {
	code, out := validateCollector(t, []string{repo(t, "deploy/gateway/gateway.yaml")},
		map[string]string{"AMAS_GATEWAY_BACKENDS": "[replica-0:4317, replica-1:4317]"})
	assert.Equal(t, 0, code, out)
	code, out = validateCollector(t, []string{repo(t, "config/otelcol-amas.yaml"), repo(t, "deploy/replica/slo-by-service.yaml")}, nil)
	assert.Equal(t, 0, code, out)
}

// ---- Kubernetes ------------------------------------------------------------------------------

type k8sObject struct {
	kind, name, file string
	doc              map[string]any
}

func loadKubernetes(t *testing.T) []k8sObject {
	t.Helper()
	matches, err := filepath.Glob(repo(t, "deploy/kubernetes/*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, matches)
	var objs []k8sObject
	for _, f := range matches {
		docs, err := yamlDocs(f)
		require.NoError(t, err)
		for _, d := range docs {
			md := mapAt(d, "metadata")
			require.NotNil(t, md, "%s: every object has metadata", f)
			require.NotEmpty(t, d["apiVersion"], "%s: apiVersion", f)
			objs = append(objs, k8sObject{kind: fmt.Sprint(d["kind"]), name: fmt.Sprint(md["name"]), file: f, doc: d})
		}
	}
	return objs
}

// configMapSources are the repository files each ConfigMap key must hold verbatim.
var configMapSources = map[string]string{
	"otelcol-amas-gateway/gateway.yaml":         "deploy/gateway/gateway.yaml",
	"otelcol-amas-gateway/secure.yaml":          "deploy/gateway/secure.yaml",
	"otelcol-amas-replica/slo-by-service.yaml":  "deploy/replica/slo-by-service.yaml",
	"otelcol-amas-replica/alert-receivers.yaml": "deploy/compose/otelcol/alert-receivers.yaml",
}

func TestKubernetesManifestsRunValidConfigsForBothTiers(t *testing.T) {
	objs := loadKubernetes(t)
	configMaps := map[string]map[string]any{}
	for _, o := range objs {
		if o.kind == "ConfigMap" {
			configMaps[o.name] = mapAt(o.doc, "data")
		}
	}
	for key, src := range configMapSources {
		cm, k, _ := strings.Cut(key, "/")
		require.Contains(t, configMaps, cm)
		want, err := os.ReadFile(repo(t, src))
		require.NoError(t, err)
		assert.Equal(t, string(want), configMaps[cm][k], "ConfigMap %s key %s must be %s verbatim (copy it again after editing)", cm, k, src)
	}

	df := readDockerfile(t)
	var workloads, statefulReplicas int
	for _, o := range objs {
		if o.kind == "StatefulSet" {
			statefulReplicas, _ = mapAt(o.doc, "spec")["replicas"].(int)
		}
	}
	require.Positive(t, statefulReplicas, "the replica StatefulSet sets replicas")
	podLabels := map[string]map[string]any{}
	for _, o := range objs {
		if o.kind != "Deployment" && o.kind != "StatefulSet" {
			continue
		}
		workloads++
		podLabels[o.name] = mapAt(o.doc, "spec", "template", "metadata", "labels")
		pod := mapAt(o.doc, "spec", "template", "spec")
		volumes := map[string]string{} // volume name -> ConfigMap name
		for _, v := range listAt(pod, "volumes") {
			vm, _ := v.(map[string]any)
			if cm := mapAt(vm, "configMap"); cm != nil {
				volumes[fmt.Sprint(vm["name"])] = fmt.Sprint(cm["name"])
			}
		}
		for _, c := range listAt(pod, "containers") {
			cm, _ := c.(map[string]any)
			// The container's files: the image's, and its mounted ConfigMaps written out.
			files := fsMap{}
			for k, v := range df.files {
				files[k] = v
			}
			for _, vm := range listAt(cm, "volumeMounts") {
				m, _ := vm.(map[string]any)
				cmName, ok := volumes[fmt.Sprint(m["name"])]
				if !ok {
					continue
				}
				require.Contains(t, configMaps, cmName, "%s mounts ConfigMap %s", o.name, cmName)
				dir := t.TempDir()
				for k, v := range configMaps[cmName] {
					require.NoError(t, os.WriteFile(filepath.Join(dir, k), []byte(fmt.Sprint(v)), 0o644))
				}
				files[fmt.Sprint(m["mountPath"])] = dir
			}
			env := map[string]string{}
			for k, v := range df.env {
				env[k] = v
			}
			for _, e := range listAt(cm, "env") {
				em, _ := e.(map[string]any)
				if v, ok := em["value"]; ok {
					env[fmt.Sprint(em["name"])] = fmt.Sprint(v)
				}
			}
			var host []string
			for _, p := range configArgs(strs(listAt(cm, "args"))) {
				h, ok := files.resolve(p)
				require.True(t, ok, "%s: --config %s is neither in the image nor mounted", o.name, p)
				host = append(host, h)
			}
			require.NotEmpty(t, host, "%s: the container names its --config files", o.name)
			code, out := validateCollector(t, host, env)
			assert.Equal(t, 0, code, "%s (%s): otelcol-amas validate:\n%s", o.name, o.file, out)
			secretMounts(t, o.name, pod, cm, host, env)

			// The gateway lists every replica of the StatefulSet, and nothing else.
			if b, ok := env["AMAS_GATEWAY_BACKENDS"]; ok {
				var list []string
				require.NoError(t, yaml.Unmarshal([]byte(b), &list), "AMAS_GATEWAY_BACKENDS is a YAML list")
				assert.Len(t, list, statefulReplicas, "the gateway lists one backend per replica of the StatefulSet")
				for i, h := range list {
					assert.True(t, strings.HasPrefix(h, fmt.Sprintf("otelcol-amas-%d.otelcol-amas-headless.", i)), "backend %d is replica %d by its stable name: %s", i, i, h)
				}
			}
		}
	}
	assert.Equal(t, 2, workloads, "a gateway Deployment and a replica StatefulSet")

	// Every Service selects the pods of a workload.
	for _, o := range objs {
		if o.kind != "Service" {
			continue
		}
		sel := mapAt(o.doc, "spec", "selector")
		matched := false
		for _, labels := range podLabels {
			ok := len(sel) > 0
			for k, v := range sel {
				if labels[k] != v {
					ok = false
				}
			}
			matched = matched || ok
		}
		assert.True(t, matched, "Service %s selects the pods of a workload", o.name)
	}
}
