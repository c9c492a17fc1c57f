// Package slomath is the pure math of streaming SLOs: rolling windows kept as rings of bucketed
// counters, error ratio, burn rate, error budget remaining, compliance, the multi-window
// multi-burn-rate rule table rescaled for an SLO's window, budget thresholds, no-data detection,
// and the pending/firing/resolved alert state machine.
//
// It knows nothing of collector types: time is int64 Unix nanoseconds handed in by the caller (an
// injected clock), so the slo processor, a Prometheus-rules generator and a status API can all
// share it.
//
// # Bucketing error
//
// A window of length w is read from a tier of buckets of width b, where b divides w and
// b ≤ w/BucketsPerWindow (so b ≤ w/60). Buckets are aligned to multiples of b since the Unix
// epoch. The sum for w at time now covers the current (partial) bucket and the w/b−1 buckets
// before it, that is the events with timestamp t ≥ now−w+b' for some b' in (0,b]: every event
// newer than now−w+b is counted, no event older than now−w is counted, and only events in the
// one-bucket strip (now−w, now−w+b] at the old edge may be missed. The time covered is between
// w−b and w, so the error is at most the events of 1/60 of the window (≈1.7%).
package slomath // import "github.com/otelcol-amas/otelcol-amas/internal/slomath"
