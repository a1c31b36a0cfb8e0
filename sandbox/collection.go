package sandbox

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// collection is one kind of object the API serves (card payments, payouts,
// …): where the state keeps it and how to show it. Its methods are the
// handlers that every kind shares, so a kind's file states only what differs.
// R is the stored record, V the object the API returns.
type collection[R, V any] struct {
	s *Server
	// channel scopes the idempotency keys of operations on the objects.
	channel string
	// what names the object in a 404: "card payment".
	what string
	// objects holds the records by id. The map is made once with the state,
	// so reading the field needs no lock; its contents need s.mu.
	objects map[string]*R
	view    func(*R) V
	// save persists a record that operate changed; only the objects with
	// operations (payments, virtual accounts) have one.
	save func(*R) error
	// filters are the query parameters of the list; at least one must be
	// given, and an object is listed when it matches every one given.
	filters []filter[V]
}

// filter is a query parameter of a list and the field of V it must equal.
type filter[V any] struct {
	param string
	field func(V) string
}

// get answers GET …/{id}: the object, or 404.
func (c collection[R, V]) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	rec, ok := c.objects[id]
	if !ok {
		c.s.writeError(w, r, notFound(c.what, id))
		return
	}
	writeJSON(w, http.StatusOK, c.view(rec))
}

// list answers GET on the collection: the objects matching the filters in the
// query, newest first.
func (c collection[R, V]) list(w http.ResponseWriter, r *http.Request) {
	want := make([]string, len(c.filters))
	given := false
	for i, f := range c.filters {
		want[i] = r.URL.Query().Get(f.param)
		given = given || want[i] != ""
	}
	if !given {
		params := make([]string, len(c.filters))
		for i, f := range c.filters {
			params[i] = f.param
		}
		c.s.writeError(w, r, invalid("%s is required", strings.Join(params, " or ")))
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	// The map's keys are the objects' ids, which are time-ordered.
	var ids []string
	for id, rec := range c.objects {
		if c.matches(c.view(rec), want) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	out := make([]V, 0, len(ids))
	for _, id := range ids {
		out = append(out, c.view(c.objects[id]))
	}
	writeJSON(w, http.StatusOK, list[V]{out})
}

func (c collection[R, V]) matches(v V, want []string) bool {
	for i, f := range c.filters {
		if want[i] != "" && f.field(v) != want[i] {
			return false
		}
	}
	return true
}

// operate answers POST …/{id}/{op} on a payment (capture, void, refund): it
// runs do under the request's idempotency key, which is scoped to the payment
// and op, and saves the payment when do approves. A repeat of the key replays
// the recorded result with the payment as it is now; the same key with
// another amount or reason is a conflict. An empty key records nothing.
func (c collection[R, V]) operate(w http.ResponseWriter, r *http.Request, op string, allowReason bool, do func(*R, amountRequest) (opResult, error)) {
	var req amountRequest
	if err := decode(r, &req); err != nil {
		c.s.writeError(w, r, err)
		return
	}
	if err := checkOptionalAmount(req.Amount); err != nil {
		c.s.writeError(w, r, err)
		return
	}
	if req.Reason != "" && !allowReason {
		c.s.writeError(w, r, invalid("reason is not accepted here"))
		return
	}
	id := r.PathValue("id")
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	rec, ok := c.objects[id]
	if !ok {
		c.s.writeError(w, r, notFound(c.what, id))
		return
	}
	key := strings.Join([]string{c.channel, id, op, req.IdempotencyKey}, "|")
	params := strconv.FormatInt(req.Amount, 10) + "|" + req.Reason
	prev, err := c.s.opLookup(key, params)
	if err != nil {
		c.s.writeError(w, r, err)
		return
	}
	if prev != nil {
		res := prev.Result
		res.Payment = c.view(rec)
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusOK, res)
		return
	}
	res, err := do(rec, req)
	if err == nil && res.Status == statusApproved {
		err = c.save(rec)
	}
	if err == nil {
		err = c.s.opSave(key, params, res)
	}
	if err != nil {
		c.s.writeError(w, r, err)
		return
	}
	res.Payment = c.view(rec)
	writeJSON(w, http.StatusOK, res)
}
