package sloprocessor

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/processor/processortest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

func groupedByAgent() *Config {
	cfg := availabilityOnly()
	cfg.SLOs[0].GroupBy = []string{"gen_ai.agent.name"}
	return cfg
}

func TestGroupByValuesFromTelemetryAreMadeSafe(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	set := processortest.NewNopSettings(metadata.Type)
	set.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	cfg := groupedByAgent()
	clock := clockwork.NewFakeClockAt(epoch)
	p, err := newSLOProcessor(set, cfg, clock)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), &testHost{exts: map[component.ID]component.Component{}}))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

	mib := strings.Repeat("x", 1<<20)
	_, err = p.consumeTraces(context.Background(), makeSpans(
		spanSpec{agent: mib + "-one", op: "invoke_agent"},
		spanSpec{agent: mib + "-two", op: "invoke_agent", err: true},
		spanSpec{agent: "planner\r\nBcc: evil@example.com", op: "invoke_agent"},
	))
	require.NoError(t, err)
	clock.Advance(10 * time.Second)
	p.tick(context.Background())

	got := map[string]uint64{}
	for _, g := range sloStatus(t, p.Status(), "agent_availability").Groups {
		v := g.Labels["gen_ai.agent.name"]
		assert.LessOrEqual(t, len(v), safelabel.DefaultMax, "a 1 MiB value becomes at most max_label_length bytes")
		assert.NotContains(t, v, "\r")
		assert.NotContains(t, v, "\n")
		got[v] = g.Events
	}
	cut := mib[:safelabel.DefaultMax-len(safelabel.Marker)] + safelabel.Marker
	assert.Equal(t, map[string]uint64{cut: 2, "planner\uFFFD\uFFFDBcc: evil@example.com": 1}, got,
		"values equal after the cut are one group")
	assert.Equal(t, int64(2), counterValue(t, reader, "otelcol_processor_slo_labels_sanitized"), "one truncated, one replaced: counted once per new group")
}

func TestAnAlreadySafeGroupKeyIsHashedWithoutAllocating(t *testing.T) {
	h := newHarness(t, groupedByAgent(), nil, nil)
	defer h.shutdown()
	attrs := pcommon.NewMap()
	attrs.PutStr("gen_ai.agent.name", strings.Repeat("research-agent-", 10))
	attrs.PutInt("n", 3)
	res := pcommon.NewMap()
	keys := []string{"gen_ai.agent.name", "n", "absent"}
	var k uint64
	allocs := testing.AllocsPerRun(100, func() { k = h.p.keyOf(keys, attrs, res) })
	assert.NotZero(t, k)
	assert.Zero(t, allocs)

	unsafe := pcommon.NewMap()
	unsafe.PutStr("gen_ai.agent.name", strings.Repeat("research-agent-", 10)+"\n")
	assert.NotEqual(t, k, h.p.keyOf(keys, unsafe, res))
}

// Group keys are what earlier versions computed with a streaming digest (a type tag, the safe
// value, a separator per key), so the groups of a checkpoint still match; and the raw key of a
// safe value is its safe key, while a value that sanitizing changes has a raw key of its own.
func TestGroupKeysMatchTheStreamingDigestOfEarlierVersions(t *testing.T) {
	h := newHarness(t, groupedByAgent(), nil, nil)
	defer h.shutdown()
	maxLen := h.p.cfg.MaxLabelLength
	old := func(keys []string, attrs pcommon.Map) uint64 {
		d := xxhash.New()
		for _, k := range keys {
			v, ok := attrs.Get(k)
			var tag [9]byte
			switch {
			case !ok:
				_, _ = d.Write(tag[:1])
			case v.Type() == pcommon.ValueTypeStr:
				tag[0] = 1
				_, _ = d.Write(tag[:1])
				s, _ := safelabel.Sanitize(v.Str(), maxLen)
				_, _ = d.WriteString(s)
			case v.Type() == pcommon.ValueTypeInt:
				tag[0] = 2
				binary.LittleEndian.PutUint64(tag[1:], uint64(v.Int()))
				_, _ = d.Write(tag[:])
			case v.Type() == pcommon.ValueTypeBool:
				tag[0] = 3
				if v.Bool() {
					tag[1] = 1
				}
				_, _ = d.Write(tag[:2])
			default:
				tag[0] = 4
				_, _ = d.Write(tag[:1])
				s, _ := safelabel.Sanitize(v.AsString(), maxLen)
				_, _ = d.WriteString(s)
			}
			_, _ = d.Write([]byte{0xff})
		}
		return d.Sum64()
	}
	keys := []string{"s", "i", "b", "d", "absent"}
	for _, agent := range []string{"planner", "", strings.Repeat("x", maxLen), strings.Repeat("y", maxLen+1), "bad\r\nvalue"} {
		attrs := pcommon.NewMap()
		attrs.PutStr("s", agent)
		attrs.PutInt("i", -7)
		attrs.PutBool("b", true)
		attrs.PutDouble("d", 0.5)
		want := old(keys, attrs)
		assert.Equal(t, want, h.p.safeKeyOf(keys, attrs, pcommon.NewMap()), "safe key of %q", agent)
		if clean, _ := safelabel.Sanitize(agent, maxLen); clean == agent || len(agent) > maxLen {
			assert.Equal(t, want, h.p.keyOf(keys, attrs, pcommon.NewMap()), "raw key of %q", agent)
		} else {
			assert.NotEqual(t, want, h.p.keyOf(keys, attrs, pcommon.NewMap()), "raw key of %q", agent)
		}
	}
}
