package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Journal kinds: one per persisted object type.
const (
	kindMeta       = "meta"
	kindCard       = "card"
	kindVA         = "va"
	kindPayout     = "payout"
	kindAgreement  = "agreement"
	kindDebit      = "debit"
	kindWallet     = "wallet"
	kindEndpoint   = "endpoint"
	kindEvent      = "event"
	kindSettlement = "stl"
	kindBalance    = "balance"
	kindOp         = "op"
)

// meta holds the sandbox's own persistent settings.
type meta struct {
	// FingerprintKey keys card fingerprints so they are stable across
	// restarts but useless to anyone without the data directory.
	FingerprintKey string `json:"fingerprint_key"`
	// AccountSeq numbers virtual accounts.
	AccountSeq int64 `json:"account_seq"`
}

// balance is the merchant's bank position in one currency.
type balance struct {
	Currency  string `json:"currency"`
	Available int64  `json:"available"`
	Pending   int64  `json:"pending"`
}

// opRecord remembers the result of an operation on an existing object under
// its idempotency key, so a repeat replays it.
type opRecord struct {
	Key    string   `json:"key"`
	Params string   `json:"params"`
	Result opResult `json:"result"`
}

// state is everything the sandbox knows; guarded by Server.mu.
type state struct {
	meta        meta
	cards       map[string]*cardRecord
	vas         map[string]*virtualAccount
	payouts     map[string]*payoutRecord
	agreements  map[string]*agreementRecord
	debits      map[string]*debitRecord
	wallets     map[string]*walletRecord
	endpoints   map[string]*endpoint
	events      map[string]*eventRecord
	settlements map[string]*settlementRow
	balances    map[string]*balance
	ops         map[string]*opRecord

	// Indexes rebuilt at load.
	cardByKey   map[string]string
	walletByKey map[string]string
	payoutByKey map[string]string
	debitByKey  map[string]string
	agrByKey    map[string]string
	vaByRef     map[string]string
}

func newState() *state {
	return &state{
		cards:       map[string]*cardRecord{},
		vas:         map[string]*virtualAccount{},
		payouts:     map[string]*payoutRecord{},
		agreements:  map[string]*agreementRecord{},
		debits:      map[string]*debitRecord{},
		wallets:     map[string]*walletRecord{},
		endpoints:   map[string]*endpoint{},
		events:      map[string]*eventRecord{},
		settlements: map[string]*settlementRow{},
		balances:    map[string]*balance{},
		ops:         map[string]*opRecord{},
		cardByKey:   map[string]string{},
		walletByKey: map[string]string{},
		payoutByKey: map[string]string{},
		debitByKey:  map[string]string{},
		agrByKey:    map[string]string{},
		vaByRef:     map[string]string{},
	}
}

// load applies journal entries to an empty state.
func (st *state) load(entries []journalEntry) error {
	for _, e := range entries {
		if err := st.loadOne(e); err != nil {
			return fmt.Errorf("load %s %s: %w", e.Kind, e.ID, err)
		}
	}
	return nil
}

func (st *state) loadOne(e journalEntry) error {
	switch e.Kind {
	case kindMeta:
		return json.Unmarshal(e.V, &st.meta)
	case kindCard:
		return loadInto(e, st.cards, func(v *cardRecord) { st.cardByKey[v.IdempotencyKey] = v.ID })
	case kindVA:
		return loadInto(e, st.vas, func(v *virtualAccount) { st.vaByRef[v.Reference] = v.ID })
	case kindPayout:
		return loadInto(e, st.payouts, func(v *payoutRecord) { st.payoutByKey[v.IdempotencyKey] = v.ID })
	case kindAgreement:
		return loadInto(e, st.agreements, func(v *agreementRecord) {
			if v.IdempotencyKey != "" {
				st.agrByKey[v.IdempotencyKey] = v.ID
			}
		})
	case kindDebit:
		return loadInto(e, st.debits, func(v *debitRecord) { st.debitByKey[v.IdempotencyKey] = v.ID })
	case kindWallet:
		return loadInto(e, st.wallets, func(v *walletRecord) { st.walletByKey[v.IdempotencyKey] = v.ID })
	case kindEndpoint:
		return loadInto(e, st.endpoints, nil)
	case kindEvent:
		return loadInto(e, st.events, nil)
	case kindSettlement:
		return loadInto(e, st.settlements, nil)
	case kindBalance:
		return loadInto(e, st.balances, nil)
	case kindOp:
		return loadInto(e, st.ops, nil)
	default:
		return fmt.Errorf("unknown kind %q", e.Kind)
	}
}

func loadInto[T any](e journalEntry, m map[string]*T, index func(*T)) error {
	v := new(T)
	if err := json.Unmarshal(e.V, v); err != nil {
		return err
	}
	m[e.ID] = v
	if index != nil {
		index(v)
	}
	return nil
}

// initialize fills a brand-new state: the fingerprint key and the opening
// balances.
func (s *Server) initialize() error {
	if s.st.meta.FingerprintKey != "" {
		return nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	s.st.meta.FingerprintKey = hex.EncodeToString(key)
	if err := s.j.put(kindMeta, kindMeta, s.st.meta); err != nil {
		return err
	}
	for _, c := range currencies() {
		if _, ok := s.st.balances[c]; ok {
			continue
		}
		b := &balance{Currency: c, Available: initialBalance(c)}
		s.st.balances[c] = b
		if err := s.j.put(kindBalance, c, b); err != nil {
			return err
		}
	}
	return nil
}

// opLookup finds the recorded result of an operation. It returns nil when
// the key is new, and idempotency_conflict when the key was used with other
// parameters.
func (s *Server) opLookup(key, params string) (*opRecord, error) {
	op, ok := s.st.ops[key]
	if !ok {
		return nil, nil
	}
	if op.Params != params {
		return nil, conflict("idempotency key already used with different parameters")
	}
	return op, nil
}

// opSave records an operation's result under its idempotency key; an empty
// key records nothing.
func (s *Server) opSave(key, params string, res opResult) error {
	if strings.HasSuffix(key, "|") {
		return nil
	}
	res.Payment, res.Agreement = nil, nil
	op := &opRecord{Key: key, Params: params, Result: res}
	s.st.ops[key] = op
	return s.j.put(kindOp, key, op)
}

// moveBalance changes the merchant's bank balance in one currency.
func (s *Server) moveBalance(currency string, available, pending int64) error {
	b, ok := s.st.balances[currency]
	if !ok {
		b = &balance{Currency: currency, Available: initialBalance(currency)}
		s.st.balances[currency] = b
	}
	b.Available += available
	b.Pending += pending
	return s.j.put(kindBalance, currency, b)
}

// timePtr returns a pointer to a copy of t, for optional time fields.
func timePtr(t time.Time) *time.Time { return &t }
