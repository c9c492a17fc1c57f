package safelabel

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestSanitize(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		name string
		in   string
		max  int
		want string
		res  Result
	}{
		{"a plain ASCII value is returned unchanged", "research-agent", 256, "research-agent", 0},
		{"an empty value stays empty", "", 256, "", 0},
		{"non-ASCII letters are kept", "agent-日本語-ü", 256, "agent-日本語-ü", 0},
		{"CR and LF are replaced so a header cannot be split", "x\r\nBcc: evil@example.com", 256, "x\uFFFD\uFFFDBcc: evil@example.com", Replaced},
		{"NUL, TAB and DEL are replaced", "a\x00b\tc\x7fd", 256, "a\uFFFDb\uFFFDc\uFFFDd", Replaced},
		{"a C1 control (NEL) is replaced", "a\u0085b", 256, "a\uFFFDb", Replaced},
		{"an invalid UTF-8 byte is replaced", "a\xffb", 256, "a\uFFFDb", Replaced},
		{"a value of exactly the maximum is kept", long[:256], 256, long[:256], 0},
		{"a longer value is cut and the marker counts in the maximum", long, 256, long[:256-len(Marker)] + Marker, Truncated},
		{"a cut never splits a rune", strings.Repeat("é", 40), 32, strings.Repeat("é", 9) + Marker, Truncated},
		{"replacement happens before truncation so the result still fits", strings.Repeat("\n", 40), 40, strings.Repeat("\uFFFD", 8) + Marker, Replaced | Truncated},
		{"a maximum below MinMax is raised to MinMax", long, 1, long[:MinMax-len(Marker)] + Marker, Truncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, res := Sanitize(tt.in, tt.max)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.res, res)
			again, res2 := Sanitize(got, tt.max)
			assert.Equal(t, got, again, "idempotent")
			assert.Zero(t, res2)
		})
	}
}

func TestASafeValueIsReturnedWithoutAllocating(t *testing.T) {
	s := strings.Repeat("agent-ü-", 20)
	allocs := testing.AllocsPerRun(100, func() {
		out, _ := Sanitize(s, 256)
		if len(out) != len(s) {
			t.Fatal("changed")
		}
	})
	assert.Zero(t, allocs)
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "agent", "x\r\nBcc: y", "\x00\x7f\u0085", "\xff\xfe", strings.Repeat("é", 200), strings.Repeat("a", 1000), Marker} {
		f.Add(s, 256)
		f.Add(s, 33)
	}
	f.Fuzz(func(t *testing.T, s string, maxLen int) {
		if maxLen > 1<<16 || maxLen < -1<<16 {
			maxLen %= 1 << 16
		}
		got, res := Sanitize(s, maxLen)
		limit := max(maxLen, MinMax)
		if len(got) > limit {
			t.Fatalf("len %d > max %d", len(got), limit)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		for _, r := range got {
			if r < 0x20 || r >= 0x7f && r <= 0x9f {
				t.Fatalf("control character %U in %q", r, got)
			}
		}
		if res == 0 && got != s {
			t.Fatalf("reported unchanged but changed: %q -> %q", s, got)
		}
		if res.Has(Truncated) && !strings.HasSuffix(got, Marker) {
			t.Fatalf("truncated without marker: %q", got)
		}
		again, res2 := Sanitize(got, maxLen)
		if again != got || res2 != 0 {
			t.Fatalf("not idempotent: %q -> %q", got, again)
		}
	})
}

func TestTheEightByteCheckAgreesWithTheByteCheck(t *testing.T) {
	for b := 0; b < 256; b++ {
		want := b >= 0x20 && b < 0x7f
		for pos := range 8 {
			x := uint64(0x41414141_41414141) &^ (0xff << (8 * pos)) // 'A' everywhere else
			x |= uint64(b) << (8 * pos)
			if got := printableASCII8(x); got != want {
				t.Fatalf("byte %#x at %d: got %v, want %v", b, pos, got, want)
			}
		}
	}
}
