package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Webhook headers, as documented in API.md.
const (
	// HeaderEventID carries the event id, stable across retries.
	HeaderEventID = "X-Sandbox-Event-Id"
	// HeaderTimestamp carries the Unix time (seconds) of the attempt.
	HeaderTimestamp = "X-Sandbox-Timestamp"
	// HeaderSignature carries "v1=" and the hex HMAC-SHA256 signature.
	HeaderSignature = "X-Sandbox-Signature"
)

// Channels, as used in webhook endpoint filters and events.
const (
	channelCard   = "card"
	channelBank   = "bank"
	channelWallet = "wallet"
)

// Delivery statuses.
const (
	deliveryPending   = "pending"
	deliveryDelivered = "delivered"
)

// Sign returns the signature header value for a webhook: "v1=" and the hex
// HMAC-SHA256, keyed by secret, of id + "." + timestamp + "." + body.
func Sign(secret, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify for a webhook that was not signed
// with the secret, or whose timestamp is outside the tolerance.
var ErrBadSignature = errors.New("sandbox: bad webhook signature")

// Verify checks a received webhook's headers against its raw body: the
// signature must match secret and the timestamp must be within tolerance of
// now. It returns the event id on success, ErrBadSignature otherwise.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) (string, error) {
	id, ts, sig := h.Get(HeaderEventID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sig == "" {
		return "", fmt.Errorf("%w: missing header", ErrBadSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: timestamp %q", ErrBadSignature, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return "", fmt.Errorf("%w: timestamp outside tolerance", ErrBadSignature)
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(secret, id, ts, body))) {
		return "", fmt.Errorf("%w: signature mismatch", ErrBadSignature)
	}
	return id, nil
}

// endpoint is a registered webhook receiver.
type endpoint struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret"`
	Channels  []string  `json:"channels"`
	CreatedAt time.Time `json:"created_at"`
}

func (e *endpoint) wants(channel string) bool {
	return len(e.Channels) == 0 || slices.Contains(e.Channels, channel)
}

// Event is a webhook event and the state of its deliveries.
type Event struct {
	// ID is unique and the same on every delivery attempt.
	ID string `json:"id"`
	// Type names what happened, like "card.payment.authorized".
	Type string `json:"type"`
	// Channel is "card", "bank" or "wallet".
	Channel string `json:"channel"`
	// CreatedAt is when the event was raised, on the sandbox clock.
	CreatedAt time.Time `json:"created_at"`
	// Data is the object as it was when the event was raised.
	Data json.RawMessage `json:"data"`
	// Deliveries holds one entry per endpoint the event is for.
	Deliveries []Delivery `json:"deliveries"`
}

// Delivery is the state of one event's delivery to one endpoint.
type Delivery struct {
	// EndpointID and URL name the receiving endpoint.
	EndpointID string `json:"endpoint_id"`
	URL        string `json:"url"`
	// Status is "pending" until a 2xx answer, then "delivered".
	Status string `json:"status"`
	// Attempts counts the attempts made so far.
	Attempts int `json:"attempts"`
	// LastError says why the last failed attempt failed.
	LastError string `json:"last_error"`
	// NextAttemptAt is when a pending delivery is tried next.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	// DeliveredAt is when the receiver accepted it.
	DeliveredAt *time.Time `json:"delivered_at"`
}

// eventRecord is an Event plus the exact body sent on every attempt.
type eventRecord struct {
	Event
	Body string `json:"body"`
}

// events serves webhook events by id; their list has its own handler, as its
// filters are optional.
func (s *Server) events() collection[eventRecord, Event] {
	return collection[eventRecord, Event]{
		s: s, what: "event",
		objects: s.st.events,
		view:    func(ev *eventRecord) Event { return ev.Event },
	}
}

