package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"strings"
	"unicode/utf8"
)

// Label values come from telemetry, which anyone who reaches a receiver can write (the
// processors only copy span attributes into group labels). Before a value reaches a
// notification it is made safe here, and each medium escapes what is special to it on top:
//   - every label name and value: control characters (C0, DEL, C1, the Unicode line and
//     paragraph separators and the bidirectional overrides) and invalid UTF-8 become U+FFFD,
//     and the value is cut to maxLabelBytes on a rune boundary with truncMarker appended;
//   - annotations (rendered by the configured templates): the same, except that newlines and
//     tabs stay (a description may have several lines), cut to maxAnnotationBytes;
//   - email headers: no CR or LF ever; RFC 2047 encoded words when not printable ASCII;
//   - Slack: & < > escaped as mrkdwn wants, so <!channel> or a link cannot be injected;
//   - PagerDuty: summary ≤ pdMaxSummary bytes, the whole event < pdMaxBody.

const (
	maxLabelBytes      = 1024
	maxAnnotationBytes = 8 * 1024
	maxGroupKeyBytes   = 16 * 1024
	truncMarker        = "…"
)

// cleanLabel returns s when it is already safe (no allocation), else a cleaned copy.
func cleanLabel(s string) string { return clean(s, maxLabelBytes, false) }

// cleanText is cleanLabel for multi-line text: newlines and tabs are kept.
func cleanText(s string, limit int) string { return clean(s, limit, true) }

func clean(s string, limit int, keepLines bool) string {
	if len(s) <= limit && isClean(s, keepLines) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), limit))
	budget := limit - len(truncMarker)
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && w <= 1) || (isControl(r) && !(keepLines && (r == '\n' || r == '\t'))) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > budget {
			// Would the rest fit without the marker? Only when this is the last rune.
			if len(s) <= limit && i+w == len(s) && b.Len()+utf8.RuneLen(r) <= limit {
				b.WriteRune(r)
				return b.String()
			}
			b.WriteString(truncMarker)
			return b.String()
		}
		b.WriteRune(r)
		i += w
	}
	return b.String()
}

func isClean(s string, keepLines bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 || c == 0x7f) && !(keepLines && (c == '\n' || c == '\t')) {
				return false
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && w <= 1) || isControl(r) {
			return false
		}
		i += w
	}
	return true
}

func isControl(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidirectional overrides
		return true
	}
	return false
}

// cleanLabels returns m with every name and value cleaned; m itself when nothing changes.
func cleanLabels(m map[string]string) map[string]string {
	dirty := false
	for k, v := range m {
		if cleanLabel(k) != k || cleanLabel(v) != v {
			dirty = true
			break
		}
	}
	if !dirty {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[cleanLabel(k)] = cleanLabel(v)
	}
	return out
}

// cleanAnnotations is cleanLabels for annotations: values keep their lines.
func cleanAnnotations(m map[string]string) map[string]string {
	dirty := false
	for k, v := range m {
		if cleanLabel(k) != k || cleanText(v, maxAnnotationBytes) != v {
			dirty = true
			break
		}
	}
	if !dirty {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[cleanLabel(k)] = cleanText(v, maxAnnotationBytes)
	}
	return out
}

// truncateBytes cuts s to at most n bytes on a rune boundary, with truncMarker when cut.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len(truncMarker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + truncMarker
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackText escapes the three characters Slack's mrkdwn treats as control sequences, so a label
// value such as <!channel> or <https://evil|click> is shown, never acted on.
func slackText(s string) string { return slackEscaper.Replace(s) }

// slackURL makes a link target safe inside Slack's <url|text>: the escaped characters plus |,
// which would end the URL.
func slackURL(u string) string {
	return strings.ReplaceAll(slackEscaper.Replace(cleanLabel(u)), "|", "%7C")
}

// maxSubjectRunes bounds the email subject before encoding.
const maxSubjectRunes = 200

// mimeHeader makes s a safe header value: never a CR or LF, at most maxSubjectRunes runes,
// RFC 2047 encoded words (folded onto continuation lines) when it is not printable ASCII.
func mimeHeader(s string) string {
	s = cleanLabel(s) // no control characters, so no CR or LF
	if utf8.RuneCountInString(s) > maxSubjectRunes {
		n := 0
		for i := range s {
			if n == maxSubjectRunes-1 {
				s = s[:i] + truncMarker
				break
			}
			n++
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			// Encoded words never contain a space (Q encoding writes it as _), so the
			// spaces the encoder puts between words are where the header may be folded.
			return strings.ReplaceAll(mimeQ.Encode("UTF-8", s), " ", "\r\n ")
		}
	}
	return s
}
