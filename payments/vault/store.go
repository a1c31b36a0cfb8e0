package vault

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/straitpay/strait/payments"
)

// Record is one vaulted card as the Store keeps it: the clear CardInfo and the
// encrypted PAN. The lead's ent schema mirrors these fields; Envelope's four
// fields become columns kek_id, wrapped_dek, nonce, ciphertext.
type Record struct {
	CardInfo
	Envelope Envelope
	// SessionID is the checkout session a one-time token was made for
	// (CardInput.SessionID); UsedBy is the idempotency key of the confirm
	// that used it, once one has. The checkout holds a one-time token to
	// both: it pays its own session, once.
	SessionID string
	UsedBy    string
}

// Store persists vault records. Implementations must scope nothing themselves:
// the Vault checks the merchant on every read.
type Store interface {
	// Put inserts a record. Returns ECONFLICT if its token already exists.
	Put(ctx context.Context, r Record) error
	// Get returns the record of a token. Returns ENOTFOUND if there is none.
	Get(ctx context.Context, t Token) (Record, error)
	// GetMany returns the records of the tokens that have one, by token.
	GetMany(ctx context.Context, ts []Token) (map[Token]Record, error)
	// ListByCustomer returns a merchant customer's saved cards, oldest first.
	ListByCustomer(ctx context.Context, merchantID, customerID string) ([]Record, error)
	// ListNotUnderKEK returns up to limit records whose envelope is wrapped under
	// a KEK other than kekID and whose token sorts after after ("" for the
	// start), in token order: a keyset page, for rotation.
	ListNotUnderKEK(ctx context.Context, kekID string, after Token, limit int) ([]Record, error)
	// UpdateKEK replaces a record's KEK id and wrapped DEK, only if its KEK id is
	// still from (compare-and-swap, so concurrent rotations on several replicas
	// are safe). Returns ENOTFOUND if the token is gone and ECONFLICT if the KEK
	// id is no longer from.
	UpdateKEK(ctx context.Context, t Token, from, kekID string, wrappedDEK []byte) error
	// Delete removes a record. Returns ENOTFOUND if there is none.
	Delete(ctx context.Context, t Token) error
}

// MemStore is an in-memory Store for tests and for running without a database.
type MemStore struct {
	mu      sync.Mutex
	records map[Token]Record
	order   []Token
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{records: map[Token]Record{}} }

// Put implements Store.
func (s *MemStore) Put(_ context.Context, r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[r.Token]; ok {
		return payments.Errorf(payments.ECONFLICT, "token %s already exists", r.Token)
	}
	s.records[r.Token] = cloneRecord(r)
	s.order = append(s.order, r.Token)
	return nil
}

// Get implements Store.
func (s *MemStore) Get(_ context.Context, t Token) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[t]
	if !ok {
		return Record{}, payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	}
	return cloneRecord(r), nil
}

// GetMany implements Store.
func (s *MemStore) GetMany(_ context.Context, ts []Token) (map[Token]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Token]Record, len(ts))
	for _, t := range ts {
		if r, ok := s.records[t]; ok {
			out[t] = cloneRecord(r)
		}
	}
	return out, nil
}

// ListByCustomer implements Store.
func (s *MemStore) ListByCustomer(_ context.Context, merchantID, customerID string) ([]Record, error) {
	return s.list(func(r Record) bool {
		return r.Saved && r.MerchantID == merchantID && r.CustomerID == customerID
	}, -1), nil
}

// ListNotUnderKEK implements Store.
func (s *MemStore) ListNotUnderKEK(_ context.Context, kekID string, after Token, limit int) ([]Record, error) {
	rs := s.list(func(r Record) bool { return r.Envelope.KEKID != kekID && r.Token > after }, -1)
	slices.SortFunc(rs, func(a, b Record) int { return strings.Compare(string(a.Token), string(b.Token)) })
	if len(rs) > limit {
		rs = rs[:limit]
	}
	return rs, nil
}

func (s *MemStore) list(keep func(Record) bool, limit int) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, t := range s.order {
		r, ok := s.records[t]
		if ok && keep(r) {
			if limit >= 0 && len(out) == limit {
				break
			}
			out = append(out, cloneRecord(r))
		}
	}
	return out
}

// UpdateKEK implements Store.
func (s *MemStore) UpdateKEK(_ context.Context, t Token, from, kekID string, wrappedDEK []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[t]
	switch {
	case !ok:
		return payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	case r.Envelope.KEKID != from:
		return payments.Errorf(payments.ECONFLICT, "card %s is no longer under key %s", t, from)
	}
	r.Envelope.KEKID, r.Envelope.WrappedDEK = kekID, slices.Clone(wrappedDEK)
	s.records[t] = r
	return nil
}

// Delete implements Store.
func (s *MemStore) Delete(_ context.Context, t Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[t]; !ok {
		return payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	}
	delete(s.records, t)
	s.order = slices.DeleteFunc(s.order, func(x Token) bool { return x == t })
	return nil
}

// Dump returns every stored byte and string field of every record joined as
// text, so tests can scan what "the database" holds for card data.
func (s *MemStore) Dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, t := range s.order {
		r := s.records[t]
		for _, f := range []string{string(r.Token), r.MerchantID, r.CustomerID, string(r.Scheme), string(r.Funding), r.Country, r.Issuer, r.BIN, r.Last4, r.HolderName, r.Fingerprint, r.Envelope.KEKID} {
			b.WriteString(f)
			b.WriteByte('\n')
		}
		for _, f := range [][]byte{r.Envelope.WrappedDEK, r.Envelope.Nonce, r.Envelope.Ciphertext} {
			b.Write(f)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func cloneRecord(r Record) Record {
	r.Envelope.WrappedDEK = slices.Clone(r.Envelope.WrappedDEK)
	r.Envelope.Nonce = slices.Clone(r.Envelope.Nonce)
	r.Envelope.Ciphertext = slices.Clone(r.Envelope.Ciphertext)
	return r
}