// webhookBody is what a receiver gets.
type webhookBody struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Channel   string          `json:"channel"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// emit raises an event with a snapshot of data and queues it for every
// matching endpoint. Callers hold s.mu.
func (s *Server) emit(channel, typ string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("emit %s: %w", typ, err)
	}
	now := s.now()
	ev := &eventRecord{Event: Event{ID: s.newID("evt"), Type: typ, Channel: channel, CreatedAt: now, Data: raw}}
	body, err := json.Marshal(webhookBody{ev.ID, typ, channel, now, raw})
	if err != nil {
		return fmt.Errorf("emit %s: %w", typ, err)
	}
	ev.Body = string(body)
	ev.Deliveries = []Delivery{}
	for _, ep := range s.endpointsByID() {
		if ep.wants(channel) {
			ev.Deliveries = append(ev.Deliveries, newDelivery(ep, now))
		}
	}
	s.st.events[ev.ID] = ev
	if err := s.j.put(kindEvent, ev.ID, ev); err != nil {
		return err
	}
	s.log.Info("event", "id", ev.ID, "type", typ, "endpoints", len(ev.Deliveries))
	s.wake()
	return nil
}

func newDelivery(ep *endpoint, now time.Time) Delivery {
	return Delivery{EndpointID: ep.ID, URL: ep.URL, Status: deliveryPending, NextAttemptAt: timePtr(now)}
}

func (s *Server) endpointsByID() []*endpoint {
	eps := make([]*endpoint, 0, len(s.st.endpoints))
	for _, ep := range s.st.endpoints {
		eps = append(eps, ep)
	}
	slices.SortFunc(eps, func(a, b *endpoint) int { return cmpString(a.ID, b.ID) })
	return eps
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// attempt is one delivery to send, copied out of the state so the HTTP call
// runs without the lock.
type attempt struct {
	eventID, endpointID, url, secret string
	body                             []byte
	attempts                         int
}

// deliverDue sends every delivery whose time has come, in parallel, and
// records the outcomes.
func (s *Server) deliverDue(ctx context.Context) error {
	s.mu.Lock()
	now := s.now()
	var due []attempt
	for _, ev := range s.st.events {
		for _, d := range ev.Deliveries {
			if d.Status != deliveryPending || d.NextAttemptAt == nil || d.NextAttemptAt.After(now) {
				continue
			}
			ep, ok := s.st.endpoints[d.EndpointID]
			if !ok {
				continue
			}
			due = append(due, attempt{ev.ID, ep.ID, ep.URL, ep.Secret, []byte(ev.Body), d.Attempts})
		}
	}
	s.mu.Unlock()
	if len(due) == 0 {
		return nil
	}
	slices.SortFunc(due, func(a, b attempt) int { return cmpString(a.eventID, b.eventID) })
	s.shuffle(due)

	errs := make([]error, len(due))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8) // enough parallelism that one slow receiver does not stall the rest
	for i, a := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = s.send(ctx, a)
		}()
	}
	wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	now = s.now()
	for i, a := range due {
		ev, ok := s.st.events[a.eventID]
		if !ok {
			continue
		}
		for k := range ev.Deliveries {
			d := &ev.Deliveries[k]
			if d.EndpointID != a.endpointID || d.Status != deliveryPending {
				continue
			}
			d.Attempts++
			if errs[i] == nil {
				s.duplicate(ctx, a)
				d.Status, d.LastError, d.NextAttemptAt, d.DeliveredAt = deliveryDelivered, "", nil, timePtr(now)
				s.log.Info("webhook delivered", "event", a.eventID, "endpoint", a.endpointID, "attempts", d.Attempts)
			} else {
				d.LastError = errs[i].Error()
				d.NextAttemptAt = timePtr(now.Add(s.backoff(d.Attempts)))
				s.log.Warn("webhook failed", "event", a.eventID, "endpoint", a.endpointID, "attempts", d.Attempts, "err", errs[i])
			}
		}
		if err := s.j.put(kindEvent, ev.ID, ev); err != nil {
			return err
		}
	}
	return nil
}

// backoff is the delay after the n-th failed attempt: base, doubling, capped.
func (s *Server) backoff(n int) time.Duration {
	d := s.cfg.WebhookRetryBase
	for i := 1; i < n && d < s.cfg.WebhookRetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.WebhookRetryMax)
}

func (s *Server) send(ctx context.Context, a attempt) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(a.body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "strait-sandbox/1")
	req.Header.Set(HeaderEventID, a.eventID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(a.secret, a.eventID, ts, a.body))
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// RegisterWebhook registers (or updates, by URL) a webhook endpoint, as POST
// /webhooks/endpoints does. An empty secret makes one; no channels means all.
// It returns the secret in use.
func (s *Server) RegisterWebhook(rawURL, secret string, channels ...string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ep, _, err := s.registerEndpoint(rawURL, secret, channels)
	if err != nil {
		return "", err
	}
	return ep.Secret, nil
}

func (s *Server) registerEndpoint(rawURL, secret string, channels []string) (*endpoint, bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false, invalid("url must be an absolute http or https URL")
	}
	for _, c := range channels {
		if c != channelCard && c != channelBank && c != channelWallet {
			return nil, false, invalid("unknown channel %q", c)
		}
	}
	if secret == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, false, fmt.Errorf("make secret: %w", err)
		}
		secret = "whsec_" + hex.EncodeToString(b)
	}
	if channels == nil {
		channels = []string{}
	}
	var ep *endpoint
	for _, e := range s.st.endpoints {
		if e.URL == rawURL {
			ep = e
		}
	}
	created := ep == nil
	if created {
		ep = &endpoint{ID: s.newID("we"), URL: rawURL, CreatedAt: s.now()}
		s.st.endpoints[ep.ID] = ep
	}
	ep.Secret, ep.Channels = secret, channels
	if err := s.j.put(kindEndpoint, ep.ID, ep); err != nil {
		return nil, false, err
	}
	// Events nobody has received yet go to the new endpoint: nothing raised
	// before the first registration is lost.
	now := s.now()
	for _, ev := range s.st.events {
		if !ep.wants(ev.Channel) || slices.ContainsFunc(ev.Deliveries, func(d Delivery) bool {
			return d.EndpointID == ep.ID || d.Status == deliveryDelivered
		}) {
			continue
		}
		ev.Deliveries = append(ev.Deliveries, newDelivery(ep, now))
		if err := s.j.put(kindEvent, ev.ID, ev); err != nil {
			return nil, false, err
		}
	}
	s.wake()
	return ep, created, nil
}

// Events returns every event raised so far with its deliveries, oldest
// first.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, len(s.st.events))
	for _, ev := range s.st.events {
		e := ev.Event
		e.Deliveries = slices.Clone(ev.Deliveries)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Event) int { return cmpString(a.ID, b.ID) })
	return out
}

type endpointRequest struct {
	URL      string   `json:"url"`
	Secret   string   `json:"secret"`
	Channels []string `json:"channels"`
}

func (s *Server) handleRegisterEndpoint(w http.ResponseWriter, r *http.Request) {
	var req endpointRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.mu.Lock()
	ep, created, err := s.registerEndpoint(req.URL, req.Secret, req.Channels)
	var out endpoint
	if err == nil {
		out = *ep
	}
	s.mu.Unlock()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

func (s *Server) handleListEndpoints(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := list[endpoint]{Data: []endpoint{}}
	for _, ep := range s.endpointsByID() {
		out.Data = append(out.Data, *ep)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDeleteEndpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.endpoints[id]; !ok {
		s.writeError(w, r, notFound("webhook endpoint", id))
		return
	}
	delete(s.st.endpoints, id)
	if err := s.j.del(kindEndpoint, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListEvents(w http.ResponseWriter, r *http.Request) {
	channel, typ := r.URL.Query().Get("channel"), r.URL.Query().Get("type")
	out := list[Event]{Data: []Event{}}
	for _, ev := range s.Events() {
		if (channel == "" || ev.Channel == channel) && (typ == "" || ev.Type == typ) {
			out.Data = append(out.Data, ev)
		}
	}
	slices.Reverse(out.Data)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRedeliver(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.st.events[id]
	if !ok {
		s.writeError(w, r, notFound("event", id))
		return
	}
	now := s.now()
	for _, ep := range s.endpointsByID() {
		if !ep.wants(ev.Channel) {
			continue
		}
		i := slices.IndexFunc(ev.Deliveries, func(d Delivery) bool { return d.EndpointID == ep.ID })
		if i < 0 {
			ev.Deliveries = append(ev.Deliveries, newDelivery(ep, now))
			continue
		}
		ev.Deliveries[i].Status, ev.Deliveries[i].NextAttemptAt = deliveryPending, timePtr(now)
	}
	if err := s.j.put(kindEvent, ev.ID, ev); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.wake()
	writeJSON(w, http.StatusAccepted, ev.Event)
}

// shuffle puts due deliveries in a random order when Config.WebhookChaosSeed
// is set.
func (s *Server) shuffle(due []attempt) {
	if s.chaos == nil {
		return
	}
	s.chaosMu.Lock()
	defer s.chaosMu.Unlock()
	s.chaos.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
}

// duplicate sends a delivered event again 0–2 more times, each copy up to
// 2 s later, when Config.WebhookChaosSeed is set. The copies are the same
// event (same id and body), as a retry after a lost acknowledgement would
// be; their outcome changes nothing in the sandbox's records.
func (s *Server) duplicate(ctx context.Context, a attempt) {
	if s.chaos == nil {
		return
	}
	s.chaosMu.Lock()
	copies := s.chaos.Intn(3)
	delays := make([]time.Duration, copies)
	for i := range delays {
		delays[i] = time.Duration(s.chaos.Int63n(int64(2 * time.Second)))
	}
	s.chaosMu.Unlock()
	for _, d := range delays {
		go func() {
			select {
			case <-time.After(d):
			case <-s.done:
				return
			}
			err := s.send(ctx, a)
			s.log.Info("webhook duplicated", "event", a.eventID, "endpoint", a.endpointID, "err", err)
		}()
	}
}
