// Package harness starts the real parts that the end-to-end tests run against, all on 127.0.0.1:
// the built otelcol-amas binary, Prometheus and Alertmanager (Debian packages) and Jaeger v2
// (built into .tools/bin by scripts/build-tools.sh). Each is started only when a test asks for
// it, in a temporary directory, on free ports, and stopped by t.Cleanup. A missing program fails
// the test loudly with the command that installs it; nothing is skipped.
package harness // import "github.com/otelcol-amas/otelcol-amas/internal/harness"
