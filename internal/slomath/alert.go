package slomath

import "time"

// AlertPhase is where an alert is in its life.
type AlertPhase uint8

const (
	Inactive AlertPhase = iota
	Pending
	Firing
	Resolved
)

// String is the alertstate label value ("" for Inactive).
func (p AlertPhase) String() string {
	switch p {
	case Pending:
		return "pending"
	case Firing:
		return "firing"
	case Resolved:
		return "resolved"
	}
	return ""
}

// Alert is the state machine of one alert: inactive → pending (condition holds, waiting for
// `for`) → firing → resolved (condition cleared; kept for a retention period so a resolve
// survives a lost batch) → inactive. A condition that clears while pending goes back to inactive;
// one that comes back while resolved starts over (pending, or firing with for = 0).
type Alert struct {
	Phase       AlertPhase
	ActiveSince int64 // Unix ns the alert became pending or firing
	ResolvedAt  int64
}

// Step advances the alert to time now given whether its condition holds. It reports whether the
// alert has just started firing (a violation).
func (a *Alert) Step(now int64, cond bool, forDur, retention time.Duration) (fired bool) {
	if cond {
		switch a.Phase {
		case Inactive, Resolved:
			a.ActiveSince = now
			a.ResolvedAt = 0
			if forDur <= 0 {
				a.Phase = Firing
				return true
			}
			a.Phase = Pending
		case Pending:
			if now-a.ActiveSince >= int64(forDur) {
				a.Phase = Firing
				return true
			}
		}
		return false
	}
	switch a.Phase {
	case Pending:
		*a = Alert{}
	case Firing:
		a.Phase = Resolved
		a.ResolvedAt = now
	case Resolved:
		if now-a.ResolvedAt >= int64(retention) {
			*a = Alert{}
		}
	}
	return false
}

// Active reports whether the alert is pending or firing.
func (a Alert) Active() bool { return a.Phase == Pending || a.Phase == Firing }
