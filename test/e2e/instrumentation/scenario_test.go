package instrumentation

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// agentSpec is one agent of a scenario: its runs, and which of them fail where. A run in
// FailChat sends the fail marker in its prompt, so its first model call gets HTTP 500 and the
// run fails; a run in FailTool has its tool throw, the model is told and answers, the run succeeds.
type agentSpec struct {
	Name     string `json:"name"`
	Model    string `json:"model"`
	Tool     string `json:"tool"`
	Runs     int    `json:"runs"`
	FailChat []int  `json:"failChat,omitempty"`
	FailTool []int  `json:"failTool,omitempty"`
}

// scenario is what a Node driver (node/<driver>.js) reads from AMAS_SCENARIO.
type scenario struct {
	Service string      `json:"service"`
	OTLP    string      `json:"otlp"`   // OTLP/HTTP traces endpoint
	OpenAI  string      `json:"openai"` // base URL of the mock server, ending in /v1
	API     string      `json:"api,omitempty"`
	Agents  []agentSpec `json:"agents"`
	// DefaultBatch keeps the SDK's BatchSpanProcessor defaults (5 s schedule); otherwise the
	// driver exports once at shutdown, so each run reaches the collector in one request.
	DefaultBatch   bool `json:"defaultBatch,omitempty"`
	ConcurrentRuns bool `json:"concurrentRuns,omitempty"`
	ToolMs         int  `json:"toolMs,omitempty"`  // how long each tool call takes
	ThinkMs        int  `json:"thinkMs,omitempty"` // pause before the model hears the tool's result
	Workflow       bool `json:"workflow,omitempty"`
}

// runResult is a driver's account of one run.
type runResult struct {
	Agent string `json:"agent"`
	Run   int    `json:"run"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// nodeDir is the folder with package.json and node_modules (installed by scripts/install-npm.sh).
func nodeDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(harness.RepoRoot(tb), "test", "e2e", "instrumentation", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@openai", "agents")); err != nil {
		tb.Fatalf("the npm packages are not installed in %s: run `make deps` (scripts/install-npm.sh)", dir)
	}
	return dir
}

// runDriver runs node/<driver>.js with sc and returns its runs' results; it fails the test when
// the driver fails or takes longer than timeout.
func runDriver(t *testing.T, driver string, sc scenario, timeout time.Duration) []runResult {
	t.Helper()
	res, err := execDriver(nodeDir(t), driver, sc, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// execDriver is runDriver returning its failure (safe to call from any goroutine).
func execDriver(dir, driver string, sc scenario, timeout time.Duration) ([]runResult, error) {
	js, err := json.Marshal(sc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", driver+".js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AMAS_SCENARIO="+string(js), "OTEL_LOG_LEVEL=error",
		"OPENAI_API_KEY=test-key", "TRACELOOP_TELEMETRY=false")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr lockedWriter
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("node %s.js: %w\nstdout: %s\nstderr: %s", driver, err, out, stderr.String())
	}
	var res struct {
		Results []runResult `json:"results"`
	}
	if err := json.Unmarshal(lastLine(out), &res); err != nil {
		return nil, fmt.Errorf("node %s.js printed no result: %w\nstdout: %s\nstderr: %s", driver, err, out, stderr.String())
	}
	return res.Results, nil
}

func lastLine(b []byte) []byte {
	end := len(b)
	for end > 0 && (b[end-1] == '\n' || b[end-1] == '\r') {
		end--
	}
	start := end
	for start > 0 && b[start-1] != '\n' {
		start--
	}
	return b[start:end]
}

// lockedWriter collects a process's stderr (written by exec's copying goroutine).
type lockedWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
