package cashier

import (
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/money"
)

// NextActionType is what the buyer must do: THREE_DS_CHALLENGE, REDIRECT,
// QR_CODE or BANK_TRANSFER (the connectors' types, upper case).
type NextActionType string

// NextAction is a payment's pending buyer step, as stored on the payment
// while it is requires_action.
type NextAction struct {
	Type         NextActionType
	URL          *string
	QRData       *string
	Instructions *TransferInstructions
	ExpiresAt    *time.Time
}

// TransferInstructions tell the buyer where to send a bank transfer.
type TransferInstructions struct {
	BankName      string
	AccountName   string
	AccountNumber string
	BankCode      string
	Reference     string
	Amount        money.Amount
}

// NextActionOf returns the payment's next action, or nil when it has none.
func NextActionOf(p *ent.Payment) *NextAction {
	m := p.NextAction
	typ, _ := m["type"].(string)
	if typ == "" {
		return nil
	}
	a := &NextAction{Type: NextActionType(strings.ToUpper(typ))}
	if s, ok := m["url"].(string); ok {
		a.URL = &s
	}
	if s, ok := m["qr_data"].(string); ok {
		a.QRData = &s
	}
	if s, ok := m["expires_at"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			a.ExpiresAt = &t
		}
	}
	if in, ok := m["instructions"].(map[string]any); ok {
		str := func(k string) string { s, _ := in[k].(string); return s }
		ti := &TransferInstructions{BankName: str("bank_name"), AccountName: str("account_name"),
			AccountNumber: str("account_number"), BankCode: str("bank_code"), Reference: str("reference")}
		if c, err := money.ParseCurrency(str("currency")); err == nil {
			ti.Amount = money.Amount{Minor: minorOf(in["amount"]), Currency: c}
		}
		a.Instructions = ti
	}
	return a
}

// minorOf reads an amount of a next action: an int64 as the record step
// wrote it, or a JSON number as read back from the database (exact, as
// amounts stay below MaxAmountMinor < 2^53).
func minorOf(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}
