package harness

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Collector is a running otelcol-amas.
type Collector struct {
	*Process
	ConfigPath string
	HealthPort int
	stopped    bool
}

// StartCollector writes config to a file and runs the built binary with it, waiting until the
// health_check extension, which config must enable on 127.0.0.1:healthPort, answers 200. When
// the test ends the collector is sent SIGTERM and must exit cleanly (code 0) within 15 s.
//
// The config must say where the collector's own telemetry goes (service.telemetry.metrics:
// `level: none`, or a pull reader on a FreePort): the default, 8888, would collide between the
// collectors that parallel test packages run. A config that does not mention it is refused.
func StartCollector(tb testing.TB, config string, healthPort int) *Collector {
	tb.Helper()
	if !strings.Contains(config, "telemetry:") {
		tb.Fatal("harness: the collector config must set service.telemetry.metrics (level: none, or a pull reader on a FreePort); the default port 8888 collides between parallel tests")
	}
	dir := tb.TempDir()
	return StartCollectorWithConfigFile(tb, writeFile(tb, dir, "config.yaml", config), healthPort)
}

// StartCollectorWithConfigFile runs the binary with an existing config file (a restart test
// starts a second collector on the same file and storage directory). env adds "KEY=value"
// variables, which configs read as ${env:KEY}.
func StartCollectorWithConfigFile(tb testing.TB, configPath string, healthPort int, env ...string) *Collector {
	tb.Helper()
	return StartCollectorWithConfigFiles(tb, []string{configPath}, healthPort, env...)
}

// StartCollectorWithConfigFiles runs the binary with several --config files, which the
// collector merges in order (maps merge, lists are replaced): a base config and overlays.
func StartCollectorWithConfigFiles(tb testing.TB, configPaths []string, healthPort int, env ...string) *Collector {
	tb.Helper()
	dir := tb.TempDir()
	args := make([]string, 0, 2*len(configPaths))
	for _, p := range configPaths {
		args = append(args, "--config", p)
	}
	c := &Collector{
		Process:    startProcessEnv(tb, "otelcol-amas", dir, env, CollectorBinary(tb), args...),
		ConfigPath: configPaths[0],
		HealthPort: healthPort,
	}
	tb.Cleanup(func() {
		if c.stopped {
			return
		}
		if err := c.Signal(syscall.SIGTERM, 15*time.Second); err != nil {
			tb.Errorf("harness: otelcol-amas did not exit cleanly on SIGTERM: %v\n%s", err, tail(c.Output(), 60))
		}
	})
	waitHTTP200(tb, c.Process, "http://"+Addr(healthPort)+"/", 60*time.Second)
	return c
}

// Stop sends SIGTERM and fails the test unless the collector exits with code 0.
func (c *Collector) Stop(tb testing.TB) {
	tb.Helper()
	c.stopped = true
	if err := c.Signal(syscall.SIGTERM, 15*time.Second); err != nil {
		tb.Fatalf("harness: otelcol-amas did not exit cleanly on SIGTERM: %v\n%s", err, tail(c.Output(), 60))
	}
}

// readyLine is what the collector logs when every component has started, at start and again
// after each configuration reload.
const readyLine = "Everything is ready. Begin running and processing data."

// Reload sends SIGHUP, on which the collector reads its configuration files again and restarts
// its pipelines in the same process, and waits until it has logged readiness once more and its
// health check answers 200. A collector that exits instead fails the test.
func (c *Collector) Reload(tb testing.TB) {
	tb.Helper()
	before := strings.Count(c.Output(), readyLine)
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		tb.Fatalf("harness: sending SIGHUP to otelcol-amas: %v", err)
	}
	Eventually(tb, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		if c.Exited() {
			tb.Fatalf("harness: otelcol-amas exited on SIGHUP instead of reloading: %v\n%s", c.waitErr, tail(c.Output(), 60))
		}
		return strings.Count(c.Output(), readyLine) > before, "otelcol-amas has not logged readiness since SIGHUP"
	})
	waitHTTP200(tb, c.Process, "http://"+Addr(c.HealthPort)+"/", 60*time.Second)
}

// Kill ends the collector with SIGKILL, as a crash would.
func (c *Collector) Kill(tb testing.TB) {
	tb.Helper()
	c.stopped = true
	_ = c.Signal(syscall.SIGKILL, 15*time.Second)
}

