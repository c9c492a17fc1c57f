// Package spancond compiles the OTTL span conditions of an SLI once, and evaluates them per span.
// Conditions are OTTL (contrib pkg/ottl, ottlspan context), so users write what the filter
// processor takes. The common shapes — attribute, name, kind and status equality, a duration or a
// numeric attribute against a constant, joined by `and` — are also recognised and evaluated
// natively without allocating; anything else runs through OTTL. A differential test checks that
// both paths agree on random spans.
package spancond // import "github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/spancond"

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/ottlfuncs"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Set is a list of conditions of which any may hold (as the filter processor reads them). The
// empty set matches every span.
type Set struct {
	native [][]atom // any of these conjunctions; nil when ottl is used
	ottl   *ottl.ConditionSequence[*ottlspan.TransformContext]
	empty  bool
	// operation is set when the conditions are exactly OperationConditions(operation): the set
	// then holds when the span's operation class (classifyOperation) is operation.
	operation string
}

// NeedsOTTL reports whether the set runs through OTTL (and so needs a TransformContext).
func (s *Set) NeedsOTTL() bool { return s.ottl != nil }

// Native reports whether every condition was recognised and runs natively.
func (s *Set) Native() bool { return s.ottl == nil }

// Compile parses conditions with the OTTL span parser (so errors read as OTTL's) and, when every
// condition has a recognised shape, also compiles the native form. forceOTTL skips the native
// form (tests use it to compare the two).
func Compile(conditions []string, set component.TelemetrySettings, forceOTTL bool) (*Set, error) {
	if len(conditions) == 0 {
		return &Set{empty: true}, nil
	}
	parser, err := ottlspan.NewParser(ottlfuncs.StandardConverters[*ottlspan.TransformContext](), set)
	if err != nil {
		return nil, err
	}
	parsed, err := parser.ParseConditions(conditions)
	if err != nil {
		return nil, err
	}
	if !forceOTTL {
		native := make([][]atom, 0, len(conditions))
		for _, c := range conditions {
			conj, ok := parseConjunction(c)
			if !ok {
				native = nil
				break
			}
			native = append(native, conj)
		}
		if native != nil {
			out := &Set{native: native}
			for _, op := range []string{opInvokeAgent, opExecuteTool} {
				if slices.Equal(conditions, OperationConditions(op)) {
					out.operation = op
				}
			}
			return out, nil
		}
	}
	seq := ottlspan.NewConditionSequence(parsed, set, ottlspan.WithConditionSequenceErrorMode(ottl.IgnoreError))
	return &Set{ottl: &seq}, nil
}

// Eval reports whether any condition holds for span. tctx is needed only when NeedsOTTL; a
// condition that errors counts as not holding.
func (s *Set) Eval(ctx context.Context, res pcommon.Resource, span ptrace.Span, tctx *ottlspan.TransformContext) bool {
	return s.EvalWith(ctx, res, span, tctx, nil)
}

// EvalWith is Eval reading span attributes through l, the lookups of the current span, when the
// set was bound to l (Lookups.Bind); l may be nil.
func (s *Set) EvalWith(ctx context.Context, res pcommon.Resource, span ptrace.Span, tctx *ottlspan.TransformContext, l *Lookups) bool {
	if s.empty {
		return true
	}
	if s.ottl != nil {
		ok, err := s.ottl.Eval(ctx, tctx)
		return err == nil && ok
	}
	if s.operation != "" {
		return l.operationOf(span) == s.operation
	}
	for _, conj := range s.native {
		if evalConj(conj, res, span, l) {
			return true
		}
	}
	return false
}

// Lookups caches the span attribute values that the native conditions of several sets read, for
// one span at a time: the default SLOs ask for gen_ai.operation.name up to six times per span
// (the agent and tool filters, each with its instrumentation profiles' alternatives), and a map
// lookup is a linear scan of the span's attributes. Bind the sets once, Reset before each span.
type Lookups struct {
	keys  []string
	vals  []pcommon.Value
	state []uint8 // per key: 0 not read for this span, 1 absent, 2 present
	// class is the span's operation class, when classified is set.
	class      string
	classified bool
}

