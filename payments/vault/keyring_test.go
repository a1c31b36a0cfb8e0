package vault

import (
	"context"
	"strings"
	"testing"

	"github.com/straitpay/strait/payments"
)

func TestParseKeyRing(t *testing.T) {
	cases := []struct {
		name, spec string
		active     string
		ids        []string
		wantErr    string
	}{
		{"one key", "k1:" + testKey(1), "k1", []string{"k1"}, ""},
		{"first is active", "k2:" + testKey(2) + ", k1:" + testKey(1), "k2", []string{"k2", "k1"}, ""},
		{"unpadded url base64", "k1:" + strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(testKey(0xfb)), "="), "k1", []string{"k1"}, ""},
		{"empty", "  ", "", nil, "empty"},
		{"no colon", testKey(1), "", nil, "id:base64"},
		{"bad id", "k 1:" + testKey(1), "", nil, "id:base64"},
		{"short key", "k1:AAAA", "", nil, "want 32"},
		{"not base64", "k1:!!!", "", nil, "base64"},
		{"duplicate", "k1:" + testKey(1) + ",k1:" + testKey(2), "", nil, "duplicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseKeyRing(c.spec)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), testKey(1)) {
					t.Fatal("error quotes key material")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Active() != c.active || strings.Join(r.IDs(), ",") != strings.Join(c.ids, ",") {
				t.Fatalf("active %s ids %v, want %s %v", r.Active(), r.IDs(), c.active, c.ids)
			}
		})
	}
}

func TestGenerateKeyParses(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	mustKeyRing(t, "new:"+a)
}

func TestEnvelopeRejectsTamperingAndSwaps(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	ctx := context.Background()
	tokA, _, err := f.vault.Tokenize(ctx, visaInput())
	if err != nil {
		t.Fatal(err)
	}
	in := visaInput()
	in.Number = "5555555555554444"
	tokB, _, err := f.vault.Tokenize(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.store.Get(ctx, tokA)
	b, _ := f.store.Get(ctx, tokB)

	flip := func(bs []byte, i int) []byte {
		out := append([]byte(nil), bs...)
		out[i%len(out)] ^= 0x01
		return out
	}
	cases := []struct {
		name string
		env  Envelope
	}{
		{"ciphertext bit flipped", Envelope{a.Envelope.KEKID, a.Envelope.WrappedDEK, a.Envelope.Nonce, flip(a.Envelope.Ciphertext, 3)}},
		{"tag bit flipped", Envelope{a.Envelope.KEKID, a.Envelope.WrappedDEK, a.Envelope.Nonce, flip(a.Envelope.Ciphertext, -1+len(a.Envelope.Ciphertext))}},
		{"nonce changed", Envelope{a.Envelope.KEKID, a.Envelope.WrappedDEK, flip(a.Envelope.Nonce, 0), a.Envelope.Ciphertext}},
		{"wrapped DEK changed", Envelope{a.Envelope.KEKID, flip(a.Envelope.WrappedDEK, 20), a.Envelope.Nonce, a.Envelope.Ciphertext}},
		{"unknown KEK id", Envelope{"k9", a.Envelope.WrappedDEK, a.Envelope.Nonce, a.Envelope.Ciphertext}},
		{"whole envelope from another record", b.Envelope},
		{"ciphertext and nonce from another record", Envelope{a.Envelope.KEKID, a.Envelope.WrappedDEK, b.Envelope.Nonce, b.Envelope.Ciphertext}},
		{"truncated wrapped DEK", Envelope{a.Envelope.KEKID, a.Envelope.WrappedDEK[:5], a.Envelope.Nonce, a.Envelope.Ciphertext}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := f.vault.keys.open(c.env, string(tokA)); err != errOpen {
				t.Fatalf("open = %v, want errOpen", err)
			}
		})
	}

	// Through the Vault and its store: swap the two records' envelopes.
	_ = f.store.Delete(ctx, tokA)
	a.Envelope = b.Envelope
	if err := f.store.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	_, err = f.vault.Detokenize(ctx, "mer_a", tokA)
	if err == nil || payments.ErrorCode(err) != payments.EINTERNAL {
		t.Fatalf("Detokenize after swap = %v, want an internal error", err)
	}
}

func TestRotationRewrapsWithoutTouchingCiphertext(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	ctx := context.Background()
	numbers := []string{"4242424242424242", "5555555555554444", "378282246310005"}
	toks := make([]Token, len(numbers))
	before := map[Token]Record{}
	for i, n := range numbers {
		in := visaInput()
		in.Number, in.CVC = n, ""
		tok, _, err := f.vault.Tokenize(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = tok
		before[tok], _ = f.store.Get(ctx, tok)
	}

	// The operator prepends k2: new cards use it, old ones still open under k1.
	v2 := f.withKeys(t, "k2:"+testKey(2)+",k1:"+testKey(1))
	in := visaInput()
	in.Number = "6200000000000005"
	newTok, _, err := v2.Tokenize(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := f.store.Get(ctx, newTok); r.Envelope.KEKID != "k2" {
		t.Fatalf("new card under %s, want k2", r.Envelope.KEKID)
	}
	for i, tok := range toks {
		if pan, err := v2.Detokenize(ctx, "mer_a", tok); err != nil || pan.Reveal() != numbers[i] {
			t.Fatalf("before rotation, card %d: %v", i, err)
		}
	}

	res, err := v2.Rotate(ctx)
	if err != nil || res != (RotateResult{Rewrapped: 3}) {
		t.Fatalf("Rotate = %+v, %v; want 3 rewrapped", res, err)
	}
	for _, tok := range toks {
		r, _ := f.store.Get(ctx, tok)
		old := before[tok]
		if r.Envelope.KEKID != "k2" || string(r.Envelope.Ciphertext) != string(old.Envelope.Ciphertext) || string(r.Envelope.Nonce) != string(old.Envelope.Nonce) {
			t.Fatalf("card %s: kek %s, ciphertext changed %v", tok, r.Envelope.KEKID, string(r.Envelope.Ciphertext) != string(old.Envelope.Ciphertext))
		}
	}
	if res, err := v2.Rotate(ctx); err != nil || res.Rewrapped != 0 {
		t.Fatalf("second Rotate = %+v, %v; want nothing to do", res, err)
	}

	// With k1 removed, every card still opens.
	v3 := f.withKeys(t, "k2:"+testKey(2))
	for i, tok := range toks {
		if pan, err := v3.Detokenize(ctx, "mer_a", tok); err != nil || pan.Reveal() != numbers[i] {
			t.Fatalf("after removing k1, card %d: %v", i, err)
		}
	}
}

func TestRotateReportsCardsWhoseKeyIsGone(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	ctx := context.Background()
	tok, _, err := f.vault.Tokenize(ctx, visaInput())
	if err != nil {
		t.Fatal(err)
	}
	// k1 removed before rotating: the card cannot be rewrapped, and Rotate says so.
	v := f.withKeys(t, "k2:"+testKey(2))
	res, err := v.Rotate(ctx)
	if err == nil || res.Failed != 1 {
		t.Fatalf("Rotate = %+v, %v; want 1 failure", res, err)
	}
	if _, err := v.Detokenize(ctx, "mer_a", tok); err == nil {
		t.Fatal("card opened without its key")
	}
}
