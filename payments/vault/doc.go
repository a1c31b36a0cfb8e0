// Package vault keeps card numbers. It validates cards (Luhn, length and CVC
// length by scheme, expiry against a clock), derives scheme, funding type and
// issuing country from a BIN table, encrypts each PAN in its own AES-GCM envelope
// under a key ring that can rotate, hands out random tokens that can never be
// mistaken for a card number, fingerprints PANs for dedupe and velocity, and holds
// a CVC in memory only until the authorization that needs it.
//
// Sensitive values are opaque types: a PAN or a CVC prints, logs and marshals as
// a mask wherever it ends up (fmt verbs, slog, JSON, nested in other structs), and
// only PAN.Reveal and CVC.Reveal give the digits back, for the connector call.
package vault
