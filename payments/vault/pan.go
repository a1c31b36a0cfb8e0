package vault

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/straitpay/strait/payments"
)

// PAN is a primary account number (the long card number). Every formatting path
// that reaches the PAN's methods prints the mask. A PAN nested in an unexported
// field of some other struct is printed by fmt through reflection, without its
// methods; for that case the digits sit two pointers deep, and fmt prints only
// addresses below the top level (even for the verbs it reports as bad, where it
// dereferences one level). The zero PAN is empty.
type PAN struct{ p *panDigits }

type panDigits struct{ d *string }

func newPAN(d string) PAN { return PAN{&panDigits{&d}} }

// Minimum and maximum PAN lengths from ISO/IEC 7812-1. Scheme rules narrow them.
const (
	minPANLen = 12
	maxPANLen = 19
)

// ParsePAN reads a card number, ignoring spaces and dashes between digit groups.
// It checks the characters, the ISO length range and the Luhn check digit, then
// that the scheme (from the BIN table) allows that length. Returns EINVALID with
// field "number" on any failure; the message never repeats the digits.
func ParsePAN(s string, bins *BINTable) (PAN, BINInfo, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return PAN{}, BINInfo{}, payments.FieldErrorf("number", "card number may contain only digits, spaces and dashes")
		}
	}
	d := b.String()
	if len(d) < minPANLen || len(d) > maxPANLen {
		return PAN{}, BINInfo{}, payments.FieldErrorf("number", "card number must have %d to %d digits", minPANLen, maxPANLen)
	}
	if !Luhn(d) {
		return PAN{}, BINInfo{}, payments.FieldErrorf("number", "card number is not valid (check digit)")
	}
	info, ok := bins.Lookup(d)
	if !ok {
		return PAN{}, BINInfo{}, payments.FieldErrorf("number", "card scheme is not supported")
	}
	if !info.Scheme.AllowsLength(len(d)) {
		return PAN{}, BINInfo{}, payments.FieldErrorf("number", "a %s card number cannot have %d digits", info.Scheme, len(d))
	}
	return newPAN(d), info, nil
}

// Luhn reports whether s is a non-empty string of digits whose last digit is the
// Luhn (mod 10) check digit of the others.
func Luhn(s string) bool {
	if s == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n := int(c - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// IsZero reports whether the PAN is empty.
func (p PAN) IsZero() bool { return p.p == nil }

func (p PAN) digits() string {
	if p.p == nil || p.p.d == nil {
		return ""
	}
	return *p.p.d
}

// Reveal returns the digits. Call it only to build the request to a connector,
// and never log, store or return what it gives.
func (p PAN) Reveal() string { return p.digits() }

// BIN returns the first six digits (the issuer identification number), or "" if
// the PAN is shorter than 15 digits, where six plus four would show too much.
func (p PAN) BIN() string {
	d := p.digits()
	if len(d) < 15 {
		return ""
	}
	return d[:6]
}

// Last4 returns the last four digits.
func (p PAN) Last4() string {
	d := p.digits()
	if len(d) < 4 {
		return ""
	}
	return d[len(d)-4:]
}

// Masked returns the PAN with every digit but the BIN and the last four replaced
// by '*' (e.g. "424242******4242"); a PAN shorter than 15 digits shows only its
// last four. The zero PAN masks to "".
func (p PAN) Masked() string {
	d := p.digits()
	if d == "" {
		return ""
	}
	shown := p.BIN()
	return shown + strings.Repeat("*", len(d)-len(shown)-4) + p.Last4()
}

// String returns the masked PAN.
func (p PAN) String() string { return p.Masked() }

// GoString returns the masked PAN for %#v.
func (p PAN) GoString() string { return fmt.Sprintf("vault.PAN(%q)", p.Masked()) }

// Format prints the masked PAN for every verb, so %d, %x or %q cannot reach the
// digits either.
func (p PAN) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, p.GoString())
		return
	}
	fmt.Fprint(f, p.Masked())
}

// LogValue implements slog.LogValuer with the masked PAN.
func (p PAN) LogValue() slog.Value { return slog.StringValue(p.Masked()) }

// MarshalJSON writes the masked PAN as a JSON string.
func (p PAN) MarshalJSON() ([]byte, error) { return json.Marshal(p.Masked()) }

// MarshalText writes the masked PAN, so encoders that prefer text get the mask.
func (p PAN) MarshalText() ([]byte, error) { return []byte(p.Masked()), nil }

// CVC is a card verification code. Like PAN it prints, logs and marshals as a
// mask, and keeps its digits two pointers deep. The vault never persists it: see
// CVCStore.
type CVC struct{ p *cvcDigits }

type cvcDigits struct{ d *[]byte }

// ParseCVC reads a 3- or 4-digit verification code and checks its length for the
// scheme (4 for amex, 3 for the others). Returns EINVALID with field "cvc".
func ParseCVC(s string, scheme Scheme) (CVC, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return CVC{}, payments.FieldErrorf("cvc", "security code may contain only digits")
		}
	}
	if want := scheme.CVCLength(); len(s) != want {
		return CVC{}, payments.FieldErrorf("cvc", "a %s security code has %d digits", scheme, want)
	}
	b := []byte(s)
	return CVC{&cvcDigits{&b}}, nil
}

// IsZero reports whether the CVC is empty.
func (c CVC) IsZero() bool { return c.p == nil || c.p.d == nil || len(*c.p.d) == 0 }

// Reveal returns the digits, for the authorization request only.
func (c CVC) Reveal() string {
	if c.IsZero() {
		return ""
	}
	return string(*c.p.d)
}

// Wipe overwrites the digits in place, so every copy of this CVC value (they
// share the pointer) reads as empty afterwards. Call it once the authorization
// request has been sent.
func (c CVC) Wipe() {
	if c.IsZero() {
		return
	}
	clear(*c.p.d)
	c.p.d = nil
}

func (c CVC) mask() string {
	if c.IsZero() {
		return ""
	}
	return "***"
}

// String returns "***" (or "" for an empty CVC).
func (c CVC) String() string { return c.mask() }

// GoString returns the mask for %#v.
func (c CVC) GoString() string { return fmt.Sprintf("vault.CVC(%q)", c.mask()) }

// Format prints the mask for every verb.
func (c CVC) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, c.GoString())
		return
	}
	fmt.Fprint(f, c.mask())
}

// LogValue implements slog.LogValuer with the mask.
func (c CVC) LogValue() slog.Value { return slog.StringValue(c.mask()) }

// MarshalJSON writes the mask as a JSON string.
func (c CVC) MarshalJSON() ([]byte, error) { return json.Marshal(c.mask()) }

// MarshalText writes the mask.
func (c CVC) MarshalText() ([]byte, error) { return []byte(c.mask()), nil }
