package reliability

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// statusDoc is the part of the SLO status API (/observability/slo/status) the test reads.
type statusDoc struct {
	Processors []struct {
		ID         string     `json:"id"`
		Kind       string     `json:"kind"`
		LastTick   *time.Time `json:"last_tick"`
		Checkpoint *struct {
			StateAt *time.Time `json:"state_at"`
		} `json:"checkpoint"`
		WindowSpans *uint64 `json:"window_spans"`
	} `json:"processors"`
	SLOs []struct {
		Name   string `json:"name"`
		Groups []struct {
			Events    uint64 `json:"events"`
			BadEvents uint64 `json:"bad_events"`
		} `json:"groups"`
	} `json:"slos"`
}

func readStatus(port int) (statusDoc, error) {
	var st statusDoc
	code, body, err := harness.HTTPGet("http://" + harness.Addr(port) + "/observability/slo/status")
	if err != nil {
		return st, err
	}
	if code != 200 {
		return st, fmt.Errorf("HTTP %d", code)
	}
	return st, json.Unmarshal([]byte(body), &st)
}

// quiescentStates waits until neither processor is between an evaluation and the save of its
// checkpoint (the last tick's checkpoint state time is not before the tick) and returns the
// state each one's last save holds. The client is paused: any tick after this read saves a
// state newer than every accepted span.
func quiescentStates(t *testing.T, port int) (slo, reg state) {
	t.Helper()
	harness.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		st, err := readStatus(port)
		if err != nil {
			return false, err.Error()
		}
		var found [2]bool
		for _, p := range st.Processors {
			var s state
			if p.Checkpoint != nil && p.Checkpoint.StateAt != nil {
				s = state{saved: true, stateAt: *p.Checkpoint.StateAt}
			}
			if p.LastTick != nil && (!s.saved || s.stateAt.Before(*p.LastTick)) {
				return false, p.ID + " evaluated at " + p.LastTick.String() + " and has not saved that tick's checkpoint yet"
			}
			switch p.ID {
			case "slo":
				slo, found[0] = s, true
			case "regression":
				reg, found[1] = s, true
			}
		}
		return found[0] && found[1], "the status lists no slo or no regression processor"
	})
	return slo, reg
}

type restored struct {
	events, badEvents, windowSpans uint64
}

// statusAfterTick waits for an slo evaluation after since and returns agent_availability's
// events and the regression windows' spans.
func statusAfterTick(t *testing.T, port int, since time.Time) restored {
	t.Helper()
	var out restored
	harness.Eventually(t, 40*time.Second, 200*time.Millisecond, func() (bool, string) {
		st, err := readStatus(port)
		if err != nil {
			return false, err.Error()
		}
		ticked, reg := false, false
		for _, p := range st.Processors {
			switch {
			case p.ID == "slo" && p.LastTick != nil && p.LastTick.After(since):
				ticked = true
			case p.ID == "regression" && p.WindowSpans != nil:
				out.windowSpans, reg = *p.WindowSpans, true
			}
		}
		if !ticked || !reg {
			return false, "no slo evaluation since the start yet, or no regression processor"
		}
		for _, s := range st.SLOs {
			if s.Name == "agent_availability" && len(s.Groups) == 1 {
				out.events, out.badEvents = s.Groups[0].Events, s.Groups[0].BadEvents
				return true, ""
			}
		}
		return false, "agent_availability has no group"
	})
	return out
}
