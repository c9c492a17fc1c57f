package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const modulePath = "github.com/otelcol-amas/otelcol-amas"

var (
	rootOnce sync.Once
	rootDir  string
)

// RepoRoot is the checkout's root: the directory of the go.mod that declares this module.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			return
		}
		for {
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && strings.Contains(string(b), "module "+modulePath+"\n") {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return
			}
			dir = parent
		}
	})
	if rootDir == "" {
		tb.Fatal("harness: cannot find the repository root (a go.mod declaring " + modulePath + ")")
	}
	return rootDir
}

// CollectorBinary is the built otelcol-amas (OTELCOL_AMAS_BIN overrides bin/otelcol-amas).
func CollectorBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("OTELCOL_AMAS_BIN"); p != "" {
		return mustExist(tb, p, "OTELCOL_AMAS_BIN points at a missing file")
	}
	return mustExist(tb, filepath.Join(RepoRoot(tb), "bin", "otelcol-amas"), "build it with `make build`")
}

// ToolBinary is a test-only program built into .tools/bin by scripts/build-tools.sh.
func ToolBinary(tb testing.TB, name string) string {
	tb.Helper()
	return mustExist(tb, filepath.Join(RepoRoot(tb), ".tools", "bin", name), "build it with `make tools`")
}

// SystemBinary is a program from a Debian package, found on PATH.
func SystemBinary(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("harness: %s is not installed: run `make deps` (scripts/install-deps.sh)", name)
	}
	return p
}

func mustExist(tb testing.TB, path, hint string) string {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("harness: %s not found: %s", path, hint)
	}
	return path
}
