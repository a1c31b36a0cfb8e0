// Package entstore is the vault's Store on Strait's database (the vault_cards
// table, ent entity VaultCard). It scopes nothing itself: the Vault checks the
// merchant on every read, so every call here runs as Strait itself.
package entstore

import (
	"context"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/vaultcard"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
)

// Store implements vault.Store over an ent client.
type Store struct{ client *ent.Client }

var _ vault.Store = (*Store)(nil)

// New returns a Store over client.
func New(client *ent.Client) *Store { return &Store{client: client} }

// Put implements vault.Store.
func (s *Store) Put(ctx context.Context, r vault.Record) error {
	c := s.client.VaultCard.Create().
		SetID(string(r.Token)).SetMerchantID(r.MerchantID).SetSaved(r.Saved).
		SetScheme(string(r.Scheme)).SetFunding(string(r.Funding)).SetCountry(r.Country).SetIssuer(r.Issuer).
		SetBin(r.BIN).SetLast4(r.Last4).SetPanLength(r.Length).
		SetExpMonth(r.Expiry.Month).SetExpYear(r.Expiry.Year).SetHolderName(r.HolderName).
		SetFingerprint(r.Fingerprint).
		SetKekID(r.Envelope.KEKID).SetWrappedDek(r.Envelope.WrappedDEK).
		SetNonce(r.Envelope.Nonce).SetCiphertext(r.Envelope.Ciphertext).
		SetCreatedAt(r.CreatedAt.UTC().Truncate(time.Microsecond))
	if r.CustomerID != "" {
		c.SetCustomerID(r.CustomerID)
	}
	if r.SessionID != "" {
		c.SetCheckoutSessionID(r.SessionID)
	}
	err := c.Exec(viewer.SystemContext(ctx))
	if ent.IsConstraintError(err) {
		return payments.Errorf(payments.ECONFLICT, "token %s already exists", r.Token)
	}
	if err != nil {
		return fmt.Errorf("vault put: %w", err)
	}
	return nil
}

// Get implements vault.Store.
func (s *Store) Get(ctx context.Context, t vault.Token) (vault.Record, error) {
	row, err := s.client.VaultCard.Get(viewer.SystemContext(ctx), string(t))
	if ent.IsNotFound(err) {
		return vault.Record{}, payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	}
	if err != nil {
		return vault.Record{}, fmt.Errorf("vault get: %w", err)
	}
	return Record(row), nil
}

// GetMany implements vault.Store with one query.
func (s *Store) GetMany(ctx context.Context, ts []vault.Token) (map[vault.Token]vault.Record, error) {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = string(t)
	}
	rows, err := s.client.VaultCard.Query().Where(vaultcard.IDIn(ids...)).All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("vault get: %w", err)
	}
	out := make(map[vault.Token]vault.Record, len(rows))
	for _, r := range rows {
		out[vault.Token(r.ID)] = Record(r)
	}
	return out, nil
}

// ListByCustomer implements vault.Store.
func (s *Store) ListByCustomer(ctx context.Context, merchantID, customerID string) ([]vault.Record, error) {
	rows, err := s.client.VaultCard.Query().
		Where(vaultcard.MerchantID(merchantID), vaultcard.CustomerID(customerID), vaultcard.Saved(true)).
		Order(ent.Asc(vaultcard.FieldCreatedAt), ent.Asc(vaultcard.FieldID)).
		All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("vault list: %w", err)
	}
	return records(rows), nil
}

// ListNotUnderKEK implements vault.Store.
func (s *Store) ListNotUnderKEK(ctx context.Context, kekID string, after vault.Token, limit int) ([]vault.Record, error) {
	rows, err := s.client.VaultCard.Query().
		Where(vaultcard.KekIDNEQ(kekID), vaultcard.IDGT(string(after))).
		Order(ent.Asc(vaultcard.FieldID)).Limit(limit).
		All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("vault list for rotation: %w", err)
	}
	return records(rows), nil
}

// UpdateKEK implements vault.Store.
func (s *Store) UpdateKEK(ctx context.Context, t vault.Token, from, kekID string, wrappedDEK []byte) error {
	sys := viewer.SystemContext(ctx)
	n, err := s.client.VaultCard.Update().
		Where(vaultcard.ID(string(t)), vaultcard.KekID(from)).
		SetKekID(kekID).SetWrappedDek(wrappedDEK).
		Save(sys)
	if err != nil {
		return fmt.Errorf("vault rewrap: %w", err)
	}
	if n == 1 {
		return nil
	}
	exists, err := s.client.VaultCard.Query().Where(vaultcard.ID(string(t))).Exist(sys)
	switch {
	case err != nil:
		return fmt.Errorf("vault rewrap: %w", err)
	case !exists:
		return payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	}
	return payments.Errorf(payments.ECONFLICT, "card %s is no longer under key %s", t, from)
}

// Delete implements vault.Store.
func (s *Store) Delete(ctx context.Context, t vault.Token) error {
	err := s.client.VaultCard.DeleteOneID(string(t)).Exec(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	}
	if err != nil {
		return fmt.Errorf("vault delete: %w", err)
	}
	return nil
}

// Info returns the clear, displayable part of a row.
func Info(row *ent.VaultCard) vault.CardInfo {
	info := vault.CardInfo{
		Token: vault.Token(row.ID), MerchantID: row.MerchantID, Saved: row.Saved,
		Scheme: vault.Scheme(row.Scheme), Funding: vault.Funding(row.Funding), Country: row.Country, Issuer: row.Issuer,
		BIN: row.Bin, Last4: row.Last4, Length: row.PanLength,
		Expiry:     vault.Expiry{Month: row.ExpMonth, Year: row.ExpYear},
		HolderName: row.HolderName, Fingerprint: row.Fingerprint, CreatedAt: row.CreatedAt,
	}
	if row.CustomerID != nil {
		info.CustomerID = *row.CustomerID
	}
	return info
}

// Record returns a row as the vault's Record.
func Record(row *ent.VaultCard) vault.Record {
	r := vault.Record{CardInfo: Info(row), Envelope: vault.Envelope{
		KEKID: row.KekID, WrappedDEK: row.WrappedDek, Nonce: row.Nonce, Ciphertext: row.Ciphertext,
	}}
	if row.CheckoutSessionID != nil {
		r.SessionID = *row.CheckoutSessionID
	}
	if row.UsedBy != nil {
		r.UsedBy = *row.UsedBy
	}
	return r
}

func records(rows []*ent.VaultCard) []vault.Record {
	out := make([]vault.Record, len(rows))
	for i, r := range rows {
		out[i] = Record(r)
	}
	return out
}