// RunCollector runs the binary with args to completion (validate, components, a bad config...)
// and returns its exit code and output.
func RunCollector(tb testing.TB, args ...string) (int, string) {
	tb.Helper()
	cmd := exec.Command(CollectorBinary(tb), args...)
	cmd.Dir = tb.TempDir()
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err == nil {
		return 0, string(out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	tb.Fatalf("harness: running otelcol-amas %s: %v", strings.Join(args, " "), err)
	return -1, ""
}

// MetricsURL is the URL of a Prometheus exporter endpoint on port.
func MetricsURL(port int) string { return "http://" + Addr(port) + "/metrics" }

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) <= lines {
		return s
	}
	return "... (" + strconv.Itoa(len(parts)-lines) + " lines before)\n" + strings.Join(parts[len(parts)-lines:], "\n")
}

// DefaultConfigPorts are the endpoints of the repository's default configuration
// (config/otelcol-amas.yaml), each overridable by the environment variable it reads, so an
// end-to-end test runs the default configuration itself on free ports.
type DefaultConfigPorts struct {
	OTLPGRPC, OTLPHTTP, Prometheus, Health, Telemetry, SLOStatus int
	// StorageDir is file_storage's directory (AMAS_STORAGE_DIR), a temporary one per test;
	// a restart test starts the second collector with the same ports value to keep its state.
	StorageDir string
	// Env are extra variables (e.g. AMAS_JAEGER_ENDPOINT).
	Env []string
}

// NewDefaultConfigPorts picks free ports for every endpoint of the default configuration.
func NewDefaultConfigPorts(tb testing.TB) *DefaultConfigPorts {
	tb.Helper()
	return &DefaultConfigPorts{
		OTLPGRPC: FreePort(tb), OTLPHTTP: FreePort(tb), Prometheus: FreePort(tb),
		Health: FreePort(tb), Telemetry: FreePort(tb), SLOStatus: FreePort(tb),
		StorageDir: tb.TempDir(),
	}
}

// env are the variables the default configuration reads for its endpoints.
func (p *DefaultConfigPorts) env() []string {
	return append([]string{
		"AMAS_OTLP_GRPC_ENDPOINT=" + Addr(p.OTLPGRPC),
		"AMAS_OTLP_HTTP_ENDPOINT=" + Addr(p.OTLPHTTP),
		"AMAS_PROMETHEUS_ENDPOINT=" + Addr(p.Prometheus),
		"AMAS_HEALTH_ENDPOINT=" + Addr(p.Health),
		"AMAS_TELEMETRY_PORT=" + strconv.Itoa(p.Telemetry),
		"AMAS_STORAGE_DIR=" + p.StorageDir,
		"AMAS_SLO_STATUS_ENDPOINT=" + Addr(p.SLOStatus),
	}, p.Env...)
}

// StartDefaultCollector runs the binary with the repository's default configuration on ports,
// merged with overlays: config files (e.g. config/overlays/jaeger.yaml, or one a test wrote)
// that add what a deployment adds, such as the endpoints of its Jaeger and Alertmanager.
func StartDefaultCollector(tb testing.TB, ports *DefaultConfigPorts, overlays ...string) *Collector {
	tb.Helper()
	return StartConfigFilesOnPorts(tb, ports, append([]string{DefaultConfigPath(tb)}, overlays...)...)
}

// StartConfigFilesOnPorts runs the binary with configs that read the same endpoint variables
// as the default configuration (config/peer-spanmetrics.yaml, say), on ports.
func StartConfigFilesOnPorts(tb testing.TB, ports *DefaultConfigPorts, configPaths ...string) *Collector {
	tb.Helper()
	return StartCollectorWithConfigFiles(tb, configPaths, ports.Health, ports.env()...)
}

// ConfigPath is a file of config/ (e.g. "peer-spanmetrics.yaml").
func ConfigPath(tb testing.TB, name string) string {
	tb.Helper()
	return mustExist(tb, RepoRoot(tb)+"/config/"+name, "configurations live in config/")
}

// OverlayPath is a file of config/overlays/.
func OverlayPath(tb testing.TB, name string) string {
	tb.Helper()
	return mustExist(tb, RepoRoot(tb)+"/config/overlays/"+name, "overlays live in config/overlays/")
}

// WriteConfig writes a config (or overlay) into a temporary file and returns its path.
func WriteConfig(tb testing.TB, name, content string) string {
	tb.Helper()
	return writeFile(tb, tb.TempDir(), name, content)
}

// DefaultConfigPath is config/otelcol-amas.yaml, the configuration `make run` uses.
func DefaultConfigPath(tb testing.TB) string {
	tb.Helper()
	return mustExist(tb, RepoRoot(tb)+"/config/otelcol-amas.yaml", "the default configuration is part of the repository")
}
