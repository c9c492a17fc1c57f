package harness

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// WebhookSink is an HTTP server on 127.0.0.1 that stands in for the receivers of
// config/overlays/webhook.yaml: it answers 200 to every post and records each notification the
// alert exporter sends (Alertmanager's webhook JSON, version 4) with the time it arrived.
type WebhookSink struct {
	URL string

	mu   sync.Mutex
	msgs []WebhookMessage
	bad  int
	hold *held // the next post to keep unanswered, if any
}

type held struct {
	arrived, release chan struct{}
}

// WebhookMessage is one notification as the sink received it.
type WebhookMessage struct {
	Received    time.Time         `json:"-"`
	GroupKey    string            `json:"groupKey"`
	Status      string            `json:"status"`
	Receiver    string            `json:"receiver"`
	GroupLabels map[string]string `json:"groupLabels"`
	Alerts      []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of a notification.
type WebhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Fingerprint string            `json:"fingerprint"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// StartWebhookSink starts a sink; it is closed when the test ends.
func StartWebhookSink(tb testing.TB) *WebhookSink {
	tb.Helper()
	s := &WebhookSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m WebhookMessage
		err := json.Unmarshal(body, &m)
		m.Received = time.Now()
		s.mu.Lock()
		if err != nil {
			s.bad++
		} else {
			s.msgs = append(s.msgs, m)
		}
		h := s.hold
		s.hold = nil
		s.mu.Unlock()
		if h != nil {
			close(h.arrived)
			select { // the sender dies (its connection closes) or the test releases it
			case <-r.Context().Done():
			case <-h.release:
			}
		}
		rw.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL + "/alerts"
	return s
}

// Hold makes the sink record the next post and keep it unanswered until release is called or
// the sender goes away: a notification the receiver got but the sender never saw accepted, as
// when the collector dies mid-request. arrived is closed when that post comes.
func (s *WebhookSink) Hold() (arrived <-chan struct{}, release func()) {
	h := &held{arrived: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.hold = h
	s.mu.Unlock()
	var once sync.Once
	return h.arrived, func() { once.Do(func() { close(h.release) }) }
}

// SendAlertsTo makes a collector started on p post its alerts to sink: it sets
// AMAS_ALERT_WEBHOOK_URL and returns config/overlays/webhook.yaml, the overlay to start with.
func (p *DefaultConfigPorts) SendAlertsTo(tb testing.TB, sink *WebhookSink) string {
	tb.Helper()
	p.Env = append(p.Env, "AMAS_ALERT_WEBHOOK_URL="+sink.URL)
	return OverlayPath(tb, "webhook.yaml")
}

// Messages returns a copy of every notification received so far, in arrival order.
func (s *WebhookSink) Messages() []WebhookMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookMessage(nil), s.msgs...)
}

// Undecodable counts posts whose body was not webhook JSON.
func (s *WebhookSink) Undecodable() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bad
}

// Statuses lists, in arrival order, the status of every alert received whose labels include
// labels (alerts of every notification, firing and resolved).
func (s *WebhookSink) Statuses(labels map[string]string) []string {
	var out []string
	for _, m := range s.Messages() {
		for _, a := range m.Alerts {
			if includes(a.Labels, labels) {
				out = append(out, a.Status)
			}
		}
	}
	return out
}

func includes(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
