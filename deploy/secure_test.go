package deploy

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The security rule: a shipped configuration whose OTLP receiver listens beyond loopback
// requires a bearer token on every OTLP protocol and on the SLO status API, and reads that token
// from a file (never a `token:` written in a configuration). validateCollector calls
// requireAuthBeyondLoopback, so every configuration the compose and Kubernetes tests run is held
// to it; the Kubernetes test also checks that the token file and the certificates are mounted.

var envRef = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// expandEnv resolves ${env:NAME:-default} as the collector does, with env over the default.
func expandEnv(s string, env map[string]string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		if v, ok := env[sub[1]]; ok {
			return v
		}
		return sub[2]
	})
}

func isLoopbackEndpoint(endpoint string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authProblems lists what a merged configuration lacks for the rule, given its environment.
func authProblems(cfg map[string]any, env map[string]string) []string {
	var problems []string
	exposed := false
	for _, proto := range []string{"grpc", "http"} {
		p := mapAt(cfg, "receivers", "otlp", "protocols", proto)
		if p == nil {
			continue
		}
		ep, _ := p["endpoint"].(string)
		if !isLoopbackEndpoint(expandEnv(ep, env)) {
			exposed = true
		}
	}
	if st := mapAt(cfg, "extensions", "slo_status"); st != nil {
		ep, _ := st["endpoint"].(string)
		if !isLoopbackEndpoint(expandEnv(ep, env)) {
			exposed = true
		}
	}
	if !exposed {
		return nil
	}
	enabled := map[string]bool{}
	for _, e := range strs(listAt(cfg, "service", "extensions")) {
		enabled[e] = true
	}
	checkAuth := func(where string, m map[string]any) {
		a, _ := mapAt(m, "auth")["authenticator"].(string)
		switch {
		case a == "":
			problems = append(problems, where+": no auth.authenticator")
		case componentType(a) != "bearertokenauth":
			problems = append(problems, where+": authenticator "+a+" is not bearertokenauth")
		case !enabled[a]:
			problems = append(problems, where+": authenticator "+a+" is not in service.extensions")
		default:
			ext := mapAt(cfg, "extensions", a)
			if _, inline := ext["token"]; inline {
				problems = append(problems, a+": token written in the configuration; use filename")
			}
			if _, inline := ext["tokens"]; inline {
				problems = append(problems, a+": tokens written in the configuration; use filename")
			}
			if f, _ := ext["filename"].(string); f == "" {
				problems = append(problems, a+": no filename")
			}
		}
	}
	for _, proto := range []string{"grpc", "http"} {
		if p := mapAt(cfg, "receivers", "otlp", "protocols", proto); p != nil {
			checkAuth("receivers.otlp.protocols."+proto, p)
		}
	}
	if st := mapAt(cfg, "extensions", "slo_status"); st != nil && enabled["slo_status"] {
		checkAuth("extensions.slo_status", st)
	}
	return problems
}

func requireAuthBeyondLoopback(t *testing.T, configs []string, env map[string]string) {
	t.Helper()
	assert.Empty(t, authProblems(mergeConfigs(t, configs), env),
		"%v with %v listens beyond loopback, so OTLP and the status API must require a bearer token read from a file", configs, env)
}

func TestTheAuthCheckRejectsAnExposedCollectorWithoutAToken(t *testing.T) {
	base := repo(t, "config/otelcol-amas.yaml")
	exposed := map[string]string{"AMAS_OTLP_GRPC_ENDPOINT": "0.0.0.0:4317", "AMAS_OTLP_HTTP_ENDPOINT": "0.0.0.0:4318", "AMAS_SLO_STATUS_ENDPOINT": "0.0.0.0:13134"}

	assert.Empty(t, authProblems(mergeConfigs(t, []string{base}), nil), "the default configuration is on loopback: no token needed")
	problems := authProblems(mergeConfigs(t, []string{base}), exposed)
	assert.Contains(t, problems, "receivers.otlp.protocols.grpc: no auth.authenticator")
	assert.Contains(t, problems, "receivers.otlp.protocols.http: no auth.authenticator")
	assert.Contains(t, problems, "extensions.slo_status: no auth.authenticator")

	auth := repo(t, "config/overlays/auth.yaml")
	assert.Empty(t, authProblems(mergeConfigs(t, []string{base, auth}), exposed), "the auth overlay covers every exposed endpoint")

	inline := filepath.Join(t.TempDir(), "inline.yaml")
	require.NoError(t, os.WriteFile(inline, []byte("extensions:\n  bearertokenauth:\n    token: s3cret\n"), 0o644))
	assert.Contains(t, authProblems(mergeConfigs(t, []string{base, auth, inline}), exposed),
		"bearertokenauth: token written in the configuration; use filename")

	dropped := filepath.Join(t.TempDir(), "dropped.yaml")
	require.NoError(t, os.WriteFile(dropped, []byte("service:\n  extensions: [health_check, file_storage, slo_status]\n"), 0o644))
	assert.Contains(t, authProblems(mergeConfigs(t, []string{base, auth, dropped}), exposed),
		"receivers.otlp.protocols.grpc: authenticator bearertokenauth is not in service.extensions")
}

// No token is written anywhere in the repository's configurations and manifests.
func TestNoShippedFileWritesABearerToken(t *testing.T) {
	inline := regexp.MustCompile(`(?m)^\s*tokens?:\s*\S`)
	for _, dir := range []string{"config", "deploy"} {
		require.NoError(t, filepath.Walk(repo(t, dir), func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
				return err
			}
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.False(t, inline.Match(b), "%s writes a token; read it from a file (bearertokenauth filename)", p)
			return nil
		}))
	}
}

