package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
)

// notification is one message for one integration of one receiver about one group: the unit
// that goes through the exporterhelper queue (persisted as JSON with a storage extension) and
// is retried on its own.
type notification struct {
	Receiver    string            `json:"receiver"`
	Integration string            `json:"integration"`
	GroupKey    string            `json:"groupKey"`
	GroupLabels map[string]string `json:"groupLabels"`
	Seq         uint64            `json:"seq"`
	Resend      bool              `json:"resend,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
	ExternalURL string            `json:"externalURL,omitempty"`
	Alerts      []notifAlert      `json:"alerts"`

	// firstTry is when this run first tried to deliver it: max_elapsed_time counts from here
	// (a notification restored from a persistent queue starts counting again).
	firstTry time.Time
	// logFiring is what the notification log recorded as announced when it was queued; the
	// receiver's accepted set once delivered. Not persisted: after a restart the firing alerts
	// the notification carries stand for it.
	logFiring map[uint64]struct{}
}

type notifAlert struct {
	Fingerprint  string             `json:"fingerprint"`
	Status       string             `json:"status"`
	Labels       map[string]string  `json:"labels"`
	Annotations  map[string]string  `json:"annotations,omitempty"`
	Values       map[string]float64 `json:"values,omitempty"`
	StartsAt     time.Time          `json:"startsAt"`
	EndsAt       time.Time          `json:"endsAt"`
	GeneratorURL string             `json:"generatorURL,omitempty"`
}

// mentions reports whether n carries the alert with fingerprint fp.
func (n *notification) mentions(fp uint64) bool {
	s := fpString(fp)
	for _, a := range n.Alerts {
		if a.Fingerprint == s {
			return true
		}
	}
	return false
}

func (n *notification) logKey() string { return n.GroupKey + "|" + n.Receiver + "|" + n.Integration }

func (n *notification) firing() []notifAlert {
	var out []notifAlert
	for _, a := range n.Alerts {
		if a.Status == "firing" {
			out = append(out, a)
		}
	}
	return out
}

func (n *notification) status() string {
	for _, a := range n.Alerts {
		if a.Status == "firing" {
			return "firing"
		}
	}
	return "resolved"
}

// ItemsCount is the number of alerts: what exporterhelper's sent/failed item counters count.
func (n *notification) ItemsCount() int { return len(n.Alerts) }

// BytesSize is an estimate; the queue sizes in requests by default.
func (n *notification) BytesSize() int { return 256 + 512*len(n.Alerts) }

// MergeSplit never merges: each notification goes to its own receiver and group.
func (n *notification) MergeSplit(_ context.Context, _ int, _ exporterhelper.RequestSizerType, r2 xexporterhelper.Request) ([]xexporterhelper.Request, error) {
	if r2 == nil {
		return []xexporterhelper.Request{n}, nil
	}
	return []xexporterhelper.Request{n, r2}, nil
}

type notificationEncoding struct{}

func (notificationEncoding) Marshal(_ context.Context, r xexporterhelper.Request) ([]byte, error) {
	n, ok := r.(*notification)
	if !ok {
		return nil, errNoNotification
	}
	return json.Marshal(n)
}

func (notificationEncoding) Unmarshal(b []byte) (context.Context, xexporterhelper.Request, error) {
	n := &notification{}
	if err := json.Unmarshal(b, n); err != nil {
		return context.Background(), nil, err
	}
	return context.Background(), n, nil
}

type notificationCtxKey struct{}

// The exporterhelper request API converts pdata into requests; our requests are made by the
// dispatcher, so the converter takes the notification from the context it is handed with.
func contextWithNotification(ctx context.Context, n *notification) context.Context {
	return context.WithValue(ctx, notificationCtxKey{}, n)
}

func convertFromContext(ctx context.Context, _ pmetric.Metrics) (xexporterhelper.Request, error) {
	n, ok := ctx.Value(notificationCtxKey{}).(*notification)
	if !ok || n == nil {
		return nil, errNoNotification
	}
	return n, nil
}

const (
	reasonPermanent  = "permanent"
	reasonExpired    = "expired"
	reasonQueueFull  = "queue_full"
	reasonNoReceiver = "no_receiver"
)

// push delivers one notification; exporterhelper wraps it in timeout, retry and the queue.
func (e *alertExporter) push(ctx context.Context, r xexporterhelper.Request) error {
	n, ok := r.(*notification)
	if !ok {
		return consumererror.NewPermanent(errNoNotification)
	}
	in := e.integrations[n.Receiver+"|"+n.Integration]
	if in == nil {
		e.tel.dropped(n.Receiver, n.Integration, reasonNoReceiver)
		e.logger.Warn("Dropping a queued notification for a receiver no longer configured",
			zap.String("receiver", n.Receiver), zap.String("integration", n.Integration))
		return consumererror.NewPermanent(errors.New("no receiver " + n.Receiver + " with integration " + n.Integration))
	}
	e.smu.Lock()
	s := e.seqState(n.logKey())
	e.smu.Unlock()

	// One notification of a key at a time, so a newer one is never overtaken by an older one.
	s.mu.Lock()
	defer s.mu.Unlock()
	e.smu.Lock()
	stale := n.Seq <= s.delivered || (n.Resend && n.Seq < s.enqueued)
	e.smu.Unlock()
	if stale {
		e.tel.superseded(n.Receiver, n.Integration)
		return nil
	}
	now := e.clock.Now()
	if n.firstTry.IsZero() {
		n.firstTry = now
	}
	err := in.notify(ctx, n)
	if err == nil {
		e.smu.Lock()
		if n.Seq > s.delivered {
			s.delivered = n.Seq
			s.accepted = n.acceptedSet()
		}
		e.smu.Unlock()
		e.seqDirty.Store(true)
		e.tel.sent(n.Receiver, n.Integration)
		return nil
	}
	e.tel.failed(n.Receiver, n.Integration)
	if consumererror.IsPermanent(err) {
		e.deadLetter(n, s, reasonPermanent)
		e.logger.Warn("Receiver rejected the notification; not retrying it (the group's next flush announces its alerts again)",
			zap.String("receiver", n.Receiver), zap.String("integration", n.Integration),
			zap.String("group", n.GroupKey), zap.Int("alerts", len(n.Alerts)), zap.Error(err))
		return err
	}
	if limit := e.cfg.BackOffConfig.MaxElapsedTime; e.cfg.BackOffConfig.Enabled && limit > 0 && now.Sub(n.firstTry) >= limit {
		e.deadLetter(n, s, reasonExpired)
		e.logger.Warn("Giving up on a notification after retry_on_failure.max_elapsed_time (the group's next flush announces its alerts again)",
			zap.String("receiver", n.Receiver), zap.String("integration", n.Integration),
			zap.String("group", n.GroupKey), zap.Duration("max_elapsed_time", limit), zap.Error(err))
		return consumererror.NewPermanent(err)
	}
	e.tel.retried(n.Receiver, n.Integration)
	return err
}

// acceptedSet is the set the notification log holds for its key once the receiver accepted n.
func (n *notification) acceptedSet() map[uint64]struct{} {
	if n.logFiring != nil {
		return n.logFiring
	}
	out := make(map[uint64]struct{}, len(n.Alerts))
	for _, a := range n.Alerts {
		if a.Status == "firing" {
			if fp, err := strconv.ParseUint(a.Fingerprint, 16, 64); err == nil {
				out[fp] = struct{}{}
			}
		}
	}
	return out
}

// deadLetter gives n up: counted, and, when no newer notification of its key was queued
// since, the notification log goes back to what the receiver last accepted, so the group's
// next flush announces the alerts again (the log marks alerts announced when they are queued,
// which is only true once the receiver accepts them). Called by push with s.mu held.
func (e *alertExporter) deadLetter(n *notification, s *seqState, reason string) {
	e.tel.dropped(n.Receiver, n.Integration, reason)
	e.tel.deadLettered(n.Receiver, n.Integration, reason)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.smu.Lock()
	latest := n.Seq >= s.enqueued
	accepted := s.accepted
	e.smu.Unlock()
	if !latest {
		return // a newer notification of the key is queued; the log describes that one
	}
	entry := e.nflog[n.logKey()]
	if entry == nil {
		return
	}
	firing := make(map[uint64]struct{}, len(accepted))
	for fp := range accepted {
		firing[fp] = struct{}{}
	}
	entry.firing = firing
	e.dirty = true
}
