package slomath

import (
	"errors"
	"fmt"
	"time"
)

// NoData raises an alert when a series that has had events goes silent in a way its own recent
// traffic says is not normal: dead, not idle.
//
// At time now, with the last event at L and the series resumed (started or restored from a
// checkpoint) at R, the silence is s = now − max(L, R) and the condition holds when all of:
//
//   - s ≥ After;
//   - s ≥ 2 × the longest gap between events seen in the Lookback before L, measured in whole
//     empty buckets of the ring (a cron agent that runs every 10 minutes has gaps of 9 minutes
//     in 1-minute buckets: it is silent after 18);
//   - predicted = E × s / Lookback ≥ MinPredicted, where E is the events (slices for timeslices
//     SLOs) in the Lookback before L: the recent rate predicted at least MinPredicted events in
//     the silence, so a low-traffic or bursty series is not called dead for a normal gap; and
//     the same with the events and length of the last Lookback/RecentShare before L, so a rate
//     that has been falling is judged on what it is now. For Poisson traffic at the predicted
//     rate, a silence through MinPredicted = λ predicted events has probability e^-λ: 6.7e-3
//     for 5, 4.5e-5 for 10;
//   - now − L < RetireAfter: a group silent that long is retired, not dead, and stops alerting.
//
// Measuring from max(L, R) is the grace period: after a restart the collector could not have
// seen the events of its downtime, so the silence starts again at R; for the same reason a gap
// that spans one of the last restarts is not a gap of the traffic.
//
// Zero values keep the plain rule (silence ≥ After, up to the SLO window): MinPredicted 0
// disables the prediction and the gap, RetireAfter 0 means the SLO window.
type NoData struct {
	Enabled      bool
	After        time.Duration
	For          time.Duration
	Lookback     time.Duration
	MinPredicted float64
	RetireAfter  time.Duration
}

// Validate checks the durations and the prediction; messages name the field as the config does.
func (n NoData) Validate() error {
	var errs []error
	if n.Enabled && n.After <= 0 {
		errs = append(errs, fmt.Errorf("after: must be > 0, got %s", n.After))
	}
	if n.For < 0 {
		errs = append(errs, fmt.Errorf("for: must be ≥ 0, got %s", n.For))
	}
	if !(n.MinPredicted >= 0) {
		errs = append(errs, fmt.Errorf("min_predicted: must be ≥ 0, got %v", n.MinPredicted))
	}
	if n.MinPredicted > 0 && n.Lookback <= 0 {
		errs = append(errs, fmt.Errorf("lookback: must be > 0 when min_predicted is set, got %s", n.Lookback))
	}
	if n.Lookback < 0 {
		errs = append(errs, fmt.Errorf("lookback: must be ≥ 0, got %s", n.Lookback))
	}
	if n.RetireAfter < 0 {
		errs = append(errs, fmt.Errorf("retire_after: must be ≥ 0, got %s", n.RetireAfter))
	}
	if n.Enabled && n.RetireAfter > 0 && n.RetireAfter <= n.After {
		errs = append(errs, fmt.Errorf("retire_after: must be longer than after %s, got %s", n.After, n.RetireAfter))
	}
	return errors.Join(errs...)
}

// Resume marks the series as (re)started at now: its silence counts from now at the earliest,
// because the events of a downtime were never seen. Call it for every restored series at start.
func (m *Model) Resume(s *Series, now int64) {
	if now <= s.resumes[0] {
		return
	}
	copy(s.resumes[1:], s.resumes[:])
	s.resumes[0] = now
}

// numResumes is how many restarts a series remembers: enough for a few within a lookback.
const numResumes = 4

// noData is the no-data condition of the series at now (see NoData).
func (m *Model) noData(s *Series, now int64) bool {
	nd := &m.NoData
	if !nd.Enabled || !s.HadData {
		return false
	}
	retire := nd.RetireAfter
	if retire <= 0 {
		retire = m.Window
	}
	if now-s.LastEvent >= int64(retire) {
		return false
	}
	silent := now - max(s.LastEvent, s.resumes[0])
	if silent < int64(nd.After) {
		return false
	}
	if nd.MinPredicted <= 0 {
		return true
	}
	events, gap := s.Ring.activity(s.LastEvent, nd.Lookback, &s.resumes)
	if silent < 2*int64(gap) {
		return false
	}
	if float64(events)*float64(silent)/float64(nd.Lookback) < nd.MinPredicted {
		return false
	}
	// The same prediction from the last quarter of the lookback: in a falling rate (the evening)
	// the whole lookback predicts several times the events the current rate does, which would
	// make MinPredicted a much weaker bound on the chance of an idle gap than it says.
	recent := nd.Lookback / RecentShare
	rEvents, _ := s.Ring.activity(s.LastEvent, recent, &s.resumes)
	return float64(rEvents)*float64(silent)/float64(recent) >= nd.MinPredicted
}

// RecentShare divides the no-data lookback into the recent part whose rate must predict
// MinPredicted events too (4: the last 15 minutes of the default 1h lookback).
const RecentShare = 4

// spansResume reports whether a restart happened in [from, to).
func spansResume(from, to int64, resumes *[numResumes]int64) bool {
	for _, r := range resumes {
		if r >= from && r < to {
			return true
		}
	}
	return false
}

// activity reads the lookback that ends at time at from the finest tier that spans it: the
// events in it and the longest gap between two of its non-empty buckets, as the longest run of
// empty buckets (so steady traffic has no gap, and a gap is known to within one bucket width: 1
// minute for the default layout's 1h tier). A gap that spans a restart is the collector's downtime and
// does not count.
func (r *Ring) activity(at int64, lookback time.Duration, resumes *[numResumes]int64) (events uint64, gap time.Duration) {
	var tr *tierRing
	for i := range r.tiers {
		tr = &r.tiers[i]
		if tr.width*int64(len(tr.buckets)) >= int64(lookback) {
			break
		}
	}
	if tr == nil || tr.head == emptyHead || at < 0 {
		return 0, 0
	}
	n := int64(len(tr.buckets))
	nb := (int64(lookback) + tr.width - 1) / tr.width
	cur := at / tr.width
	lo := max(cur-nb+1, tr.head-n+1)
	hi := min(cur, tr.head)
	prev := int64(-1)
	var maxGap int64
	for i := lo; i <= hi; i++ {
		b := tr.buckets[i%n]
		if b.Total == 0 {
			continue
		}
		events += b.Total
		if prev >= 0 && !spansResume(prev*tr.width, (i+1)*tr.width, resumes) {
			maxGap = max(maxGap, i-prev-1)
		}
		prev = i
	}
	return events, time.Duration(maxGap * tr.width)
}
