package idempotency

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/idempotencyrecord"
	"github.com/straitpay/strait/payments/store"
)

// A Deferred is a claim on a key that the request's own work writes, in the
// transaction that writes the work's first effects, instead of in a
// transaction of its own before the work starts (Begin). Work that decides
// and writes in one group-committed transaction then pays no round trip, no
// commit and no batch hand-off for its key: the claim goes with its COMMIT.
//
// The rules a Deferred's work must keep, which make it answer exactly as
// Begin before the work would:
//
//   - Before its first durable effect, the work either claims the key in the
//     transaction that writes that effect (ClaimIn, after reading with Held
//     in the same transaction that the key has no record), or claims it on
//     its own (Claim) and stops with Claim's error, if any.
//   - Work that ends without claiming wrote nothing that a retry would not
//     write again the same way: a refusal. The transport then claims the key
//     and stores that answer (Claim, then Complete), or sends the stored
//     answer it finds.
//
// A Deferred is part of its operation's input (checkout.ConfirmInput.Claim),
// never a context value: the operation states that it writes the claim. A
// Deferred belongs to one request; its methods are safe for concurrent use,
// and a nil Deferred's do nothing (no key, or one claimed before the work).
type Deferred struct {
	s *Service
	claimKey

	mu      sync.Mutex
	token   *Token
	replay  []byte
	err     error // Claim's refusal
	settled bool  // Claim ran (or ClaimIn committed): the outcome is final
}

// claimKey is what a claim writes: its key in its scope, and the request it
// is for.
type claimKey struct {
	scope, key, operation, requestHash string
}

func (k claimKey) wakeKey() string { return k.scope + "\x00" + k.key }

// ErrReplayed is Claim's error when the key holds a stored answer: the work
// must stop, having written nothing, and the transport sends Replay instead.
var ErrReplayed = errors.New("idempotency: the key holds a stored answer")

// Defer returns a deferred claim on key within scope for one execution of
// operation, whose fingerprint is requestHash. Nothing is written. Returns
// EINVALID (field "idempotencyKey") for a malformed key.
func (s *Service) Defer(scope, key, operation, requestHash string) (*Deferred, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if scope == "" || operation == "" || requestHash == "" {
		return nil, fmt.Errorf("idempotency: defer %q: scope, operation and request hash are required", key)
	}
	return &Deferred{s: s, claimKey: claimKey{scope: scope, key: key, operation: operation, requestHash: requestHash}}, nil
}

// Key returns the claim's key in its scope, as one string: two claims with
// equal Keys are claims on one key.
func (d *Deferred) Key() string { return d.wakeKey() }

// Claim claims the key now, as Begin does, for work about to write without a
// transaction that can carry the claim. It returns nil when the key is the
// caller's, or was claimed already: the work goes on. Otherwise the work must
// stop, with nothing written, and return the error: ErrReplayed when the key
// holds a stored answer (Replay), or Begin's errors (ECONFLICT for another
// request with the key, or one still in flight after the wait; ctx's error;
// EUNAVAILABLE after Close). Claim runs once; later calls return its first
// outcome.
func (d *Deferred) Claim(ctx context.Context) error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.token != nil:
		return nil
	case d.replay != nil:
		return ErrReplayed
	case d.settled:
		return d.err
	}
	d.settled = true
	out, err := d.s.Begin(ctx, d.scope, d.key, d.operation, d.requestHash)
	switch {
	case err != nil:
		d.err = err
		return err
	case out.Replayed():
		d.replay = out.Replay
		return ErrReplayed
	}
	d.token = &out.Token
	return nil
}

// Claimed returns the claim's token once the key is the request's: claimed
// by Claim, or by ClaimIn whose transaction committed.
func (d *Deferred) Claimed() (Token, bool) {
	if d == nil {
		return Token{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.token == nil {
		return Token{}, false
	}
	return *d.token, true
}

// Replay returns the stored answer Claim found, or nil.
func (d *Deferred) Replay() []byte {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.replay
}

// Settled reports whether Claim ran or ClaimIn committed: a later Claim
// would only repeat the outcome.
func (d *Deferred) Settled() bool {
	if d == nil {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.settled
}

// Held returns a read, for store.ReadTogether in the transaction that will
// claim ds (ClaimIn), that sets held[d] for each of ds whose key has a
// record already: those must be left to Claim, which replays, waits or
// refuses as Begin does. On MySQL, read after the rows that serialize the
// work (the transaction's locking reads), so that it sees the claims of
// work that held them before.
func Held(ds []*Deferred, held map[*Deferred]bool) store.Read {
	return func(ctx context.Context, c *ent.Client) error {
		if len(ds) == 0 {
			return nil
		}
		scopes := make([]string, 0, 1)
		keys := make([]string, len(ds))
		for i, d := range ds {
			keys[i] = d.key
			if !slices.Contains(scopes, d.scope) {
				scopes = append(scopes, d.scope)
			}
		}
		rows, err := c.IdempotencyRecord.Query().
			Where(idempotencyrecord.MerchantIDIn(scopes...), idempotencyrecord.KeyIn(keys...)).
			Select(idempotencyrecord.FieldMerchantID, idempotencyrecord.FieldKey).
			All(ctx)
		if err != nil {
			return fmt.Errorf("idempotency records: %w", err)
		}
		found := make(map[string]bool, len(rows))
		for _, r := range rows {
			found[r.MerchantID+"\x00"+r.Key] = true
		}
		for _, d := range ds {
			if found[d.wakeKey()] {
				held[d] = true
			}
		}
		return nil
	}
}

// ClaimIn writes the claims of ds in tx: on MySQL the INSERT goes with tx's
// next statement or its COMMIT. The keys must be distinct, and Held, read in
// tx, must have found none of them. Call the returned function once tx has
// committed: the claims are then the requests'. If tx rolls back, nothing
// was claimed and each work claims on its own (Claim). A key claimed
// meanwhile by another transaction fails tx (its INSERT or its COMMIT, with
// a duplicate key). All of ds must come from one Service.
func ClaimIn(ctx context.Context, tx *ent.Tx, ds []*Deferred) (committed func(), err error) {
	if len(ds) == 0 {
		return func() {}, nil
	}
	s := ds[0].s
	keys := make([]claimKey, len(ds))
	seen := make(map[string]bool, len(ds))
	for i, d := range ds {
		if d.s != s {
			return nil, errors.New("idempotency: claims of two services in one transaction")
		}
		if seen[d.wakeKey()] {
			return nil, fmt.Errorf("idempotency: key %q claimed twice in one transaction", d.key)
		}
		seen[d.wakeKey()] = true
		keys[i] = d.claimKey
	}
	w := store.NewWrites(tx, s.dialect, true)
	recs, err := s.insertClaims(ctx, w.Client(), keys)
	if err != nil {
		return nil, err
	}
	if err := w.Flush(ctx); err != nil {
		return nil, err
	}
	return func() {
		for i, d := range ds {
			d.mu.Lock()
			d.token = &Token{id: recs[i].ID, attempt: recs[i].Attempts, wakeKey: d.wakeKey()}
			d.settled = true
			d.mu.Unlock()
		}
	}, nil
}
