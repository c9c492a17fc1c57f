package sloprocessor

import (
	"encoding/binary"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// encodeLegacyV2 is the AMASSLO2 encoder as it was before internal/checkpoint, kept for tests
// of the legacy reader.
func encodeLegacyV2(st *sloState) []byte {
	b := []byte(checkpointMagicV2)
	b = binary.LittleEndian.AppendUint64(b, st.identity.fingerprint())
	b = appendString(b, st.identity.text())
	n := len(st.series)
	if st.overflow != nil {
		n++
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, ser := range st.series {
		b = appendLegacySeries(b, st.c.model, ser)
	}
	if st.overflow != nil {
		b = appendLegacySeries(b, st.c.model, st.overflow)
	}
	b = binary.AppendUvarint(b, uint64(len(st.beats)))
	for _, ser := range st.beats {
		b = appendLegacySeries(b, st.c.beat, ser)
	}
	return b
}

func appendLegacySeries(b []byte, m *slomath.Model, ser *series) []byte {
	b = binary.LittleEndian.AppendUint64(b, ser.key)
	if ser.overflow {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(ser.labels)))
	for _, kv := range ser.labels {
		b = appendString(b, kv[0])
		b = appendString(b, kv[1])
	}
	data := m.AppendBinary(nil, ser.s)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}
