package sandbox

import (
	"net/http"
	"slices"
	"strings"
)

// records is the answer of GET /records: every payment-like object the
// sandbox holds, with the operations made on them under idempotency keys.
// Harnesses compare it with what Strait recorded (docs/faults.md).
type records struct {
	Object          string            `json:"object"`
	CardPayments    []cardPayment     `json:"card_payments"`
	WalletPayments  []walletPayment   `json:"wallet_payments"`
	VirtualAccounts []virtualAccount  `json:"virtual_accounts"`
	Debits          []debit           `json:"debits"`
	Payouts         []payout          `json:"payouts"`
	Operations      []operationRecord `json:"operations"`
}

// operationRecord is one capture, void, refund or close made on an object
// under an idempotency key, as its first answer said.
type operationRecord struct {
	Channel        string `json:"channel"`
	ObjectID       string `json:"object_id"`
	Operation      string `json:"operation"`
	IdempotencyKey string `json:"idempotency_key"`
	Status         string `json:"status"`
	ID             string `json:"id,omitempty"`
	Amount         int64  `json:"amount,omitempty"`
	DeclineCode    string `json:"decline_code,omitempty"`
}

// all lists every object of the collection, oldest first.
func (c collection[R, V]) all() []V {
	ids := make([]string, 0, len(c.objects))
	for id := range c.objects {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]V, 0, len(ids))
	for _, id := range ids {
		out = append(out, c.view(c.objects[id]))
	}
	return out
}

// handleRecords answers GET /records.
func (s *Server) handleRecords(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := records{Object: "records",
		CardPayments: s.cardPayments().all(), WalletPayments: s.walletPayments().all(),
		VirtualAccounts: s.virtualAccounts().all(), Debits: s.debits().all(), Payouts: s.payouts().all(),
		Operations: []operationRecord{},
	}
	for key, op := range s.st.ops {
		// key is channel|object id|operation|idempotency key (collection.operate).
		parts := strings.SplitN(key, "|", 4)
		if len(parts) != 4 {
			continue
		}
		out.Operations = append(out.Operations, operationRecord{Channel: parts[0], ObjectID: parts[1], Operation: parts[2],
			IdempotencyKey: parts[3], Status: op.Result.Status, ID: op.Result.ID, Amount: op.Result.Amount, DeclineCode: op.Result.DeclineCode})
	}
	slices.SortFunc(out.Operations, func(a, b operationRecord) int {
		return strings.Compare(a.ObjectID+"|"+a.Operation+"|"+a.IdempotencyKey, b.ObjectID+"|"+b.Operation+"|"+b.IdempotencyKey)
	})
	writeJSON(w, http.StatusOK, out)
}
