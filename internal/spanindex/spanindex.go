// Package spanindex finds the agent of a span among its ancestors in the same batch of spans.
//
// An Index maps span id → (parent span id, span) for one batch. It is built lazily, only when a
// span of the batch needs an ancestor, and reused from batch to batch (its tables are cleared, not
// reallocated), so the common case costs no allocation per batch once warm. A span's agent name
// is read only when a walk reaches it, and at most once per batch: most spans of a batch are never
// anyone's ancestor, and an agent span is the ancestor of all the model and tool spans of its run.
// The caller owns the locking: an Index is not safe for concurrent use.
//
// The table is open addressing with linear probing over the span ids read as integers (random
// 64-bit values by the W3C and OTLP rules; a hostile client choosing colliding ids only makes its
// own batch's probes longer, bounded by the batch, which the caller bounds). It costs a third of
// the instructions of a Go map here: the hot path indexes every span of a batch once.
package spanindex // import "github.com/otelcol-amas/otelcol-amas/internal/spanindex"

import (
	"encoding/binary"
	"math/bits"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// MaxDepth bounds a walk up the parent chain; it also stops a cycle of hostile parent ids.
const MaxDepth = 64

// Entry is what the index knows of one span.
type Entry struct {
	Parent pcommon.SpanID
	// Span is valid only while the batch is.
	Span ptrace.Span
}

// entry is what the index stores for one span: no pointers, so the table costs the garbage
// collector nothing to scan and no write barrier to fill (it is rewritten for every batch).
type entry struct {
	parent pcommon.SpanID
	list   int32 // the span is lists[list].At(pos)
	pos    int32
	// agent caches the span's agent name for Walk: 0 not read yet, −1 none, else 1 + its
	// position in agents.
	agent int32
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
	// slots holds 1 + the position in entries of the span whose id hashes there (0: empty);
	// keys holds that span's id, so a probe compares without touching entries.
	slots   []int32
	keys    []uint64
	entries []entry
	lists   []ptrace.SpanSlice // the span slices of the batch's scopes, in order
	agents  []string           // the agent names Walk read, for entry.agent
	shift   uint8              // 64 − log2(len(slots))
	built   bool
	full    bool
}

// Built reports whether Build ran since the last Reset.
func (x *Index) Built() bool { return x.built }

// Full reports whether the last Build stopped at its limit (some spans are not indexed).
func (x *Index) Full() bool { return x.full }

// Len is the number of spans indexed.
func (x *Index) Len() int { return len(x.entries) }

func idKey(id pcommon.SpanID) uint64 { return binary.LittleEndian.Uint64(id[:]) }

// home is the first slot a key probes (Fibonacci hashing: ids that differ only in some bytes
// still spread over the table).
func (x *Index) home(k uint64) int { return int((k * 0x9E3779B97F4A7C15) >> x.shift) }

// grow makes room for n spans at a load factor of at most one half, keeping the memory of
// larger earlier batches.
func (x *Index) grow(n int) {
	size := 16
	if n > 8 {
		size = 1 << bits.Len(uint(2*n-1))
	}
	if len(x.slots) < size {
		x.slots = make([]int32, size)
		x.keys = make([]uint64, size)
	}
	x.shift = uint8(64 - bits.TrailingZeros(uint(len(x.slots))))
}

// Build indexes the spans of td, at most limit of them. It returns false when the limit was
// reached before the end of the batch. A span without an id is not indexed (no span can name it
// as parent); of two spans with one id, the later wins.
func (x *Index) Build(td ptrace.Traces, limit int) bool {
	x.Reset()
	x.built = true
	n := min(td.SpanCount(), limit)
	x.grow(n)
	mask := len(x.slots) - 1
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			list := int32(len(x.lists))
			x.lists = append(x.lists, spans)
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				id := s.SpanID()
				if id.IsEmpty() {
					continue
				}
				key := idKey(id)
				e := entry{parent: s.ParentSpanID(), list: list, pos: int32(k)}
				h := x.home(key)
				for {
					pos := x.slots[h]
					if pos == 0 {
						if len(x.entries) >= limit {
							x.full = true
							return false
						}
						x.entries = append(x.entries, e)
						x.slots[h], x.keys[h] = int32(len(x.entries)), key
						break
					}
					if x.keys[h] == key {
						x.entries[pos-1] = e
						break
					}
					h = (h + 1) & mask
				}
			}
		}
	}
	return true
}

// Reset forgets the batch (keeping the tables' memory for the next one).
func (x *Index) Reset() {
	if x.built {
		clear(x.slots)
		x.entries = x.entries[:0]
		clear(x.lists) // drop the batch's spans and names for the garbage collector
		x.lists = x.lists[:0]
		clear(x.agents)
		x.agents = x.agents[:0]
		x.built, x.full = false, false
	}
}

// find returns the position of a span of the batch in entries, or −1.
func (x *Index) find(id pcommon.SpanID) int {
	if len(x.entries) == 0 || id.IsEmpty() {
		return -1
	}
	key := idKey(id)
	mask := len(x.slots) - 1
	for h := x.home(key); ; h = (h + 1) & mask {
		pos := x.slots[h]
		if pos == 0 {
			return -1
		}
		if x.keys[h] == key {
			return int(pos - 1)
		}
	}
}

// Get returns the entry of a span of the batch.
func (x *Index) Get(id pcommon.SpanID) (Entry, bool) {
	if i := x.find(id); i >= 0 {
		e := &x.entries[i]
		return Entry{Parent: e.parent, Span: x.lists[e.list].At(int(e.pos))}, true
	}
	return Entry{}, false
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
// with Missing. agentName must be the same function for every Walk of one batch: its answer for
// a span is cached until Reset.
func (x *Index) Walk(parent pcommon.SpanID, crossed bool, agentName func(ptrace.Span) string) (agent string, missing pcommon.SpanID, out Outcome) {
	cur := parent
	for depth := 0; depth < MaxDepth; depth++ {
		if cur.IsEmpty() {
			return "", cur, Root
		}
		i := x.find(cur)
		if i < 0 {
			if crossed {
				return "", cur, MissingBeyondBoundary
			}
			return "", cur, Missing
		}
		e := &x.entries[i]
		span := x.lists[e.list].At(int(e.pos))
		if e.agent == 0 {
			e.agent = -1
			if a := agentName(span); a != "" {
				x.agents = append(x.agents, a)
				e.agent = int32(len(x.agents))
			}
		}
		if e.agent > 0 {
			return x.agents[e.agent-1], cur, Found
		}
		crossed = crossed || IsBoundary(span)
		cur = e.parent
	}
	return "", cur, TooDeep
}
