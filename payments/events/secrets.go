package events

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/webhookendpoint"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
)

// Endpoint secrets at rest. A receiver needs its whsec_ secret in clear to
// verify, so Strait must read it back to sign: it is sealed with the card
// vault's envelope scheme (payments/vault: a fresh AES-256-GCM key per
// secret, wrapped by the active key-encryption key of STRAIT_VAULT_KEYS,
// both bound to the endpoint's id), never hashed. The columns hold the
// sealed text form ("sealed:v1:<kek id>:…"), the current secret's and the
// rotated one's alike.

// secretRecord names an endpoint's secrets to the vault: a sealed secret
// copied onto another endpoint does not open.
func secretRecord(endpointID string) string { return "webhook_endpoint:" + endpointID }

// errNoKeys is why endpoints cannot be created or rotated without keys.
var errNoKeys = payments.Errorf(payments.EUNAVAILABLE, "webhook secrets are sealed with the vault's keys, which are not configured (STRAIT_VAULT_KEYS)")

func (w *Webhooks) seal(endpointID, secret string) (string, error) {
	if w.cfg.Keys == nil {
		return "", errNoKeys
	}
	return w.cfg.Keys.SealSecret([]byte(secret), secretRecord(endpointID))
}

// open returns a stored secret in clear: a sealed one opened, one stored
// before sealing existed (whsec_…, until SealSecrets seals it) as it is.
func (w *Webhooks) open(endpointID, stored string) (string, error) {
	if !vault.IsSealed(stored) {
		return stored, nil
	}
	if w.cfg.Keys == nil {
		return "", fmt.Errorf("endpoint %s: its secret is sealed and no vault keys are configured", endpointID)
	}
	key := endpointID + "\x00" + stored
	if s, ok := w.secrets.get(key); ok {
		return s, nil
	}
	b, err := w.cfg.Keys.OpenSecret(stored, secretRecord(endpointID))
	if err != nil {
		return "", fmt.Errorf("endpoint %s secret: %w", endpointID, err)
	}
	w.secrets.put(key, string(b))
	return string(b), nil
}

// secretCache keeps opened secrets so a delivery does not open its
// endpoint's secret again. An entry is keyed by the sealed text, which a
// rotation or a rewrap changes: the old entry is then never read, and the
// cache is emptied when it reaches maxOpenSecrets.
type secretCache struct {
	mu sync.Mutex
	m  map[string]string
}

const maxOpenSecrets = 4096

func (c *secretCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[key]
	return s, ok
}

func (c *secretCache) put(key, secret string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxOpenSecrets {
		c.m = map[string]string{}
	}
	c.m[key] = secret
}

// signingSecrets are the secrets that sign a delivery made at: the current
// one, and the rotated one until its overlap ends.
func (w *Webhooks) signingSecrets(ep *ent.WebhookEndpoint, at time.Time) ([]string, error) {
	cur, err := w.open(ep.ID, ep.Secret)
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if ep.PreviousSecret != "" && ep.PreviousSecretExpiresAt != nil && at.Before(*ep.PreviousSecretExpiresAt) {
		prev, err := w.open(ep.ID, ep.PreviousSecret)
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}

// SealResult counts what SealSecrets changed.
type SealResult struct {
	// Sealed is how many secrets were in clear and are now sealed.
	Sealed int
	// Rewrapped is how many sealed secrets moved under the active KEK.
	Rewrapped int
}

// SealSecrets brings every endpoint's secrets (current and rotated) to the
// active KEK: a secret still in clear (stored before sealing existed) is
// sealed, one under another KEK is rewrapped (after a key rotation). Every
// replica runs it at start; each row is rewritten by a conditional update
// on the value read, so replicas racing on it write each row once, and a
// second run changes nothing. Without keys it does nothing. Returns an
// error naming the first endpoint whose secret does not open (its KEK
// removed from the ring too early), after doing the others.
func (w *Webhooks) SealSecrets(ctx context.Context) (SealResult, error) {
	var res SealResult
	if w.cfg.Keys == nil {
		return res, nil
	}
	sys := viewer.SystemContext(ctx)
	var firstErr error
	after := ""
	for {
		eps, err := w.client.WebhookEndpoint.Query().Where(webhookendpoint.IDGT(after)).
			Order(ent.Asc(webhookendpoint.FieldID)).Limit(200).All(sys)
		if err != nil {
			return res, fmt.Errorf("seal webhook secrets: %w", err)
		}
		if len(eps) == 0 {
			break
		}
		for _, ep := range eps {
			after = ep.ID
			err := w.sealField(sys, ep, webhookendpoint.FieldSecret, ep.Secret, &res)
			if err == nil && ep.PreviousSecret != "" {
				err = w.sealField(sys, ep, webhookendpoint.FieldPreviousSecret, ep.PreviousSecret, &res)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return res, firstErr
}

// sealField writes stored, sealed under the active KEK, into field if it
// still holds stored: a rotation or another replica's sweep in between
// wins, and this write does nothing. What it wrote is counted in res.
func (w *Webhooks) sealField(ctx context.Context, ep *ent.WebhookEndpoint, field, stored string, res *SealResult) error {
	var to string
	count := &res.Rewrapped
	if !vault.IsSealed(stored) {
		var err error
		if to, err = w.seal(ep.ID, stored); err != nil {
			return err
		}
		count = &res.Sealed
	} else {
		var changed bool
		var err error
		if to, changed, err = w.cfg.Keys.RewrapSecret(stored, secretRecord(ep.ID)); err != nil {
			return fmt.Errorf("endpoint %s secret: %w", ep.ID, err)
		}
		if !changed {
			return nil
		}
	}
	u := w.client.WebhookEndpoint.Update().Where(webhookendpoint.ID(ep.ID))
	if field == webhookendpoint.FieldSecret {
		u = u.Where(webhookendpoint.Secret(stored)).SetSecret(to)
	} else {
		u = u.Where(webhookendpoint.PreviousSecret(stored)).SetPreviousSecret(to)
	}
	n, err := u.Save(ctx)
	if err != nil {
		return fmt.Errorf("endpoint %s: write sealed secret: %w", ep.ID, err)
	}
	*count += n
	return nil
}
