// Package slosim simulates weeks of LLM agent traffic on an injected clock, with labelled
// incidents, and scores the alerts an SLO evaluator raised on it: false pages, false tickets,
// missed incidents, and the time from the start of each incident to its first page and ticket.
//
// It is pure Go and knows nothing of the collector: a driver (the slo processor with a fake
// clock, or Prometheus rules over the same counters) turns each Tick into its own input and hands
// back the alerts it fired. Everything is deterministic for a seed.
package slosim // import "github.com/otelcol-amas/otelcol-amas/internal/slosim"

import (
	"math"
	"math/rand/v2"
	"time"
)

// TickLength is the step of the simulation: the slo processor's default evaluation interval.
// Traffic is drawn per tick (counts per 10 s), not per request.
const TickLength = 10 * time.Second

// Names of the default SLOs a scenario exercises.
const (
	SLOAvailability = "agent_availability"
	SLOLatency      = "agent_latency_p95"
	SLOTools        = "tool_call_success_rate"
	SLOMemory       = "memory_usage"
	SLOCost         = "cost_efficiency"
	SLOQueue        = "queue_depth"
)

// SLONames are the six default SLOs in the order reports list them.
var SLONames = []string{SLOAvailability, SLOLatency, SLOTools, SLOMemory, SLOCost, SLOQueue}

// Kind is what an incident or a noise event does.
type Kind int

const (
	// TotalFailure: every agent run of the agent fails (fast, with error status).
	TotalFailure Kind = iota
	// ErrorRate: Param of the agent's runs fail.
	ErrorRate
	// LatencyFactor: every run takes Param times as long.
	LatencyFactor
	// ToolFailure: Param of the agent's tool calls fail (1 = all).
	ToolFailure
	// MemoryHigh: the memory utilisation gauge reads Param.
	MemoryHigh
	// CostFactor: every run costs Param times as much.
	CostFactor
	// QueueStuck: the queue depth gauge reads Param.
	QueueStuck
	// AgentPause: the agent sends nothing (a deploy restart).
	AgentPause
	// CollectorDown: the collector is stopped; nothing is received and nothing is evaluated.
	CollectorDown
	// SingleError: one extra failing run of the agent at the start.
	SingleError
	// SingleSlow: one extra run slower than 1.5 s at the start.
	SingleSlow
)

// Incident is a labelled real problem (Incident true) or a piece of harmless noise (false).
type Incident struct {
	Name     string
	SLO      string // the SLO the incident should alert on ("" for noise)
	Kind     Kind
	Agent    string
	Start    time.Time
	Duration time.Duration
	Param    float64
	Incident bool
	// ExpectPage: the incident must page (total failures, and 20% errors for 30 minutes of the
	// 99.5% availability SLO); the others must raise some alert. (At 99% 30 minutes of 20% tool
	// errors spend 1.4% of the 30-day budget, under the 2% in 1h of the workbook's fastest page.)
	ExpectPage bool
}

// End is when the incident stops.
func (i Incident) End() time.Time { return i.Start.Add(i.Duration) }

func (i Incident) active(t time.Time) bool { return !t.Before(i.Start) && t.Before(i.End()) }

// Agent is one simulated agent.
type Agent struct {
	Name string
	// PeakPerSecond is the rate at the busiest hour; NightPerSecond the floor (quiet nights).
	PeakPerSecond, NightPerSecond float64
	// PerHour, when > 0, is a flat rate instead (a low-traffic agent).
	PerHour float64
	// CronEvery, when > 0, makes the agent run CronRuns runs at once every CronEvery.
	CronEvery time.Duration
	CronRuns  int
	// From is when the agent starts (a new agent mid-window); zero: from the start.
	From time.Time
}

// Scenario is the traffic and its labelled incidents.
type Scenario struct {
	Seed     uint64
	Start    time.Time
	Duration time.Duration
	Agents   []Agent
	Events   []Incident
	// Background rates per run / per tool call.
	ErrorRate, SlowRate, ToolErrorRate, ExpensiveRate float64
	ToolsPerRun                                       float64
	CostPerRun                                        float64 // USD, median
}

// AgentTick is what one agent did in one tick.
type AgentTick struct {
	Name        string
	Runs        int
	Failed      int
	Slow        int // runs longer than 1.5 s
	Tools       int
	ToolsFailed int
	CostUSD     float64
}

// Tick is one step of the simulation, ending at At.
type Tick struct {
	At time.Time
	// CollectorUp is false while the collector is stopped (a restart).
	CollectorUp bool
	// Restarted is true on the first tick after a stop.
	Restarted bool
	Agents    []AgentTick
	// Memory and Queue are gauge samples taken in this tick (NaN when none: the memory gauge
	// comes every 60 s, the queue depth every 15 s, rounded here to every other tick).
	Memory, Queue float64
}

