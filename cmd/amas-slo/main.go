// Command amas-slo renders, from an otelcol-amas collector configuration, the SLOs its slo
// processors evaluate as Prometheus recording and alerting rules, Grafana dashboards and a
// definitions file, and imports OpenSLO v1 documents into the processor's configuration.
//
//	amas-slo render      --config config/otelcol-amas.yaml --out config/observability
//	amas-slo check       --config config/otelcol-amas.yaml --out config/observability
//	amas-slo rules       --config config/otelcol-amas.yaml [--mode central]
//	amas-slo dashboards  --config config/otelcol-amas.yaml [--out dir]
//	amas-slo definitions --config config/otelcol-amas.yaml
//	amas-slo import-openslo [--processor slo] file.yaml...
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/otelcol-amas/otelcol-amas/cmd/amas-slo/slorender"
)

const usage = `amas-slo renders the SLOs of an otelcol-amas collector configuration.

Commands:
  render         write every generated file into --out (default config/observability)
  check          exit 1 when the files in --out differ from what render would write
  rules          print the Prometheus recording and alerting rules
  dashboards     print the Grafana dashboards (a JSON array), or write one file per dashboard into --out
  definitions    print slo_definitions.yaml
  import-openslo print the slo processor configuration for OpenSLO v1 documents

Run 'amas-slo <command> -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "render", "check", "rules", "dashboards", "definitions":
		err = renderCmd(args[0], args[1:], stdout, stderr)
	case "import-openslo":
		err = importCmd(args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "amas-slo: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "amas-slo %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func renderCmd(cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var configs multiFlag
	fs.Var(&configs, "config", "collector configuration to read the SLOs from (repeat it to merge several files in order, as the collector does; default config/otelcol-amas.yaml)")
	out := fs.String("out", "", "output directory (render, check: default config/observability; dashboards: one file per dashboard)")
	jaeger := fs.String("jaeger-url", "", "Jaeger UI URL for trace links (default: the alert exporter's jaeger_url)")
	modeName := fs.String("mode", string(slorender.ModeDirect), "rules mode: direct (every window an increase() over the connector's counters) or central (for a central Prometheus the replicas remote-write to: windows of a day or more summed from hourly recording rules)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mode, err := slorender.ParseMode(*modeName)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(configs) == 0 {
		configs = multiFlag{"config/otelcol-amas.yaml"}
	}
	config := strings.Join(configs, " --config ")
	origin := make([]string, len(configs))
	for i, c := range configs {
		origin[i] = filepath.ToSlash(c)
	}
	files, err := renderFilesMode(configs, strings.Join(origin, " + "), *jaeger, mode)
	if err != nil {
		return err
	}
	switch cmd {
	case "rules":
		_, err = stdout.Write(files[slorender.FileRules])
	case "definitions":
		_, err = stdout.Write(files[slorender.FileDefinitions])
	case "dashboards":
		if *out == "" {
			_, err = stdout.Write(files[slorender.FileDashboards])
			break
		}
		for name, data := range files {
			if rel, ok := strings.CutPrefix(name, slorender.DashboardsDir+"/"); ok {
				if err = writeFile(filepath.Join(*out, rel), data); err != nil {
					break
				}
			}
		}
	case "render":
		if *out == "" {
			*out = "config/observability"
		}
		for _, name := range sortedNames(files) {
			if err = writeFile(filepath.Join(*out, name), files[name]); err != nil {
				break
			}
		}
	case "check":
		if *out == "" {
			*out = "config/observability"
		}
		if diffs := Diff(files, *out); len(diffs) > 0 {
			return fmt.Errorf("%s is out of date with %s (run `amas-slo render --config %s --out %s`):\n  %s",
				*out, config, config, *out, strings.Join(diffs, "\n  "))
		}
	}
	return err
}

// renderFiles reads the collector configuration files at paths (merged in order) and renders
// every file. The origin in the headers is given by the caller (relative paths keep the files
// independent of the checkout).
func renderFiles(paths []string, origin, jaeger string) (map[string][]byte, error) {
	return renderFilesMode(paths, origin, jaeger, slorender.ModeDirect)
}

// renderFilesMode is renderFiles with the rules in the given mode.
func renderFilesMode(paths []string, origin, jaeger string, mode slorender.Mode) (map[string][]byte, error) {
	var docs [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		docs = append(docs, data)
	}
	c, err := slorender.Load(docs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(paths, " + "), err)
	}
	return slorender.Render(c, slorender.Options{Origin: origin, JaegerURL: jaeger, Mode: mode})
}

// Diff lists the generated files that are missing from dir or differ from it.
func Diff(files map[string][]byte, dir string) []string {
	var out []string
	for _, name := range sortedNames(files) {
		have, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case err != nil:
			out = append(out, name+": missing")
		case !bytes.Equal(have, files[name]):
			out = append(out, name+": differs")
		}
	}
	return out
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func importCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("import-openslo", flag.ContinueOnError)
	processor := fs.String("processor", "slo", "component ID of the slo processor in the printed configuration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("name at least one OpenSLO file (- for standard input)")
	}
	var docs [][]byte
	for _, p := range fs.Args() {
		var data []byte
		var err error
		if p == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(p)
		}
		if err != nil {
			return err
		}
		docs = append(docs, data)
	}
	out, err := slorender.ImportOpenSLO(bytes.Join(docs, []byte("\n---\n")), *processor)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
