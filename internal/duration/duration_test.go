package duration

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
)

func TestParseReadsGoPrometheusAndMixedSyntax(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want time.Duration
	}{
		{"Go syntax is read as Go reads it.", "1h30m", 90 * time.Minute},
		{"Seconds alone are Go syntax.", "90s", 90 * time.Second},
		{"Go's fractions are kept.", "1.5h", 90 * time.Minute},
		{"Go's sub-millisecond units are kept.", "250us", 250 * time.Microsecond},
		{"A bare zero is zero.", "0", 0},
		{"Thirty days is 720 hours.", "30d", 30 * day},
		{"One week is 168 hours.", "1w", week},
		{"A Prometheus year is 365 days.", "1y", 365 * day},
		{"Prometheus units combine biggest first.", "1w2d3h4m5s6ms", week + 2*day + 3*time.Hour + 4*time.Minute + 5*time.Second + 6*time.Millisecond},
		{"Days combine with hours.", "1d12h", 36 * time.Hour},
		{"A fraction of a day is exact.", "1.5d", 36 * time.Hour},
		{"Days may follow hours in the mixed syntax.", "12h1d", 36 * time.Hour},
		{"A fraction of an hour after days is exact.", "1d1.5h", 25*time.Hour + 30*time.Minute},
		{"A leading minus sign negates (Validate rejects it where it matters).", "-1d", -day},
		{"A leading plus sign is accepted.", "+7d", 7 * day},
		{"Zero days is zero.", "0d", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.in)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestParseRejectsWhatNoSyntaxReads(t *testing.T) {
	cases := []struct{ name, in string }{
		{"The empty string is not a duration.", ""},
		{"A number without a unit is not a duration.", "30"},
		{"A number without a unit after days is rejected.", "1d5"},
		{"A doubled unit is rejected.", "3dd"},
		{"A unit without a number is rejected.", "d"},
		{"A sign alone is rejected.", "-"},
		{"An unknown unit is rejected.", "5x"},
		{"An unknown unit next to days is rejected.", "1d2x"},
		{"A number too large for int64 nanoseconds is rejected.", "200000w"},
		{"A sum that overflows is rejected.", "15000w15000w"},
		{"A malformed number is rejected.", "1..5d"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid duration")
		})
	}
}

type inner struct {
	Every time.Duration `mapstructure:"every"`
	Name  string        `mapstructure:"name"`
}

type Squashed struct {
	Timeout time.Duration `mapstructure:"timeout"`
}

type sample struct {
	Squashed `mapstructure:",squash"`
	Window   time.Duration                  `mapstructure:"window"`
	Buckets  []time.Duration                `mapstructure:"buckets"`
	Opt      *inner                         `mapstructure:"opt"`
	List     []inner                        `mapstructure:"list"`
	ByName   map[string]time.Duration       `mapstructure:"by_name"`
	Labels   map[string]string              `mapstructure:"labels"`
	Text     string                         `mapstructure:"text"`
	Count    int                            `mapstructure:"count"`
	Queue    configoptional.Optional[inner] `mapstructure:"queue"`
}

func TestUnmarshalReadsEveryDurationAtAnyDepth(t *testing.T) {
	conf := confmap.NewFromStringMap(map[string]any{
		"timeout": "1d",
		"window":  "4w",
		"buckets": []any{"100ms", "1d", "1w"},
		"opt":     map[string]any{"every": "2d", "name": "30d"},
		"list":    []any{map[string]any{"every": "1h30m"}, map[string]any{"every": "1d12h"}},
		"by_name": map[string]any{"a": "7d", "b": "90s"},
		"labels":  map[string]any{"window": "7d"},
		"text":    "1w",
		"count":   3,
		"queue":   map[string]any{"every": "1w"},
	})
	got := sample{Window: time.Hour, Count: 1}
	require.NoError(t, Unmarshal(conf, &got))
	assert.Equal(t, sample{
		Squashed: Squashed{Timeout: day},
		Window:   4 * week,
		Buckets:  []time.Duration{100 * time.Millisecond, day, week},
		Opt:      &inner{Every: 2 * day, Name: "30d"},
		List:     []inner{{Every: 90 * time.Minute}, {Every: 36 * time.Hour}},
		ByName:   map[string]time.Duration{"a": week, "b": 90 * time.Second},
		Labels:   map[string]string{"window": "7d"},
		Text:     "1w",
		Count:    3,
		Queue:    configoptional.Some(inner{Every: week}),
	}, got, "only strings bound for a time.Duration are read as durations")
}

func TestUnmarshalKeepsDefaultsAndGoSyntaxAsTheCollectorDecodesThem(t *testing.T) {
	conf := confmap.NewFromStringMap(map[string]any{"window": "90s"})
	got := sample{Window: time.Hour, Count: 7, Opt: &inner{Every: time.Minute}}
	require.NoError(t, Unmarshal(conf, &got))
	assert.Equal(t, sample{Window: 90 * time.Second, Count: 7, Opt: &inner{Every: time.Minute}}, got)
	require.NoError(t, Unmarshal(nil, &got), "an absent section changes nothing")
}

func TestUnmarshalNamesTheYAMLPathOfABadDuration(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"A top-level key.", map[string]any{"window": "3dd"}, `window: invalid duration "3dd"`},
		{"A squashed key.", map[string]any{"timeout": "1x"}, `timeout: invalid duration "1x"`},
		{"A list element.", map[string]any{"buckets": []any{"1s", "2q"}}, `buckets[1]: invalid duration "2q"`},
		{"A field of a list element.", map[string]any{"list": []any{map[string]any{}, map[string]any{"every": "d"}}}, `list[1].every: invalid duration "d"`},
		{"A map value.", map[string]any{"by_name": map[string]any{"a": "5y5y"}}, `by_name.a: invalid duration "5y5y"`},
		{"A field behind a pointer.", map[string]any{"opt": map[string]any{"every": "-"}}, `opt.every: invalid duration "-"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got sample
			err := Unmarshal(confmap.NewFromStringMap(c.raw), &got)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// FuzzParse: Parse never panics, reads every input Go's parser reads exactly as Go does, and
// every input Prometheus' parser reads exactly as Prometheus does.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"90s", "1h30m", "30d", "1w", "1y", "1d12h", "1.5d", "-1d", "+7d", "0", "", "3dd", "15000w15000w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if want, gerr := time.ParseDuration(s); gerr == nil {
			require.NoError(t, err)
			require.Equal(t, want, got)
		} else if want, perr := model.ParseDurationAllowNegative(s); perr == nil {
			require.NoError(t, err)
			require.Equal(t, time.Duration(want), got)
		}
	})
}
