package harness

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a program started by the harness, with its combined output kept for failure messages.
type Process struct {
	Name string
	Dir  string // a temporary directory of its own

	cmd     *exec.Cmd
	out     *lockedBuffer
	done    chan struct{}
	waitErr error
}

// lockedBuffer is written by the process and read by the test at the same time.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProcess starts bin with args in dir. It does not register cleanup; callers do.
func startProcess(tb testing.TB, name, dir, bin string, args ...string) *Process {
	tb.Helper()
	return startProcessEnv(tb, name, dir, nil, bin, args...)
}

// startProcessEnv is startProcess with extra "KEY=value" environment variables.
func startProcessEnv(tb testing.TB, name, dir string, env []string, bin string, args ...string) *Process {
	tb.Helper()
	p := &Process{Name: name, Dir: dir, out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	// Its own process group, so a test binary killed by a timeout does not leave it orphaned
	// holding ports (Pdeathsig ends it with the test).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("harness: starting %s (%s): %v", name, bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// Output is everything the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig and waits up to timeout for the exit; it returns the exit error (nil for a
// clean exit) or an error when the process did not stop in time (it is then killed).
func (p *Process) Signal(sig syscall.Signal, timeout time.Duration) error {
	if p.Exited() {
		return p.waitErr
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(timeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return errors.New(p.Name + " did not exit within " + timeout.String() + " of " + sig.String() + "; killed")
	}
}

// stopOnCleanup ends the process when the test ends (SIGTERM, then SIGKILL).
func (p *Process) stopOnCleanup(tb testing.TB) {
	tb.Cleanup(func() { _ = p.Signal(syscall.SIGTERM, 15*time.Second) })
}

// writeFile writes content to dir/name and returns the path.
func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatalf("harness: writing %s: %v", path, err)
	}
	return path
}
