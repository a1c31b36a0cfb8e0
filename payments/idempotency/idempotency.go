// Package idempotency makes a request run at most once per idempotency key,
// with Stripe's semantics: the first answer is stored and replayed to every
// retry with the same key; the same key with a different request is a
// conflict; concurrent duplicates wait for the first and get its answer.
//
// A caller brackets the work with Begin and then Complete (store the answer)
// or Release (forget the key, so a retry runs again). The unique index on
// (scope, key) decides which of concurrent duplicates runs, on SQLite and on
// MySQL alike; nothing is held in memory but wake-ups and the writes queued
// for their batch (concurrent claims share one INSERT, concurrent answers one
// UPDATE; claims and answers take turns, and what queued on both sides
// meanwhile shares one commit). A holder that dies leaves its record locked
// until its lease runs out; a retry then takes it over and runs the request
// again, so the work itself must be safe to re-run (the ledger posts each
// source once, connectors get channel idempotency keys).
//
// The package knows nothing of GraphQL: a transport computes the request's
// fingerprint (Fingerprint) and serializes the answer.
package idempotency

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/batch"
)

// PlatformScope is the scope of keys sent by operators acting for no
// particular merchant.
const PlatformScope = "platform"

// MaxResponseBytes is the largest answer Complete stores, the column's size.
const MaxResponseBytes = 1 << 20

// Defaults for Config.
const (
	// DefaultTTL is how long records are kept at least: Stripe's 24 hours,
	// long enough for a client's retries across a day-long outage.
	DefaultTTL = 24 * time.Hour
	// DefaultWait bounds how long a duplicate waits for the request in flight
	// before it gets a conflict: longer than almost every payment takes, and
	// well under the timeouts of HTTP clients and load balancers (30–60 s).
	DefaultWait = 10 * time.Second
	// DefaultLease is how long a claim holds a key before a retry may take it
	// over. It must exceed the longest request (connector calls are bounded
	// well below it), or a slow request and its retry would both run.
	DefaultLease = 2 * time.Minute
)

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_\-.:]{1,128}$`)

// ValidateKey returns EINVALID (field "idempotencyKey") unless key is 1–128
// characters of [A-Za-z0-9_-.:]: enough for a UUID or a prefixed ULID, and
// safe inside ledger source IDs and logs.
func ValidateKey(key string) error {
	if !keyPattern.MatchString(key) {
		return payments.FieldErrorf("idempotencyKey", "idempotency key must be 1–128 characters of [A-Za-z0-9_-.:]")
	}
	return nil
}

// Fingerprint returns the SHA-256, in hex, of the canonical JSON encoding of
// operation and request. request must encode deterministically: structs,
// maps (encoding/json sorts their keys), slices and scalars do. Two requests
// are the same request exactly when their fingerprints are equal.
func Fingerprint(operation string, request any) (string, error) {
	b, err := json.Marshal(struct {
		Version   int    `json:"v"`
		Operation string `json:"operation"`
		Request   any    `json:"request"`
	}{1, operation, request})
	if err != nil {
		return "", fmt.Errorf("idempotency: fingerprint %s: %w", operation, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Outcome is what Begin decided.
type Outcome struct {
	// Replay is the stored answer of the first request with the key, to send
	// back unchanged. It is nil when the caller should run the request.
	Replay []byte
	// Token, when Replay is nil, is the caller's claim on the key: pass it to
	// Complete or Release when the request is done.
	Token Token
}

// Replayed reports whether the outcome is a stored answer to send back.
func (o Outcome) Replayed() bool { return o.Replay != nil }

// Token is a claim on a key, held by one execution of a request.
type Token struct {
	id      string
	attempt int
	wakeKey string
}

// Attempt is how many times the request has started executing with this
// token's key: 1 the first time, more after a released or abandoned run.
func (t Token) Attempt() int { return t.attempt }

// Config configures a Service. Zero values get the defaults.
type Config struct {
	// Wait bounds how long Begin waits for a duplicate in flight.
	Wait time.Duration
	// Lease is how long a claim holds a key before a retry may take it over.
	Lease time.Duration
	// Now is the clock; it defaults to time.Now.
	Now func() time.Time
	// Dialect is the database's (store.DB.Dialect): on MySQL a batch of
	// claims and answers sends both statements in one round trip.
	Dialect string
	// BatchTimeout bounds one batch of claims and answers, retries
	// included; zero means batch.DefaultTimeout. A healthy batch takes
	// milliseconds, and one stuck behind row locks, or on a database that
	// stopped answering, gives up well before the lease of the keys it
	// claims runs out.
	BatchTimeout time.Duration
}

// Service stores idempotency records. Concurrent Begin and Complete calls
// are group-committed: the new keys of concurrent Begins are inserted by one
// statement, and the answers of concurrent Completes are stored by one
// statement, each batch taking whatever queued while the previous one ran.
// Batches of claims and of answers take turns (never two at once), and a
// batch of either takes what queued for the other along, writing both in
// one transaction: one commit (writeTogether). Close stops the batching.
type Service struct {
	client  *ent.Client
	dialect string
	wait    time.Duration
	lease   time.Duration
	// batchTimeout bounds each batch of claims and answers.
	batchTimeout time.Duration
	now          func() time.Time
	wakeups      wakeups

	// claims and answers take turns (writeTurn): while one batch writes, the
	// other side queues, and its next batch takes this side's queue along
	// (writeTogether), so claims and answers arriving together share a
	// commit.
	claims    batcher[*claim]
	answers   batcher[*answer]
	writeTurn sync.Mutex
	// answersInTx is set once the client's driver refuses a hand-written
	// statement outside a transaction (see storeAnswers).
	answersInTx atomic.Bool
	// lastStamp is the updated_at of the latest round of answers (stamp).
	stampMu   sync.Mutex
	lastStamp time.Time
}

// New returns a Service storing records through client. Its batches run on
// goroutines that exist only while there is work; Close waits for them.
func New(client *ent.Client, cfg Config) *Service {
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = batch.DefaultTimeout
	}
	s := &Service{
		client: client, dialect: cfg.Dialect, wait: cfg.Wait, lease: cfg.Lease, batchTimeout: cfg.BatchTimeout,
		now: func() time.Time { return cfg.Now().UTC().Truncate(time.Microsecond) },
	}
	s.claims = batcher[*claim]{run: s.claimBatch, turn: &s.writeTurn, maxItems: maxBatch}
	s.answers = batcher[*answer]{
		run: s.answerBatch, turn: &s.writeTurn, maxItems: maxBatch, maxBytes: maxAnswerBytes,
		size: func(a *answer) int { return len(a.response) },
	}
	return s
}

// Close writes the claims and answers already queued, waits for them, and
// stops the batching: Begin and Complete return EUNAVAILABLE afterwards, while
// Release and Sweep still work. It is safe to call more than once.
func (s *Service) Close() {
	s.claims.close()
	s.answers.close()
}
