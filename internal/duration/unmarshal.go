package duration

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/confmap"
)

// Unmarshal decodes conf into into (a pointer to a struct whose type has no Unmarshal method of
// its own, or the call recurses) as conf.Unmarshal does, after rewriting every string bound for
// a time.Duration that only Parse reads. A bad duration is an error naming its YAML path.
//
// The section is rebuilt from its parsed values only when a string was rewritten; a whole-value
// ${env:X} reference that expands to a number then no longer fills a text field of the same
// section (write it inline, e.g. "v${env:X}"). Everything else decodes exactly as before.
func Unmarshal(conf *confmap.Conf, into any) error {
	if conf == nil {
		return nil
	}
	raw := conf.ToStringMap()
	changed, err := Rewrite(raw, reflect.TypeOf(into), "")
	if err != nil {
		return err
	}
	if changed {
		conf = confmap.NewFromStringMap(raw)
	}
	return conf.Unmarshal(into)
}

var durationType = reflect.TypeFor[time.Duration]()

// Rewrite walks v (a decoded YAML value) along the Go type t and replaces, in place, every
// string bound for a time.Duration (a field, a slice element or a map value, at any depth,
// through pointers and squashed structs) that Go's parser does not read with its value in Go's
// syntax. path is the YAML path so far, for errors. It reports whether anything changed.
func Rewrite(v any, t reflect.Type, path string) (bool, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		return false, nil // handled by the caller, which can replace the value
	}
	if inner, ok := optionalValue(t); ok {
		return Rewrite(v, inner, path) // configoptional.Optional[T] decodes as T
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
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				if f.Anonymous || strings.Contains(opts, "squash") {
					ch, err := Rewrite(m, f.Type, path)
					if err != nil {
						return false, err
					}
					changed = changed || ch
				}
				continue
			}
			ch, err := rewriteEntry(m, name, f.Type, join(path, name))
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
		for i := range list {
			ch, err := rewriteIndex(list, i, t.Elem(), path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return false, err
			}
			changed = changed || ch
		}
		return changed, nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return false, nil
		}
		changed := false
		for k := range m {
			ch, err := rewriteEntry(m, k, t.Elem(), join(path, k))
			if err != nil {
				return false, err
			}
			changed = changed || ch
		}
		return changed, nil
	}
	return false, nil
}

func rewriteEntry(m map[string]any, key string, t reflect.Type, path string) (bool, error) {
	v, ok := m[key]
	if !ok {
		return false, nil
	}
	if s, ok, err := rewriteValue(v, t, path); ok || err != nil {
		m[key] = s
		return ok, err
	}
	return Rewrite(v, t, path)
}

func rewriteIndex(list []any, i int, t reflect.Type, path string) (bool, error) {
	if s, ok, err := rewriteValue(list[i], t, path); ok || err != nil {
		list[i] = s
		return ok, err
	}
	return Rewrite(list[i], t, path)
}

// rewriteValue returns v in Go's syntax when v is a string bound for a time.Duration that Go's
// parser does not read; ok reports a rewrite.
func rewriteValue(v any, t reflect.Type, path string) (string, bool, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s, isString := v.(string)
	if t != durationType || !isString {
		return "", false, nil
	}
	if _, err := time.ParseDuration(s); err == nil {
		return "", false, nil
	}
	d, err := Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", path, err)
	}
	return d.String(), true, nil
}

// optionalValue returns T for the collector's configoptional.Optional[T], whose one value field
// is unexported; its section is T's (e.g. the exporters' sending_queue).
func optionalValue(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct || t.PkgPath() != "go.opentelemetry.io/collector/config/configoptional" {
		return nil, false
	}
	f, ok := t.FieldByName("value")
	if !ok {
		return nil, false
	}
	return f.Type, true
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
