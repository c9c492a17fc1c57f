package alertstate

import (
	"fmt"
	"regexp"
	"slices"
)

// LabelInstance is the default name of an emitter's instance label.
const LabelInstance = "amas_instance"

// InstanceLabel is the configuration of the label an emitter (slo, regression) adds to every
// point it writes — alert states and its own metrics — when it runs as one of several replicas:
// two replicas' alerts then never share an identity, so Alertmanager (or a central Prometheus)
// never merges a firing alert of one with the resolved alert of the other, and a central
// Prometheus can aggregate the replicas' series across it. An empty Value turns it off (a single
// collector needs none).
type InstanceLabel struct {
	// Name of the label (a Prometheus label name).
	Name string `mapstructure:"name"`
	// Value, typically ${env:AMAS_INSTANCE} set to the pod name; "" turns the label off.
	Value string `mapstructure:"value"`
}

var (
	promLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	nonLabel      = regexp.MustCompile(`[^a-zA-Z0-9_]`)
)

// reservedLabels are the labels the emitters write themselves.
var reservedLabels = []string{
	LabelAlertName, LabelAlertState, LabelSeverity, LabelSLO, LabelOperation, LabelType,
	LabelLongWindow, LabelShortWindow, LabelThreshold, "window", "quantile", "otel.metric.overflow",
}

// Validate checks the label name (at path, e.g. "instance_label") against the Prometheus label
// syntax, the contract's own labels and taken (an emitter's other labels, such as group_by keys).
// The value is not checked: emitters sanitize it as any label value.
func (l InstanceLabel) Validate(path string, taken ...string) []error {
	if l.Value == "" {
		return nil
	}
	var errs []error
	switch {
	case !promLabelName.MatchString(l.Name) || len(l.Name) >= 2 && l.Name[:2] == "__":
		errs = append(errs, fmt.Errorf("%s.name: must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __), got %q", path, l.Name))
	case slices.Contains(reservedLabels, l.Name):
		errs = append(errs, fmt.Errorf("%s.name: must not be a label the emitter writes itself, got %q", path, l.Name))
	case slices.ContainsFunc(taken, func(k string) bool { return nonLabel.ReplaceAllString(k, "_") == l.Name }):
		errs = append(errs, fmt.Errorf("%s.name: must not be a group_by label (as Prometheus names it), got %q", path, l.Name))
	}
	return errs
}