// secretMounts checks, for one Kubernetes container, that the token file and the TLS files its
// merged configuration names are inside mounted Secrets, and that a mounted TLS Secret is used
// by OTLP (gRPC and HTTP) and, when served, the status API.
func secretMounts(t *testing.T, name string, pod, container map[string]any, configs []string, env map[string]string) {
	t.Helper()
	secretVolumes := map[string]string{} // volume name -> secret name
	for _, v := range listAt(pod, "volumes") {
		vm, _ := v.(map[string]any)
		if s := mapAt(vm, "secret"); s != nil {
			secretVolumes[vm["name"].(string)] = s["secretName"].(string)
		}
	}
	mounted := map[string]string{} // mount path -> secret name
	for _, vm := range listAt(container, "volumeMounts") {
		m, _ := vm.(map[string]any)
		if s, ok := secretVolumes[m["name"].(string)]; ok {
			mounted[m["mountPath"].(string)] = s
		}
	}
	inSecret := func(path string) bool {
		for dir := range mounted {
			if strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/") {
				return true
			}
		}
		return false
	}
	cfg := mergeConfigs(t, configs)
	f, _ := mapAt(cfg, "extensions", "bearertokenauth")["filename"].(string)
	require.NotEmpty(t, f, "%s: bearertokenauth reads a file", name)
	assert.True(t, inSecret(expandEnv(f, env)), "%s: the token file %s is in a mounted Secret (%v)", name, expandEnv(f, env), mounted)

	tlsUsers := []map[string]any{mapAt(cfg, "receivers", "otlp", "protocols", "grpc"), mapAt(cfg, "receivers", "otlp", "protocols", "http")}
	if mapAt(cfg, "extensions", "slo_status") != nil {
		tlsUsers = append(tlsUsers, mapAt(cfg, "extensions", "slo_status"))
	}
	for i, u := range tlsUsers {
		tls := mapAt(u, "tls")
		require.NotNil(t, tls, "%s: server %d has a tls block (certificates are mounted)", name, i)
		for _, k := range []string{"cert_file", "key_file"} {
			p, _ := tls[k].(string)
			assert.True(t, inSecret(expandEnv(p, env)), "%s: server %d tls.%s %q is in a mounted Secret", name, i, k, p)
		}
	}
	// The gateway's hop to the replicas: the token and a verified TLS connection.
	if lb := mapAt(cfg, "exporters", "load_balancing", "protocol", "otlp"); lb != nil {
		a, _ := mapAt(lb, "auth")["authenticator"].(string)
		assert.Equal(t, "bearertokenauth", a, "%s: the gateway sends the token to the replicas", name)
		tls := mapAt(lb, "tls")
		assert.Equal(t, false, tls["insecure"], "%s: the gateway → replica hop uses TLS", name)
		ca, _ := tls["ca_file"].(string)
		assert.True(t, inSecret(expandEnv(ca, env)), "%s: the replicas' CA %q is in a mounted Secret", name, ca)
	}
}

func TestComposeMountsTheTokenAsASecretFromTheEnvironment(t *testing.T) {
	dir, services := loadCompose(t)
	col := services["otelcol-amas"]
	require.NotNil(t, col)
	assert.Contains(t, strs(listAt(col.spec, "secrets")), "otlp_token")
	assert.Equal(t, "/run/secrets/otlp_token", col.env["AMAS_AUTH_TOKEN_FILE"], "compose mounts secrets at /run/secrets/<name>")
	docs, err := yamlDocs(filepath.Join(dir, "docker-compose.yaml"))
	require.NoError(t, err)
	sec := mapAt(docs[0], "secrets", "otlp_token")
	require.NotNil(t, sec)
	assert.Equal(t, "AMAS_OTLP_TOKEN", sec["environment"], "the token comes from the environment of `docker compose up`, not a file in the repository")
}