// Bind returns a copy of s whose native span-attribute conditions read through l. The copy is
// only valid with l; s itself is unchanged (it may be bound to other Lookups).
func (l *Lookups) Bind(s *Set) *Set {
	if s.native == nil {
		return s
	}
	out := &Set{empty: s.empty, operation: s.operation, native: make([][]atom, len(s.native))}
	for i, conj := range s.native {
		out.native[i] = append([]atom(nil), conj...)
		for j := range out.native[i] {
			a := &out.native[i][j]
			switch a.kind {
			case atomAttrStr, atomAttrNil, atomAttrNum:
				a.slot = l.slotOf(a.key)
			}
		}
	}
	return out
}

// slotOf returns the 1-based slot of an attribute key, adding it if new.
func (l *Lookups) slotOf(key string) int32 {
	for i, k := range l.keys {
		if k == key {
			return int32(i + 1)
		}
	}
	l.keys = append(l.keys, key)
	l.vals = append(l.vals, pcommon.Value{})
	l.state = append(l.state, 0)
	return int32(len(l.keys))
}

// Reset forgets the previous span's values.
func (l *Lookups) Reset() {
	clear(l.state)
	l.classified = false
}

// operationOf is classifyOperation of the span, once per span when l is not nil.
func (l *Lookups) operationOf(span ptrace.Span) string {
	if l == nil {
		return classifyOperation(span)
	}
	if !l.classified {
		l.class, l.classified = classifyOperation(span), true
	}
	return l.class
}

// get reads the span attribute of atom a, through l when a is bound to it.
func (l *Lookups) get(attrs pcommon.Map, a *atom) (pcommon.Value, bool) {
	if a.slot == 0 || l == nil {
		return attrs.Get(a.key)
	}
	i := a.slot - 1
	switch l.state[i] {
	case 1:
		return pcommon.Value{}, false
	case 2:
		return l.vals[i], true
	}
	v, ok := attrs.Get(a.key)
	l.vals[i] = v
	l.state[i] = 1
	if ok {
		l.state[i] = 2
	}
	return v, ok
}

type atomKind uint8

const (
	atomAttrStr atomKind = iota
	atomResAttrStr
	atomName
	atomStatus
	atomKindEq
	atomDuration
	atomAttrNum
	atomAttrNil
)

type op uint8

const (
	opEq op = iota
	opNe
	opGt
	opGe
	opLt
	opLe
)

type atom struct {
	kind atomKind
	op   op
	slot int32 // 1-based slot of key in the Lookups the set is bound to; 0: unbound
	key  string
	str  string
	num  float64
	i    int64
}

var (
	reAttrStr    = regexp.MustCompile(`^attributes\["([^"\\]+)"\]\s*(==|!=)\s*"([^"\\]*)"$`)
	reResAttrStr = regexp.MustCompile(`^resource\.attributes\["([^"\\]+)"\]\s*(==|!=)\s*"([^"\\]*)"$`)
	reName       = regexp.MustCompile(`^name\s*(==|!=)\s*"([^"\\]*)"$`)
	reStatus     = regexp.MustCompile(`^status\.code\s*(==|!=)\s*(STATUS_CODE_UNSET|STATUS_CODE_OK|STATUS_CODE_ERROR)$`)
	reKind       = regexp.MustCompile(`^kind\s*(==|!=)\s*(SPAN_KIND_UNSPECIFIED|SPAN_KIND_INTERNAL|SPAN_KIND_SERVER|SPAN_KIND_CLIENT|SPAN_KIND_PRODUCER|SPAN_KIND_CONSUMER)$`)
	reDuration   = regexp.MustCompile(`^end_time_unix_nano\s*-\s*start_time_unix_nano\s*(>=|<=|>|<)\s*([0-9]+)$`)
	reAttrNil    = regexp.MustCompile(`^attributes\["([^"\\]+)"\]\s*(==|!=)\s*nil$`)
	reAttrNum    = regexp.MustCompile(`^attributes\["([^"\\]+)"\]\s*(>=|<=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?)$`)
)

