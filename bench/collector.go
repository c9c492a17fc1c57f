package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// pipeline is one of the two configurations of the same binary that the benchmark compares.
type pipeline struct {
	Name    string   // "peer" or "ours"
	Configs []string // config files, merged in order
}

// ports are a collector's endpoints, handed to the configs through the variables they read.
type ports struct {
	GRPC, HTTP, Prometheus, Health, Telemetry, Pprof int
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts() (ports, error) {
	seen := map[int]bool{}
	var p ports
	for _, dst := range []*int{&p.GRPC, &p.HTTP, &p.Prometheus, &p.Health, &p.Telemetry, &p.Pprof} {
		for {
			n, err := freePort()
			if err != nil {
				return p, err
			}
			if !seen[n] {
				seen[n] = true
				*dst = n
				break
			}
		}
	}
	return p, nil
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// pprofOverlay adds the pprof extension (restating the extension list, which a merge replaces).
func pprofOverlay(extensions string) string {
	return "# Written by the benchmark: the pprof extension, for CPU profiles.\n" +
		"extensions:\n  pprof:\n    endpoint: ${env:AMAS_PPROF_ENDPOINT}\n" +
		"service:\n  extensions: [" + extensions + ", pprof]\n"
}

// collector is a running otelcol-amas process.
type collector struct {
	Pipeline pipeline
	Ports    ports
	Dir      string
	cmd      *exec.Cmd
	log      *os.File
	done     chan struct{}
	waitErr  error
	stopWait time.Duration
}

// Pid is the collector's own pid (taskset execs the binary in place).
func (c *collector) Pid() int { return c.cmd.Process.Pid }

func (c *collector) TelemetryURL() string { return "http://" + addr(c.Ports.Telemetry) + "/metrics" }
func (c *collector) MetricsURL() string   { return "http://" + addr(c.Ports.Prometheus) + "/metrics" }
func (c *collector) OTLP() string         { return addr(c.Ports.GRPC) }

// startCollector runs bin with p's configs on free ports in dir, pinned to cpus when cpus is not
// empty, and waits for its health check.
func startCollector(bin string, p pipeline, dir, cpus, webhookURL string) (*collector, error) {
	var wrap []string
	if cpus != "" {
		wrap = []string{"taskset", "-c", cpus}
	}
	return startWrapped(bin, p, dir, wrap, nil, webhookURL, 60*time.Second, 20*time.Second)
}

// startWrapped starts the collector under wrap (a command and its arguments, e.g. taskset or
// valgrind; none when empty) with extra environment variables, and waits up to healthWait for its
// health check; Stop then waits up to stopWait after SIGTERM.
func startWrapped(bin string, p pipeline, dir string, wrap, env []string, webhookURL string, healthWait, stopWait time.Duration) (*collector, error) {
	pt, err := freePorts()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "collector.log"))
	if err != nil {
		return nil, err
	}
	var args []string
	for _, cf := range p.Configs {
		args = append(args, "--config", cf)
	}
	name := bin
	if len(wrap) > 0 {
		args = append(append(append([]string{}, wrap[1:]...), bin), args...)
		name = wrap[0]
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"AMAS_OTLP_GRPC_ENDPOINT="+addr(pt.GRPC),
		"AMAS_OTLP_HTTP_ENDPOINT="+addr(pt.HTTP),
		"AMAS_PROMETHEUS_ENDPOINT="+addr(pt.Prometheus),
		"AMAS_HEALTH_ENDPOINT="+addr(pt.Health),
		"AMAS_TELEMETRY_PORT="+strconv.Itoa(pt.Telemetry),
		"AMAS_PPROF_ENDPOINT="+addr(pt.Pprof),
		"AMAS_STORAGE_DIR="+filepath.Join(dir, "storage"),
		"AMAS_ALERT_WEBHOOK_URL="+webhookURL,
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = log, log
	// A process group of its own, and killed with the benchmark if the benchmark dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	c := &collector{Pipeline: p, Ports: pt, Dir: dir, cmd: cmd, log: log, done: make(chan struct{}), stopWait: stopWait}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(healthWait)
	for {
		resp, err := client.Get("http://" + addr(pt.Health) + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case <-c.done:
			log.Close()
			return nil, errors.New(p.Name + " collector exited before it was healthy; see " + log.Name())
		default:
		}
		if time.Now().After(deadline) {
			c.Stop()
			return nil, errors.New(p.Name + " collector not healthy within " + healthWait.String() + "; see " + log.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits (20 s unless started otherwise) before killing the process group.
func (c *collector) Stop() error {
	defer c.log.Close()
	select {
	case <-c.done:
		return c.waitErr
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.waitErr
	case <-time.After(c.stopWait):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
		return errors.New(c.Pipeline.Name + " collector did not stop within " + c.stopWait.String() + " of SIGTERM; killed")
	}
}
