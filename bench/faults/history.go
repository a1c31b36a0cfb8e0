package faults

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Op is one operation as the load sent it.
type Op struct {
	Seq       int
	Worker    int
	Kind      string // createCheckoutSession, confirm, capture, cancel, refund, buyer, …
	Key       string // its idempotency key, if any
	Ref       string // the order (the session's merchantReference)
	PaymentID string
	Start     time.Time
	End       time.Time
	Outcome   Outcome
	Code, Msg string
	Status    string // the payment's (or refund's) status in the answer
	ObjectID  string // the id in the answer (payment, refund)
	Note      string
}

// Fault is one fault injected.
type Fault struct {
	Kind   string
	Start  time.Time
	End    time.Time
	Detail string
}

// observation is a payment's status as one answer showed it.
type observation struct {
	Start, End time.Time // of the request that saw it
	Status     string
	Source     string
}

// History is everything that happened in one seed's run.
type History struct {
	mu     sync.Mutex
	t0     time.Time
	ops    []*Op
	faults []*Fault
	seen   map[string][]observation // by payment id
	byRef  map[string]string        // order ref → payment id
	refOf  map[string]string        // checkout session id → order ref
}

func newHistory() *History {
	return &History{t0: time.Now(), seen: map[string][]observation{}, byRef: map[string]string{}, refOf: map[string]string{}}
}

func (h *History) begin(worker int, kind, key, ref, paymentID string) *Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	op := &Op{Seq: len(h.ops) + 1, Worker: worker, Kind: kind, Key: key, Ref: ref, PaymentID: paymentID, Start: time.Now()}
	h.ops = append(h.ops, op)
	return op
}

// end records the op's result; status and objectID may be empty.
func (h *History) end(op *Op, o Outcome, code, msg, status, objectID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	op.End, op.Outcome, op.Code, op.Msg, op.Status, op.ObjectID = time.Now(), o, code, msg, status, objectID
}

// payment links an order to its payment.
func (h *History) payment(ref, id string) {
	if id == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.byRef[ref]; !ok {
		h.byRef[ref] = id
	}
	for _, op := range h.ops {
		if op.Ref == ref && op.PaymentID == "" {
			op.PaymentID = id
		}
	}
}

// session links a checkout session to its order.
func (h *History) session(id, ref string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refOf[id] = ref
}

// see records a payment's status as an answer showed it.
func (h *History) see(id, status, source string, start time.Time) {
	if id == "" || status == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[id] = append(h.seen[id], observation{Start: start, End: time.Now(), Status: status, Source: source})
}

func (h *History) fault(kind, detail string) *Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := &Fault{Kind: kind, Start: time.Now(), Detail: detail}
	h.faults = append(h.faults, f)
	return f
}

func (h *History) endFault(f *Fault, detail string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f.End = time.Now()
	if detail != "" {
		f.Detail += "; " + detail
	}
}

func (h *History) since(t time.Time) string {
	if t.IsZero() {
		return "   …  "
	}
	return fmt.Sprintf("%6.2fs", t.Sub(h.t0).Seconds())
}

// Counts are the run's figures.
type Counts struct {
	Ops      map[string]map[Outcome]int // kind → outcome → n
	Outcomes map[Outcome]int
	Codes    map[string]int // error codes of indeterminate and failed ops
	Faults   map[string]int
	Payments int
}

func (h *History) counts() Counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := Counts{Ops: map[string]map[Outcome]int{}, Outcomes: map[Outcome]int{}, Codes: map[string]int{}, Faults: map[string]int{}}
	for _, op := range h.ops {
		if c.Ops[op.Kind] == nil {
			c.Ops[op.Kind] = map[Outcome]int{}
		}
		c.Ops[op.Kind][op.Outcome]++
		c.Outcomes[op.Outcome]++
		if op.Code != "" {
			c.Codes[op.Code]++
		}
	}
	for _, f := range h.faults {
		c.Faults[f.Kind]++
	}
	return c
}

// story is the minimal history of one payment (and its order): its
// operations, their outcomes, the faults around them and the states seen.
func (h *History) story(paymentID, ref string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ref == "" {
		for r, id := range h.byRef {
			if id == paymentID {
				ref = r
			}
		}
	}
	var ops []*Op
	for _, op := range h.ops {
		if (paymentID != "" && op.PaymentID == paymentID) || (ref != "" && op.Ref == ref) {
			ops = append(ops, op)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  payment %s (order %s)\n", paymentID, ref)
	if len(ops) == 0 {
		b.WriteString("    no operation of the load names it\n")
		return b.String()
	}
	from, to := ops[0].Start.Add(-3*time.Second), ops[0].End
	for _, op := range ops {
		if op.End.After(to) {
			to = op.End
		}
		if op.End.IsZero() {
			to = time.Now()
		}
	}
	to = to.Add(3 * time.Second)
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	for _, op := range ops {
		res := string(op.Outcome)
		if op.Code != "" {
			res += " " + op.Code + " " + op.Msg
		}
		if op.Status != "" {
			res += " → " + op.Status
		}
		if op.ObjectID != "" && op.ObjectID != paymentID {
			res += " (" + op.ObjectID + ")"
		}
		if op.Note != "" {
			res += " [" + op.Note + "]"
		}
		lines = append(lines, line{op.Start, fmt.Sprintf("    %s–%s op#%d w%d %s key=%s: %s", h.since(op.Start), h.since(op.End), op.Seq, op.Worker, op.Kind, op.Key, res)})
	}
	for _, f := range h.faults {
		end := f.End
		if end.IsZero() {
			end = f.Start
		}
		if end.Before(from) || f.Start.After(to) {
			continue
		}
		lines = append(lines, line{f.Start, fmt.Sprintf("    %s–%s FAULT %s %s", h.since(f.Start), h.since(f.End), f.Kind, f.Detail)})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	for _, l := range lines {
		b.WriteString(l.text + "\n")
	}
	if seen := h.seen[paymentID]; len(seen) > 0 {
		b.WriteString("    states seen:")
		last := ""
		for _, o := range seen {
			if o.Status != last {
				fmt.Fprintf(&b, " %s@%s(%s)", o.Status, strings.TrimSpace(h.since(o.End)), o.Source)
				last = o.Status
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
