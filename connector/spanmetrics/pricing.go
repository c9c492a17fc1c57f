package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

// priceTable looks up a model's price without allocating.
type priceTable map[string]ModelPrice

// lookup matches the model exactly, or its undated entry when the id ends in a dated snapshot
// suffix (`-20250514` or `-2024-08-06`). Nothing else is guessed: "gpt-4o-mini" never matches
// "gpt-4o", and "claude-opus-4-5" never matches "claude-opus-4".
func (p priceTable) lookup(model string) (ModelPrice, bool) {
	if v, ok := p[model]; ok {
		return v, true
	}
	if base, ok := stripDateSuffix(model); ok {
		v, ok := p[base]
		return v, ok
	}
	return ModelPrice{}, false
}

func stripDateSuffix(m string) (string, bool) {
	// -YYYYMMDD
	if n := len(m); n > 9 && m[n-9] == '-' && allDigits(m[n-8:]) {
		return m[:n-9], true
	}
	// -YYYY-MM-DD
	if n := len(m); n > 11 && m[n-11] == '-' && allDigits(m[n-10:n-6]) && m[n-6] == '-' && allDigits(m[n-5:n-3]) && m[n-3] == '-' && allDigits(m[n-2:]) {
		return m[:n-11], true
	}
	return "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// costUSD prices one span's usage. Following the GenAI conventions, input tokens include cache
// reads and cache creations, and output tokens include reasoning tokens, so cache reads are moved
// from the input price to the cached-input price and nothing is counted twice.
func costUSD(p ModelPrice, input, output, cacheRead uint64) float64 {
	uncached := input
	if cacheRead <= input {
		uncached = input - cacheRead
	} else {
		uncached = 0
	}
	return (float64(uncached)*p.Input + float64(cacheRead)*p.CachedInput + float64(output)*p.Output) / 1e6
}