// Default is the benchmark's scenario over days days (at least 4): quiet nights and busy
// afternoons, a low-traffic agent, a cron agent, a new agent from the middle of day 2, daily
// deploys, and a 4-day block of incidents and noise repeated every 7 days from day 1.
func Default(days int, seed uint64) Scenario {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s := Scenario{
		Seed: seed, Start: start, Duration: time.Duration(days) * 24 * time.Hour,
		Agents: []Agent{
			{Name: "support", PeakPerSecond: 2, NightPerSecond: 0.05},
			{Name: "billing", PerHour: 4},
			{Name: "reporter", CronEvery: 10 * time.Minute, CronRuns: 5},
			{Name: "triage", PeakPerSecond: 0.3, NightPerSecond: 0.01, From: start.Add(2*24*time.Hour + 12*time.Hour)},
		},
		ErrorRate: 0.0003, SlowRate: 0.01, ToolErrorRate: 0.001, ExpensiveRate: 0.002,
		ToolsPerRun: 2, CostPerRun: 0.02,
	}
	at := func(day int, h, m int) time.Time {
		return start.Add(time.Duration(day)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	for d := range days {
		// A deploy restart of the busiest agent every day: a few seconds without traffic.
		s.Events = append(s.Events, Incident{Name: "deploy restart", Kind: AgentPause, Agent: "support", Start: at(d, 13, 0), Duration: TickLength})
	}
	for base := 1; base+3 <= days; base += 7 {
		b := func(day, h, m int) time.Time { return at(base+day, h, m) }
		s.Events = append(s.Events,
			// Real incidents.
			Incident{Name: "total failure (busy hour)", SLO: SLOAvailability, Kind: TotalFailure, Agent: "support", Start: b(0, 11, 0), Duration: 10 * time.Minute, Incident: true, ExpectPage: true},
			Incident{Name: "total failure (evening)", SLO: SLOAvailability, Kind: TotalFailure, Agent: "support", Start: b(2, 20, 30), Duration: 10 * time.Minute, Incident: true, ExpectPage: true},
			Incident{Name: "20% errors for 30 min", SLO: SLOAvailability, Kind: ErrorRate, Agent: "support", Start: b(1, 15, 0), Duration: 30 * time.Minute, Param: 0.2, Incident: true, ExpectPage: true},
			Incident{Name: "tool API down", SLO: SLOTools, Kind: ToolFailure, Agent: "support", Start: b(1, 10, 0), Duration: 15 * time.Minute, Param: 1, Incident: true, ExpectPage: true},
			Incident{Name: "tool 20% errors for 30 min", SLO: SLOTools, Kind: ToolFailure, Agent: "support", Start: b(2, 14, 0), Duration: 30 * time.Minute, Param: 0.2, Incident: true},
			Incident{Name: "latency ×3 for 2 h", SLO: SLOLatency, Kind: LatencyFactor, Agent: "support", Start: b(2, 10, 0), Duration: 2 * time.Hour, Param: 3, Incident: true},
			Incident{Name: "memory leak, 90% for 1 h", SLO: SLOMemory, Kind: MemoryHigh, Start: b(2, 3, 0), Duration: time.Hour, Param: 0.9, Incident: true},
			Incident{Name: "cost ×4 for 3 h", SLO: SLOCost, Kind: CostFactor, Agent: "support", Start: b(2, 17, 0), Duration: 3 * time.Hour, Param: 4, Incident: true},
			Incident{Name: "agent triage dead for 2 h", SLO: SLOAvailability, Kind: AgentPause, Agent: "triage", Start: b(2, 13, 30), Duration: 2 * time.Hour, Incident: true},
			Incident{Name: "queue stuck at 120 for 1 h", SLO: SLOQueue, Kind: QueueStuck, Start: b(0, 20, 0), Duration: time.Hour, Param: 120, Incident: true},
			// Noise that must not page.
			Incident{Name: "65 s blip of 5% errors", Kind: ErrorRate, Agent: "support", Start: b(0, 16, 0), Duration: 65 * time.Second, Param: 0.05},
			Incident{Name: "one failure of the low-traffic agent", Kind: SingleError, Agent: "billing", Start: b(0, 4, 0)},
			Incident{Name: "one failure at night", Kind: SingleError, Agent: "support", Start: b(1, 2, 30)},
			Incident{Name: "one failure of the cron agent", Kind: SingleError, Agent: "reporter", Start: b(1, 6, 0)},
			Incident{Name: "one slow run after a quiet night", Kind: SingleSlow, Agent: "support", Start: b(1, 5, 0)},
			Incident{Name: "collector restart of 3 min", Kind: CollectorDown, Start: b(1, 11, 0), Duration: 3 * time.Minute},
			Incident{Name: "memory spike, one sample at 85%", Kind: MemoryHigh, Start: b(0, 9, 0), Duration: time.Minute, Param: 0.85},
			Incident{Name: "nightly batch, queue at 60 for 2 min", Kind: QueueStuck, Start: b(1, 2, 0), Duration: 2 * time.Minute, Param: 60},
		)
	}
	return s
}

// diurnal is 0 at night and 1 at the busiest hour (14:00), with a morning ramp from 06:00 and
// an evening fall to 22:00.
func diurnal(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	if h < 6 || h >= 22 {
		return 0
	}
	return math.Sin(math.Pi * (h - 6) / 16)
}

// poisson draws a Poisson count with mean lambda (Knuth's method; lambda here is below ~60).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 60 {
		n := int(math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64()))
		return max(n, 0)
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func binomial(r *rand.Rand, n int, p float64) int {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	k := 0
	for range n {
		if r.Float64() < p {
			k++
		}
	}
	return k
}

// Run calls fn for every tick of the scenario, in order. The Tick and its slices are reused.
func (s Scenario) Run(fn func(*Tick)) {
	r := rand.New(rand.NewPCG(s.Seed, s.Seed^0x5851f42d4c957f2d))
	tk := &Tick{Agents: make([]AgentTick, len(s.Agents))}
	n := int(s.Duration / TickLength)
	wasDown := false
	for i := 1; i <= n; i++ {
		end := s.Start.Add(time.Duration(i) * TickLength)
		begin := end.Add(-TickLength)
		tk.At = end
		tk.CollectorUp = true
		for _, e := range s.Events {
			if e.Kind == CollectorDown && e.active(begin) {
				tk.CollectorUp = false
			}
		}
		tk.Restarted = tk.CollectorUp && wasDown
		wasDown = !tk.CollectorUp
		for j, a := range s.Agents {
			tk.Agents[j] = s.agentTick(r, a, begin)
		}
		tk.Memory, tk.Queue = math.NaN(), math.NaN()
		if i%6 == 0 { // every 60 s
			tk.Memory = 0.5 + 0.15*diurnal(begin) + 0.03*r.NormFloat64()
			for _, e := range s.Events {
				if e.Kind == MemoryHigh && e.active(begin) {
					tk.Memory = e.Param
				}
			}
		}
		if i%2 == 0 { // every 20 s
			tk.Queue = float64(poisson(r, 3+12*diurnal(begin)))
			for _, e := range s.Events {
				if e.Kind == QueueStuck && e.active(begin) {
					tk.Queue = e.Param
				}
			}
		}
		fn(tk)
	}
}

func (s Scenario) agentTick(r *rand.Rand, a Agent, begin time.Time) AgentTick {
	at := AgentTick{Name: a.Name}
	if !a.From.IsZero() && begin.Before(a.From) {
		return at
	}
	sec := TickLength.Seconds()
	switch {
	case a.CronEvery > 0:
		if begin.Sub(s.Start)%a.CronEvery == 0 {
			at.Runs = a.CronRuns
		}
	case a.PerHour > 0:
		at.Runs = poisson(r, a.PerHour*sec/3600)
	default:
		at.Runs = poisson(r, sec*(a.NightPerSecond+(a.PeakPerSecond-a.NightPerSecond)*diurnal(begin)))
	}
	errRate, slowRate, toolErr, costFactor := s.ErrorRate, s.SlowRate, s.ToolErrorRate, 1.0
	extraFail, extraSlow := 0, 0
	for _, e := range s.Events {
		if e.Agent != a.Name {
			continue
		}
		if (e.Kind == SingleError || e.Kind == SingleSlow) && !begin.Before(e.Start) && begin.Before(e.Start.Add(TickLength)) {
			if e.Kind == SingleError {
				extraFail++
			} else {
				extraSlow++
			}
			continue
		}
		if !e.active(begin) {
			continue
		}
		switch e.Kind {
		case TotalFailure:
			errRate = 1
		case ErrorRate:
			errRate = e.Param
		case LatencyFactor:
			// Healthy runs are log-normal with 1% above 1.5 s; ×3 puts 65% of them above.
			slowRate = 0.65
		case ToolFailure:
			toolErr = e.Param
		case CostFactor:
			costFactor = e.Param
		case AgentPause:
			at.Runs = 0
		}
	}
	at.Runs += extraFail + extraSlow
	at.Failed = min(at.Runs, binomial(r, at.Runs-extraFail-extraSlow, errRate)+extraFail)
	if errRate < 1 {
		at.Slow = binomial(r, at.Runs-extraFail-extraSlow, slowRate) + extraSlow
		at.Tools = poisson(r, s.ToolsPerRun*float64(at.Runs-at.Failed))
		at.ToolsFailed = binomial(r, at.Tools, toolErr)
	}
	for range at.Runs - at.Failed {
		c := s.CostPerRun * math.Exp(0.4*r.NormFloat64())
		if r.Float64() < s.ExpensiveRate {
			c = 0.30 // a runaway run: many model calls
		}
		at.CostUSD += c * costFactor
	}
	return at
}

// HardDown reports whether the incident makes every request of its SLO fail.
func (i Incident) HardDown() bool {
	return i.Kind == TotalFailure || (i.Kind == ToolFailure && i.Param >= 1)
}

// Truth is the labelled incidents of the scenario (not the noise).
func (s Scenario) Truth() []Incident {
	var out []Incident
	for _, e := range s.Events {
		if e.Incident {
			out = append(out, e)
		}
	}
	return out
}