var ops = map[string]op{"==": opEq, "!=": opNe, ">": opGt, ">=": opGe, "<": opLt, "<=": opLe}

var statusCodes = map[string]int64{"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}

var spanKinds = map[string]int64{
	"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
	"SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
}

// parseConjunction recognises `a and b and ...` of known atoms. A quoted value containing " and "
// splits into pieces that match no atom, so it falls back to OTTL rather than being misread.
func parseConjunction(cond string) ([]atom, bool) {
	parts := strings.Split(strings.TrimSpace(cond), " and ")
	out := make([]atom, 0, len(parts))
	for _, p := range parts {
		a, ok := parseAtom(strings.TrimSpace(p))
		if !ok {
			return nil, false
		}
		out = append(out, a)
	}
	return out, true
}

func parseAtom(s string) (atom, bool) {
	if m := reAttrStr.FindStringSubmatch(s); m != nil {
		return atom{kind: atomAttrStr, key: m[1], op: ops[m[2]], str: m[3]}, true
	}
	if m := reAttrNil.FindStringSubmatch(s); m != nil {
		return atom{kind: atomAttrNil, key: m[1], op: ops[m[2]]}, true
	}
	if m := reResAttrStr.FindStringSubmatch(s); m != nil {
		return atom{kind: atomResAttrStr, key: m[1], op: ops[m[2]], str: m[3]}, true
	}
	if m := reName.FindStringSubmatch(s); m != nil {
		return atom{kind: atomName, op: ops[m[1]], str: m[2]}, true
	}
	if m := reStatus.FindStringSubmatch(s); m != nil {
		return atom{kind: atomStatus, op: ops[m[1]], i: statusCodes[m[2]]}, true
	}
	if m := reKind.FindStringSubmatch(s); m != nil {
		return atom{kind: atomKindEq, op: ops[m[1]], i: spanKinds[m[2]]}, true
	}
	if m := reDuration.FindStringSubmatch(s); m != nil {
		v, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return atom{}, false
		}
		return atom{kind: atomDuration, op: ops[m[1]], i: v}, true
	}
	if m := reAttrNum.FindStringSubmatch(s); m != nil {
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return atom{}, false
		}
		return atom{kind: atomAttrNum, key: m[1], op: ops[m[2]], num: v}, true
	}
	return atom{}, false
}

func evalConj(conj []atom, res pcommon.Resource, span ptrace.Span, l *Lookups) bool {
	for i := range conj {
		if !evalAtom(&conj[i], res, span, l) {
			return false
		}
	}
	return true
}

func evalAtom(a *atom, res pcommon.Resource, span ptrace.Span, l *Lookups) bool {
	switch a.kind {
	case atomAttrStr:
		v, ok := l.get(span.Attributes(), a)
		return strEq(v, ok, a)
	case atomResAttrStr:
		v, ok := res.Attributes().Get(a.key)
		return strEq(v, ok, a)
	case atomAttrNil:
		// OTTL reads a missing attribute, and an empty value, as nil.
		v, ok := l.get(span.Attributes(), a)
		isNil := !ok || v.Type() == pcommon.ValueTypeEmpty
		return isNil == (a.op == opEq)
	case atomName:
		return (span.Name() == a.str) == (a.op == opEq)
	case atomStatus:
		return (int64(span.Status().Code()) == a.i) == (a.op == opEq)
	case atomKindEq:
		return (int64(span.Kind()) == a.i) == (a.op == opEq)
	case atomDuration:
		// OTTL computes end − start as int64 of the two uint64 timestamps.
		d := int64(span.EndTimestamp()) - int64(span.StartTimestamp())
		return compare(d, a.op, a.i)
	case atomAttrNum:
		v, ok := l.get(span.Attributes(), a)
		if !ok {
			return false
		}
		switch v.Type() {
		case pcommon.ValueTypeDouble:
			return compare(v.Double(), a.op, a.num)
		case pcommon.ValueTypeInt:
			return compare(float64(v.Int()), a.op, a.num)
		}
		return false
	}
	return false
}

