package slorender

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/confmap"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// OpenSLO metric source types the import understands: the two places the slo processor reads
// events from.
const (
	// SourceSpans: spec.conditions are OTTL conditions on spans (ottlspan context, any may
	// hold); for a threshold SLI the value compared is the span's duration in seconds.
	SourceSpans = "otelcol-amas/spans"
	// SourceMetric: spec.name (and spec.attributes) select a collector metric: a gauge for a
	// threshold SLI, counters for a ratio SLI.
	SourceMetric = "otelcol-amas/metric"
)

// OpenSLO v1 documents, as far as the import reads them. Unknown keys are rejected by name.
type osloDoc struct {
	APIVersion string       `yaml:"apiVersion"`
	Kind       string       `yaml:"kind"`
	Metadata   osloMetadata `yaml:"metadata"`
	Spec       yaml.Node    `yaml:"spec"`
}

type osloMetadata struct {
	Name        string            `yaml:"name"`
	DisplayName string            `yaml:"displayName"`
	Labels      map[string]any    `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type osloSLOSpec struct {
	Description     string           `yaml:"description"`
	Service         string           `yaml:"service"`
	Indicator       *osloSLI         `yaml:"indicator"`
	IndicatorRef    string           `yaml:"indicatorRef"`
	TimeWindow      []osloTimeWindow `yaml:"timeWindow"`
	BudgetingMethod string           `yaml:"budgetingMethod"`
	Objectives      []osloObjective  `yaml:"objectives"`
	AlertPolicies   []any            `yaml:"alertPolicies"`
}

type osloSLI struct {
	Metadata osloMetadata `yaml:"metadata"`
	Spec     osloSLISpec  `yaml:"spec"`
}

type osloSLISpec struct {
	Description     string           `yaml:"description"`
	ThresholdMetric *osloMetricHold  `yaml:"thresholdMetric"`
	RatioMetric     *osloRatioMetric `yaml:"ratioMetric"`
}

type osloMetricHold struct {
	MetricSource osloMetricSource `yaml:"metricSource"`
}

type osloMetricSource struct {
	MetricSourceRef string         `yaml:"metricSourceRef"`
	Type            string         `yaml:"type"`
	Spec            map[string]any `yaml:"spec"`
}

type osloRatioMetric struct {
	Counter bool            `yaml:"counter"`
	Good    *osloMetricHold `yaml:"good"`
	Bad     *osloMetricHold `yaml:"bad"`
	Total   *osloMetricHold `yaml:"total"`
	RawType string          `yaml:"rawType"`
	Raw     *osloMetricHold `yaml:"raw"`
}

type osloTimeWindow struct {
	Duration  string         `yaml:"duration"`
	IsRolling *bool          `yaml:"isRolling"`
	Calendar  map[string]any `yaml:"calendar"`
}

type osloObjective struct {
	DisplayName     string   `yaml:"displayName"`
	Name            string   `yaml:"name"`
	Op              string   `yaml:"op"`
	Value           *float64 `yaml:"value"`
	Target          *float64 `yaml:"target"`
	TargetPercent   *float64 `yaml:"targetPercent"`
	TimeSliceTarget *float64 `yaml:"timeSliceTarget"`
	TimeSliceWindow string   `yaml:"timeSliceWindow"`
	Indicator       any      `yaml:"indicator"`
	IndicatorRef    string   `yaml:"indicatorRef"`
	CompositeWeight *float64 `yaml:"compositeWeight"`
}

// importErrs collects the reasons a document cannot be imported, each naming its field.
type importErrs struct {
	where string
	errs  []error
}

func (e *importErrs) add(field, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s: %s", e.where, field, fmt.Sprintf(format, args...)))
}

// ImportOpenSLO converts OpenSLO v1 documents (several in one stream, `---` separated) into the
// `slos` of an slo processor and returns the processor's configuration as YAML. SLO documents
// with ratio or threshold SLIs (inline or by indicatorRef to an SLI document of the stream),
// Occurrences or Timeslices budgeting and one rolling window are imported; every field that the
// processor cannot express is rejected with an error naming it. Service documents are skipped.
// The result is validated by the processor's own Config.
func ImportOpenSLO(data []byte, processorID string) ([]byte, error) {
	if typeOf(processorID) != "slo" {
		return nil, fmt.Errorf("processor: %q is not an slo processor ID (slo or slo/<name>)", processorID)
	}
	var docs []osloDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	for i := 0; ; i++ {
		var d osloDoc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if d.Kind == "" && d.APIVersion == "" {
			continue // an empty document between separators
		}
		docs = append(docs, d)
	}
	slis := map[string]*osloSLI{}
	var all []error
	for i, d := range docs {
		where := fmt.Sprintf("document %d (%s %q)", i, d.Kind, d.Metadata.Name)
		if d.APIVersion != "openslo/v1" {
			all = append(all, fmt.Errorf("%s: apiVersion: only openslo/v1 is supported, got %q", where, d.APIVersion))
			continue
		}
		if d.Kind == "SLI" {
			var spec osloSLISpec
			if err := decodeStrict(&d.Spec, &spec); err != nil {
				all = append(all, fmt.Errorf("%s: spec: %w", where, err))
				continue
			}
			slis[d.Metadata.Name] = &osloSLI{Metadata: d.Metadata, Spec: spec}
		}
	}
	var slos []sloprocessor.SLOConfig
	for i, d := range docs {
		if d.APIVersion != "openslo/v1" {
			continue
		}
		where := fmt.Sprintf("document %d (%s %q)", i, d.Kind, d.Metadata.Name)
		switch d.Kind {
		case "SLO":
		case "SLI", "Service":
			continue
		default:
			all = append(all, fmt.Errorf("%s: kind: %q is not imported; the slo processor takes SLO documents (with their SLI and Service documents)", where, d.Kind))
			continue
		}
		var spec osloSLOSpec
		if err := decodeStrict(&d.Spec, &spec); err != nil {
			all = append(all, fmt.Errorf("%s: spec: %w", where, err))
			continue
		}
		out, err := importSLO(where, d.Metadata, spec, slis)
		if err != nil {
			all = append(all, err)
			continue
		}
		slos = append(slos, out...)
	}
	if len(all) > 0 {
		return nil, errors.Join(all...)
	}
	if len(slos) == 0 {
		return nil, errors.New("no SLO document in the input")
	}
	return marshalProcessor(slos, processorID)
}

func decodeStrict(n *yaml.Node, v any) error {
	if n.Kind == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(n); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	return dec.Decode(v)
}

var osloDuration = regexp.MustCompile(`^([0-9]+)([a-zA-Z]+)$`)

// parseOSLODuration reads OpenSLO's duration shorthand in the units a rolling window can have.
func parseOSLODuration(s string) (time.Duration, error) {
	m := osloDuration.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("must be a number and a unit (s, m, h, d, w), got %q", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("number out of range in %q", s)
	}
	units := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}
	u, ok := units[m[2]]
	if !ok {
		return 0, fmt.Errorf("unit %q is a calendar unit (M, Q, Y) or unknown; a rolling window of the slo processor is written in s, m, h, d or w, got %q", m[2], s)
	}
	return time.Duration(n) * u, nil
}

func importSLO(where string, meta osloMetadata, spec osloSLOSpec, slis map[string]*osloSLI) ([]sloprocessor.SLOConfig, error) {
	e := &importErrs{where: where}
	if meta.Name == "" {
		e.add("metadata.name", "must not be empty")
	}
	if len(spec.AlertPolicies) > 0 {
		e.add("spec.alertPolicies", "not imported: the slo processor raises multi-window multi-burn-rate, budget and no-data alerts from its own rules (alerting.burn_rate_rules); remove the alert policies or translate them by hand")
	}

	// The SLI: inline or by reference to an SLI document of the stream.
	var sli *osloSLI
	switch {
	case spec.Indicator != nil && spec.IndicatorRef != "":
		e.add("spec.indicator", "set either indicator or indicatorRef, not both")
	case spec.Indicator != nil:
		sli = spec.Indicator
	case spec.IndicatorRef != "":
		if sli = slis[spec.IndicatorRef]; sli == nil {
			e.add("spec.indicatorRef", "no SLI document named %q in the input", spec.IndicatorRef)
		}
	default:
		e.add("spec.indicator", "an SLO needs an indicator or an indicatorRef")
	}

	// The window: exactly one, rolling.
	var window time.Duration
	switch len(spec.TimeWindow) {
	case 1:
		tw := spec.TimeWindow[0]
		if tw.IsRolling == nil || !*tw.IsRolling || tw.Calendar != nil {
			e.add("spec.timeWindow[0].isRolling", "calendar-aligned windows are not expressible; the slo processor keeps rolling windows (isRolling: true)")
		}
		d, err := parseOSLODuration(tw.Duration)
		if err != nil {
			e.add("spec.timeWindow[0].duration", "%v", err)
		}
		window = d
	case 0:
		e.add("spec.timeWindow", "one rolling time window is needed")
	default:
		e.add("spec.timeWindow", "the slo processor evaluates one window per SLO, got %d", len(spec.TimeWindow))
	}

	method := ""
	switch spec.BudgetingMethod {
	case "Occurrences":
		method = "occurrences"
	case "Timeslices":
		method = "timeslices"
	case "RatioTimeslices":
		e.add("spec.budgetingMethod", "RatioTimeslices (the average of per-slice ratios) is not expressible; the slo processor budgets by Occurrences or Timeslices")
	default:
		e.add("spec.budgetingMethod", "must be Occurrences or Timeslices, got %q", spec.BudgetingMethod)
	}
	if len(spec.Objectives) == 0 {
		e.add("spec.objectives", "at least one objective is needed")
	}
	if len(e.errs) > 0 {
		return nil, errors.Join(e.errs...)
	}

	description := spec.Description
	if description == "" {
		description = meta.DisplayName
	}
	var out []sloprocessor.SLOConfig
	for i, o := range spec.Objectives {
		path := fmt.Sprintf("spec.objectives[%d]", i)
		if o.Indicator != nil || o.IndicatorRef != "" || o.CompositeWeight != nil {
			e.add(path+".indicatorRef", "composite SLOs (an indicator per objective) are not expressible; write one SLO document per indicator")
			continue
		}
		s := sloprocessor.SLOConfig{Name: meta.Name, Description: description, Window: window}
		if len(spec.Objectives) > 1 {
			suffix := o.Name
			if suffix == "" {
				suffix = o.DisplayName
			}
			if suffix == "" {
				suffix = strconv.Itoa(i)
			}
			s.Name = meta.Name + "-" + sanitizeName(suffix)
		}
		switch {
		case o.Target != nil && o.TargetPercent != nil:
			e.add(path+".target", "set target or targetPercent, not both")
		case o.Target != nil:
			s.Objective = *o.Target
		case o.TargetPercent != nil:
			s.Objective = *o.TargetPercent / 100
		default:
			e.add(path+".target", "an objective needs target or targetPercent")
		}
		s.Budgeting.Method = method
		if method == "timeslices" {
			if o.TimeSliceTarget == nil {
				e.add(path+".timeSliceTarget", "Timeslices budgeting needs the share of good events that makes a slice good")
			} else if t := *o.TimeSliceTarget; !(t > 0 && t <= 1) {
				e.add(path+".timeSliceTarget", "must be in (0,1], got %v", t)
			} else {
				s.Budgeting.MaxBadRatio = roundRatio(1 - t)
			}
			d, err := parseOSLODuration(o.TimeSliceWindow)
			if err != nil {
				e.add(path+".timeSliceWindow", "%v", err)
			}
			s.Budgeting.Slice = d
		} else if o.TimeSliceTarget != nil || o.TimeSliceWindow != "" {
			e.add(path+".timeSliceWindow", "time slices are set only with budgetingMethod Timeslices")
		}
		importSLI(e, path, sli, o, &s)
		out = append(out, s)
	}
	if len(e.errs) > 0 {
		return nil, errors.Join(e.errs...)
	}
	return out, nil
}

// importSLI fills the SLI of s from an OpenSLO SLI and one objective.
func importSLI(e *importErrs, objPath string, sli *osloSLI, o osloObjective, s *sloprocessor.SLOConfig) {
	const base = "spec.indicator.spec"
	spec := sli.Spec
	switch {
	case spec.RatioMetric != nil && spec.ThresholdMetric != nil:
		e.add(base, "set ratioMetric or thresholdMetric, not both")
	case spec.RatioMetric != nil:
		if o.Op != "" || o.Value != nil {
			e.add(objPath+".op", "op and value belong to threshold SLIs; a ratio SLI's objective is its target")
		}
		importRatio(e, base+".ratioMetric", spec.RatioMetric, s)
	case spec.ThresholdMetric != nil:
		importThreshold(e, base+".thresholdMetric", objPath, spec.ThresholdMetric.MetricSource, o, s)
	default:
		e.add(base, "an SLI needs ratioMetric or thresholdMetric")
	}
}

// sourceOf checks a metric source and returns its type.
func sourceOf(e *importErrs, path string, h *osloMetricHold) (string, map[string]any, bool) {
	if h == nil {
		return "", nil, false
	}
	ms := h.MetricSource
	if ms.MetricSourceRef != "" {
		e.add(path+".metricSource.metricSourceRef", "DataSource references are not imported; give the source inline with type %s or %s", SourceSpans, SourceMetric)
		return "", nil, false
	}
	switch ms.Type {
	case SourceSpans, SourceMetric:
		return ms.Type, ms.Spec, true
	}
	e.add(path+".metricSource.type", "%q is not expressible: the slo processor reads spans (type %s) or collector metrics (type %s), not other backends' queries", ms.Type, SourceSpans, SourceMetric)
	return "", nil, false
}

func stringList(e *importErrs, path string, v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for i, c := range x {
			s, ok := c.(string)
			if !ok {
				e.add(fmt.Sprintf("%s[%d]", path, i), "must be a string (an OTTL condition), got %v", c)
				continue
			}
			out = append(out, s)
		}
		return out
	}
	e.add(path, "must be a list of OTTL conditions, got %v", v)
	return nil
}

// checkKeys rejects keys of a source spec the import does not know.
func checkKeys(e *importErrs, path string, spec map[string]any, allowed ...string) {
	for k := range spec {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			e.add(path+"."+k, "unknown key; a %s source takes %s", path, strings.Join(allowed, ", "))
		}
	}
}

func metricSelector(e *importErrs, path string, spec map[string]any) sloprocessor.MetricSelector {
	checkKeys(e, path, spec, "name", "attributes")
	var m sloprocessor.MetricSelector
	m.Name, _ = spec["name"].(string)
	if m.Name == "" {
		e.add(path+".name", "must name a metric")
	}
	if a, ok := spec["attributes"].(map[string]any); ok {
		m.Attributes = map[string]string{}
		for k, v := range a {
			m.Attributes[k] = fmt.Sprint(v)
		}
	} else if spec["attributes"] != nil {
		e.add(path+".attributes", "must be a map of attribute values")
	}
	return m
}

// any OTTL conditions: "any may hold"; the negation of "any of cs" is one condition.
func negateAny(cs []string) string {
	if len(cs) == 1 {
		return "not (" + cs[0] + ")"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = "(" + c + ")"
	}
	return "not (" + strings.Join(parts, " or ") + ")"
}

func importRatio(e *importErrs, path string, r *osloRatioMetric, s *sloprocessor.SLOConfig) {
	if r.Raw != nil || r.RawType != "" {
		e.add(path+".raw", "a precomputed ratio (raw/rawType) is not expressible; give good or bad, and total")
		return
	}
	if r.Total == nil {
		e.add(path+".total", "a ratio SLI needs total")
		return
	}
	if (r.Good == nil) == (r.Bad == nil) {
		e.add(path+".good", "a ratio SLI needs exactly one of good and bad")
		return
	}
	numPath, num := path+".good", r.Good
	if r.Bad != nil {
		numPath, num = path+".bad", r.Bad
	}
	tt, tspec, ok1 := sourceOf(e, path+".total", r.Total)
	nt, nspec, ok2 := sourceOf(e, numPath, num)
	if !ok1 || !ok2 {
		return
	}
	if tt != nt {
		e.add(numPath+".metricSource.type", "must be the type of total (%s), got %s", tt, nt)
		return
	}
	switch tt {
	case SourceSpans:
		checkKeys(e, path+".total.metricSource.spec", tspec, "conditions")
		checkKeys(e, numPath+".metricSource.spec", nspec, "conditions")
		total := stringList(e, path+".total.metricSource.spec.conditions", tspec["conditions"])
		cs := stringList(e, numPath+".metricSource.spec.conditions", nspec["conditions"])
		if len(cs) == 0 {
			e.add(numPath+".metricSource.spec.conditions", "must name at least one OTTL condition")
			return
		}
		bad := cs
		if r.Good != nil {
			// A span counted by total is bad when no good condition holds.
			bad = []string{negateAny(cs)}
		}
		s.SLI.Spans = &sloprocessor.SpansSLIConfig{Conditions: total, BadConditions: bad}
	case SourceMetric:
		if s.Budgeting.Method != "timeslices" {
			e.add("spec.budgetingMethod", "a ratio of metric counters is expressible only with Timeslices: the slo processor compares the counters' increase per slice with a threshold")
			return
		}
		// A slice is good when good/total ≥ timeSliceTarget (or bad/total ≤ 1 − it).
		target := 1 - s.Budgeting.MaxBadRatio
		s.Budgeting.MaxBadRatio = 0
		ratio := &sloprocessor.RatioSLIConfig{
			Numerator:   metricSelector(e, numPath+".metricSource.spec", nspec),
			Denominator: metricSelector(e, path+".total.metricSource.spec", tspec),
			Threshold:   roundRatio(target), Comparison: ">=",
		}
		if r.Bad != nil {
			ratio.Threshold, ratio.Comparison = roundRatio(1-target), "<="
		}
		s.SLI.Ratio = ratio
	}
}

func importThreshold(e *importErrs, path, objPath string, ms osloMetricSource, o osloObjective, s *sloprocessor.SLOConfig) {
	typ, spec, ok := sourceOf(e, path, &osloMetricHold{MetricSource: ms})
	if !ok {
		return
	}
	if o.Value == nil {
		e.add(objPath+".value", "a threshold SLI needs the value to compare with")
		return
	}
	good := map[string]string{"lte": "<=", "lt": "<", "gte": ">=", "gt": ">"}[o.Op]
	if good == "" {
		e.add(objPath+".op", "must be lte, lt, gte or gt, got %q", o.Op)
		return
	}
	v := *o.Value
	switch typ {
	case SourceSpans:
		checkKeys(e, path+".metricSource.spec", spec, "conditions")
		// The value is a span's duration in seconds; only an upper bound is a latency objective.
		if good != "<=" && good != "<" {
			e.add(objPath+".op", "a span duration objective is an upper bound (lte or lt), got %q", o.Op)
			return
		}
		if !(v > 0) || math.IsInf(v, 0) {
			e.add(objPath+".value", "must be a duration in seconds > 0, got %v", v)
			return
		}
		ns := int64(math.Round(v * 1e9))
		op := ">"
		if good == "<" {
			op = ">="
		}
		s.SLI.Spans = &sloprocessor.SpansSLIConfig{
			Conditions:    stringList(e, path+".metricSource.spec.conditions", spec["conditions"]),
			BadConditions: []string{fmt.Sprintf("end_time_unix_nano - start_time_unix_nano %s %d", op, ns)},
		}
	case SourceMetric:
		if s.Budgeting.Method != "timeslices" {
			e.add("spec.budgetingMethod", "a threshold on a gauge is expressible only with Timeslices: the slo processor judges a gauge per time slice")
			return
		}
		s.SLI.Gauge = &sloprocessor.GaugeSLIConfig{
			Metrics:   []sloprocessor.MetricSelector{metricSelector(e, path+".metricSource.spec", spec)},
			Threshold: v, Comparison: good,
		}
	}
}

var nameChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

func sanitizeName(s string) string {
	return strings.Trim(nameChars.ReplaceAllString(strings.ToLower(s), "_"), "_")
}

// roundRatio drops float noise (1 − 0.95 = 0.050000000000000044).
func roundRatio(v float64) float64 { return math.Round(v*1e9) / 1e9 }

// marshalProcessor writes the processor configuration and validates it with the processor's
// own Config (OTTL conditions compiled).
func marshalProcessor(slos []sloprocessor.SLOConfig, processorID string) ([]byte, error) {
	type budgetingOut struct {
		Method      string  `yaml:"method"`
		Slice       string  `yaml:"slice,omitempty"`
		MaxBadRatio float64 `yaml:"max_bad_ratio,omitempty"`
	}
	type sloOut struct {
		Name        string         `yaml:"name"`
		Description string         `yaml:"description,omitempty"`
		Objective   float64        `yaml:"objective"`
		Window      string         `yaml:"window"`
		Budgeting   budgetingOut   `yaml:"budgeting"`
		SLI         map[string]any `yaml:"sli"`
	}
	var list []any
	for _, s := range slos {
		o := sloOut{Name: s.Name, Description: s.Description, Objective: s.Objective, Window: hours(s.Window),
			Budgeting: budgetingOut{Method: s.Budgeting.Method}}
		if s.Budgeting.Method == "timeslices" {
			o.Budgeting.Slice = dur(s.Budgeting.Slice)
			o.Budgeting.MaxBadRatio = s.Budgeting.MaxBadRatio
		}
		sli := map[string]any{}
		switch {
		case s.SLI.Spans != nil:
			sp := map[string]any{"bad_conditions": s.SLI.Spans.BadConditions}
			if len(s.SLI.Spans.Conditions) > 0 {
				sp["conditions"] = s.SLI.Spans.Conditions
			}
			sli["spans"] = sp
		case s.SLI.Gauge != nil:
			var ms []map[string]any
			for _, x := range s.SLI.Gauge.Metrics {
				ms = append(ms, selectorMap(x))
			}
			sli["gauge"] = map[string]any{"metrics": ms, "threshold": s.SLI.Gauge.Threshold, "comparison": s.SLI.Gauge.Comparison}
		case s.SLI.Ratio != nil:
			sli["ratio"] = map[string]any{
				"numerator": selectorMap(s.SLI.Ratio.Numerator), "denominator": selectorMap(s.SLI.Ratio.Denominator),
				"threshold": s.SLI.Ratio.Threshold, "comparison": s.SLI.Ratio.Comparison,
			}
		}
		o.SLI = sli
		list = append(list, o)
	}
	// Decode what will be printed, as the collector would, and validate it with the processor.
	var buf0 bytes.Buffer
	if err := yaml.NewEncoder(&buf0).Encode(map[string]any{"slos": list}); err != nil {
		return nil, err
	}
	var generic map[string]any
	if err := yaml.Unmarshal(buf0.Bytes(), &generic); err != nil {
		return nil, err
	}
	doc := map[string]any{"processors": map[string]any{processorID: map[string]any{"slos": list}}}

	cfg := sloprocessor.NewFactory().CreateDefaultConfig().(*sloprocessor.Config)
	if err := confmap.NewFromStringMap(generic).Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("the imported configuration does not decode: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the imported configuration is not valid for the slo processor: %w", err)
	}

	var buf bytes.Buffer
	buf.WriteString("# Imported from OpenSLO v1 by amas-slo import-openslo. Merge it into the collector\n")
	buf.WriteString("# configuration and put " + processorID + " in a traces and a metrics pipeline.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func selectorMap(m sloprocessor.MetricSelector) map[string]any {
	out := map[string]any{"name": m.Name}
	if len(m.Attributes) > 0 {
		out["attributes"] = m.Attributes
	}
	return out
}

// hours writes a window as the processor's README does (720h).
func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}
