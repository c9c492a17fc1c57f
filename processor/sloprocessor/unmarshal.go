package sloprocessor

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// DefaultWindow is the rolling window of an SLO whose `window` is not set.
const DefaultWindow = 30 * 24 * time.Hour

var _ confmap.Unmarshaler = (*Config)(nil)

// plainConfig is Config without its Unmarshal method, so decoding into it does not recurse.
type plainConfig Config

// Unmarshal decodes the processor's YAML section as the collector does, with two additions:
//   - every duration (any time.Duration field, at any depth) also accepts the units d (24h) and
//     w (7d), alone or mixed with Go's: `30d`, `1w`, `1d12h` (slomath.ParseDuration);
//   - an SLO without a `window` key gets DefaultWindow (30d).
//
// The collector calls it for the component's section; confmap.Conf.Unmarshal(cfg) calls it too,
// which is how the rules generator (cmd/amas-slo/slorender) decodes the same YAML.
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	if conf == nil {
		return nil
	}
	raw := conf.ToStringMap()
	changed, err := rewriteDurations(raw, reflect.TypeFor[Config](), "")
	if err != nil {
		return err
	}
	if changed {
		// Only when a day or week unit is used is the section decoded from its parsed values; a
		// whole-value ${env:X} reference that expands to a number then no longer fills a text
		// field (write it inline, e.g. "v${env:X}"), everything else decodes the same.
		conf = confmap.NewFromStringMap(raw)
	}
	if err := conf.Unmarshal((*plainConfig)(c)); err != nil {
		return err
	}
	if slos, ok := raw["slos"].([]any); ok {
		for i, e := range slos {
			m, _ := e.(map[string]any)
			if _, set := m["window"]; !set && i < len(c.SLOs) {
				c.SLOs[i].Window = DefaultWindow
			}
		}
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// rewriteDurations walks v (a decoded YAML value) along the Go type t and replaces, in place,
// every string destined for a time.Duration that uses d or w with Go's syntax. path is the YAML
// path so far, for errors.
func rewriteDurations(v any, t reflect.Type, path string) (bool, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return false, nil
		}
		changed := false
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if name == "" || name == "-" {
				continue
			}
			fv, ok := m[name]
			if !ok {
				continue
			}
			fpath := name
			if path != "" {
				fpath = path + "." + name
			}
			if f.Type == durationType {
				s, ok := fv.(string)
				if !ok || !strings.ContainsAny(s, "dw") {
					continue
				}
				d, err := slomath.ParseDuration(s)
				if err != nil {
					return false, fmt.Errorf("%s: %w", fpath, err)
				}
				m[name] = d.String()
				changed = true
				continue
			}
			ch, err := rewriteDurations(fv, f.Type, fpath)
			if err != nil {
				return false, err
			}
			changed = changed || ch
		}
		return changed, nil
	case reflect.Slice, reflect.Array:
		list, ok := v.([]any)
		if !ok {
			return false, nil
		}
		changed := false
		for i, e := range list {
			ch, err := rewriteDurations(e, t.Elem(), path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return false, err
			}
			changed = changed || ch
		}
		return changed, nil
	}
	return false, nil
}
