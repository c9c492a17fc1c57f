package dashboards

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
	"time"
)

// series is one line of a panel: its legend (the label values the query keeps) and its points.
type series struct {
	legend string
	t      []time.Time
	v      []float64
}

// palette is Grafana's classic series palette, so the picture reads like the panel it stands for.
var palette = []string{"#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0"}

// renderSVG draws series as a Grafana time-series panel would: a title, a y axis with rounded
// ticks, a time axis relative to from, one line per series, a legend, and the PromQL and its
// source under the plot. Nothing is smoothed or invented: every vertex is a query_range point,
// and a missing point breaks the line.
func renderSVG(title, promql, source string, from, to time.Time, ss []series) string {
	const w, h, left, right, top, bottom = 960, 420, 70, 20, 40, 140
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	ymax := 0.0
	for _, s := range ss {
		for _, v := range s.v {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				ymax = max(ymax, v)
			}
		}
	}
	step := niceStep(ymax / 4)
	ytop := step * math.Ceil(ymax/step)
	if ytop == 0 {
		ytop = 1
	}
	span := to.Sub(from).Seconds()
	x := func(t time.Time) float64 { return float64(left) + pw*t.Sub(from).Seconds()/span }
	y := func(v float64) float64 { return float64(top) + ph*(1-v/ytop) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Inter, Helvetica, Arial, sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#181b1f"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="24" fill="#d8d9da" font-size="14" font-weight="600">%s</text>`+"\n", left, html.EscapeString(title))
	for v := 0.0; v <= ytop+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#2c3235"/>`+"\n", left, w-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#9fa7b3" text-anchor="end">%s</text>`+"\n", left-8, y(v)+4, trimFloat(v))
	}
	tick := 30 * time.Second
	for d := time.Duration(0); d <= to.Sub(from); d += tick {
		xx := x(from.Add(d))
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#2c3235"/>`+"\n", xx, xx, top, h-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#9fa7b3" text-anchor="middle">+%ds</text>`+"\n", xx, h-bottom+16, int(d.Seconds()))
	}
	for i, s := range ss {
		color := palette[i%len(palette)]
		var pts []string
		flush := func() {
			if len(pts) > 0 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", color, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for j := range s.t {
			if j > 0 && s.t[j].Sub(s.t[j-1]) > 2*time.Duration(float64(time.Second)*span/float64(len(s.t)+1)) {
				flush()
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.t[j]), y(s.v[j])))
		}
		flush()
		lx, ly := left+(i%3)*300, h-bottom+38+(i/3)*18
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="4" fill="%s"/>`+"\n", lx, ly-5, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#d8d9da">%s</text>`+"\n", lx+20, ly, html.EscapeString(s.legend))
	}
	lines := wrap(promql, 140, 3)
	for i, l := range lines {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#9fa7b3" font-family="monospace" font-size="10">%s</text>`+"\n", left, h-22-12*(len(lines)-1-i), html.EscapeString(l))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#9fa7b3" font-size="10">%s</text>`+"\n", left, h-8, html.EscapeString(source))
	b.WriteString("</svg>\n")
	return b.String()
}

// legendOf is the series' label values in label-name order, as Grafana's default legend shows them.
func legendOf(metric map[string]string) string {
	keys := make([]string, 0, len(metric))
	for k := range metric {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+metric[k])
	}
	if len(parts) == 0 {
		return "value"
	}
	return strings.Join(parts, ", ")
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 0.25
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

// wrap cuts s into at most limit lines of at most n bytes, at spaces where it can; the last line
// ends with … when s does not fit.
func wrap(s string, n, limit int) []string {
	var out []string
	for len(s) > n && len(out) < limit-1 {
		cut := strings.LastIndexByte(s[:n], ' ')
		if cut <= 0 {
			cut = n
		}
		out = append(out, s[:cut])
		s = strings.TrimLeft(s[cut:], " ")
	}
	if len(s) > n {
		s = s[:n-1] + "…"
	}
	return append(out, s)
}