// strEq follows OTTL: a missing attribute is nil, which equals no string; a non-string value
// never equals a string.
func strEq(v pcommon.Value, ok bool, a *atom) bool {
	eq := ok && v.Type() == pcommon.ValueTypeStr && v.Str() == a.str
	return eq == (a.op == opEq)
}

// compare applies a numeric comparison; durations compare as int64 nanoseconds, attributes as float64.
func compare[T int64 | float64](v T, o op, t T) bool {
	switch o {
	case opGt:
		return v > t
	case opGe:
		return v >= t
	case opLt:
		return v < t
	case opLe:
		return v <= t
	}
	return false
}

// The GenAI operations that the instrumentation profiles map other conventions onto.
const (
	opInvokeAgent = "invoke_agent"
	opExecuteTool = "execute_tool"

	attrOperation      = "gen_ai.operation.name"
	attrOpenInference  = "openinference.span.kind"
	attrTraceloop      = "traceloop.span.kind"
	agentsSDKRootName  = "Agent workflow"
	conditionOperation = `attributes["` + attrOperation + `"]`
)

// OperationConditions are the conditions (any may hold) that select the spans of a GenAI
// operation (invoke_agent or execute_tool; nil for any other) as the amas_spanmetrics connector's
// built-in profiles recognise them: the GenAI conventions' operation name; else OpenInference's
// AGENT/TOOL span kind (an agent without the OpenAI Agents SDK's "Agent workflow" root); else
// Traceloop's agent/tool span kind. Compile recognises exactly this list and evaluates it as one
// classification per span (classifyOperation) shared by every set that uses it.
func OperationConditions(operation string) []string {
	var oiKind, tlKind, notWorkflow string
	switch operation {
	case opInvokeAgent:
		oiKind, tlKind, notWorkflow = "AGENT", "agent", ` and name != "`+agentsSDKRootName+`"`
	case opExecuteTool:
		oiKind, tlKind = "TOOL", "tool"
	default:
		return nil
	}
	return []string{
		conditionOperation + ` == "` + operation + `"`,
		conditionOperation + ` == nil and attributes["` + attrOpenInference + `"] == "` + oiKind + `"` + notWorkflow,
		conditionOperation + ` == nil and attributes["` + attrOpenInference + `"] == nil and attributes["` + attrTraceloop + `"] == "` + tlKind + `"`,
	}
}

// classifyOperation is the operation that OperationConditions(operation) select the span for,
// read in one pass: the GenAI operation name when it is not nil (a non-string value selects
// nothing, as it equals no string); else the OpenInference kind when not nil; else the Traceloop
// kind. "" when no list selects the span. Nil is OTTL's: a missing attribute or an empty value.
func classifyOperation(span ptrace.Span) string {
	attrs := span.Attributes()
	if v, ok := attrs.Get(attrOperation); ok && v.Type() != pcommon.ValueTypeEmpty {
		if v.Type() == pcommon.ValueTypeStr {
			return v.Str()
		}
		return ""
	}
	if v, ok := attrs.Get(attrOpenInference); ok && v.Type() != pcommon.ValueTypeEmpty {
		if v.Type() == pcommon.ValueTypeStr {
			switch v.Str() {
			case "AGENT":
				if span.Name() != agentsSDKRootName {
					return opInvokeAgent
				}
			case "TOOL":
				return opExecuteTool
			}
		}
		return ""
	}
	if v, ok := attrs.Get(attrTraceloop); ok && v.Type() == pcommon.ValueTypeStr {
		switch v.Str() {
		case "agent":
			return opInvokeAgent
		case "tool":
			return opExecuteTool
		}
	}
	return ""
}
