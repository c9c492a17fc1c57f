// Package spanindex finds the agent of a span among its ancestors in the same batch of spans.
//
// An Index maps span id → (parent span id, span) for one batch. It is built lazily, only when a
// span of the batch needs an ancestor, and reused from batch to batch (the map is cleared, not
// reallocated), so the common case costs no allocation per batch once warm. A span's agent name
// is read only when a walk reaches it: most spans of a batch are never anyone's ancestor.
// The caller owns the locking: an Index is not safe for concurrent use.
package spanindex // import "github.com/otelcol-amas/otelcol-amas/internal/spanindex"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// MaxDepth bounds a walk up the parent chain; it also stops a cycle of hostile parent ids.
const MaxDepth = 64

// Entry is what the index holds for one span.
type Entry struct {
	Parent pcommon.SpanID
	// Span is valid only while the batch is.
	Span ptrace.Span
}

// Span flags of OTLP (SpanFlags): whether the parent's remoteness is known, and whether it is remote.
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// IsBoundary reports whether the span entered its process: a server or consumer span, or one
// whose parent is flagged remote. An agent run lives inside a process, so an ancestor missing
// beyond such a span is the caller's, and waiting for it would only delay the span.
func IsBoundary(s ptrace.Span) bool {
	if k := s.Kind(); k == ptrace.SpanKindServer || k == ptrace.SpanKindConsumer {
		return true
	}
	f := s.Flags()
	return f&flagHasIsRemote != 0 && f&flagIsRemote != 0
}

// Index is the span index of one batch.
type Index struct {
	m     map[pcommon.SpanID]Entry
	built bool
	full  bool
}

// Built reports whether Build ran since the last Reset.
func (x *Index) Built() bool { return x.built }

// Full reports whether the last Build stopped at its limit (some spans are not indexed).
func (x *Index) Full() bool { return x.full }

// Build indexes the spans of td, at most limit of them. It returns false when the limit was
// reached before the end of the batch.
func (x *Index) Build(td ptrace.Traces, limit int) bool {
	if x.m == nil {
		x.m = make(map[pcommon.SpanID]Entry)
	}
	x.built, x.full = true, false
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if len(x.m) >= limit {
					x.full = true
					return false
				}
				s := spans.At(k)
				x.m[s.SpanID()] = Entry{Parent: s.ParentSpanID(), Span: s}
			}
		}
	}
	return true
}

// Reset forgets the batch (keeping the map's memory for the next one).
func (x *Index) Reset() {
	if x.built {
		clear(x.m)
		x.built, x.full = false, false
	}
}

// Get returns the entry of a span of the batch.
func (x *Index) Get(id pcommon.SpanID) (Entry, bool) {
	e, ok := x.m[id]
	return e, ok
}

// Outcome says how a walk up the parent chain ended.
type Outcome uint8

const (
	// Found: an ancestor carries an agent name.
	Found Outcome = iota
	// Root: the chain ends at a root span (no parent) and no span on it carries an agent name.
	Root
	// Missing: an ancestor is not in the batch (it was exported in another batch).
	Missing
	// MissingBeyondBoundary: an ancestor is not in the batch, and the chain crossed a process
	// boundary (IsBoundary) before it: that ancestor belongs to another process.
	MissingBeyondBoundary
	// TooDeep: MaxDepth ancestors were followed (a very deep tree or a cycle of parent ids).
	TooDeep
)

// Walk follows parent ids from parent (the parent span id of the span being resolved, which is
// itself a boundary when crossed is true) through the batch, agentName giving a span's own agent
// name. It returns the agent name with Found, and the id of the first ancestor not in the batch
// with Missing.
func (x *Index) Walk(parent pcommon.SpanID, crossed bool, agentName func(ptrace.Span) string) (agent string, missing pcommon.SpanID, out Outcome) {
	cur := parent
	for depth := 0; depth < MaxDepth; depth++ {
		if cur.IsEmpty() {
			return "", cur, Root
		}
		e, ok := x.m[cur]
		if !ok {
			if crossed {
				return "", cur, MissingBeyondBoundary
			}
			return "", cur, Missing
		}
		if a := agentName(e.Span); a != "" {
			return a, cur, Found
		}
		crossed = crossed || IsBoundary(e.Span)
		cur = e.Parent
	}
	return "", cur, TooDeep
}
