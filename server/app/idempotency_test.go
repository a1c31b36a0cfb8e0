package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/ent/idempotencyrecord"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
)

const convertMutation = `mutation($q: ID!, $amount: Int64!, $cur: String!, $key: String!) {
  convertBalance(input: {quoteID: $q, amount: {amount: $amount, currency: $cur}, idempotencyKey: $key}) {
    entryID replayed from { amount currency } to { amount currency decimal } } }`

// idemEnv is an env whose merchants A and B each hold 500.00 USD available,
// with a USD→JPY rate stored and a quote for each.
type idemEnv struct {
	*env
	quoteA, quoteB string
}

func newIdemEnv(t *testing.T, db *store.DB) *idemEnv {
	t.Helper()
	e := &idemEnv{env: newEnv(t, db)}
	e.tokens["B_ADMIN"] = e.mint(viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_b", MerchantID: e.b.ID, Role: viewer.RoleAdmin})
	ctx := viewer.SystemContext(context.Background())
	l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
	defer l.Close()
	usd := money.MustCurrency("USD")
	for _, m := range []string{e.a.ID, e.b.ID} {
		_, err := l.Post(ctx, ledger.Entry{
			Source: ledger.Source{Type: ledger.SourceCapture, ID: "pay_seed_" + m}, EffectiveAt: time.Now(),
			Postings: []ledger.Posting{
				{Account: ledger.ChannelAccount("cardnet", usd), Amount: money.Amount{Minor: -50000, Currency: usd}},
				{Account: ledger.MerchantAccount(m, ledger.KindAvailable, usd), Amount: money.Amount{Minor: 50000, Currency: usd}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fx.NewService(db.Client, l, fx.Config{Source: rates{}}).RefreshRates(ctx); err != nil {
		t.Fatal(err)
	}
	e.quoteA, e.quoteB = e.quote("MERCHANT_ADMIN"), e.quote("B_ADMIN")
	return e
}

func (e *idemEnv) quote(principal string) string {
	e.t.Helper()
	r := e.do(principal, `mutation { createFxQuote(input: {baseCurrency: "USD", quoteCurrency: "JPY"}) { id } }`, nil)
	if r.code() != "" {
		e.t.Fatalf("createFxQuote: %s", r.Raw)
	}
	var q struct{ ID string }
	if err := json.Unmarshal(r.Data["createFxQuote"], &q); err != nil {
		e.t.Fatal(err)
	}
	return q.ID
}

// reply is an HTTP answer kept byte for byte.
type reply struct {
	status   int
	header   http.Header
	body     []byte
	code     string
	message  string
	replayed bool
}

// post sends a GraphQL request through the real handler with extra headers.
// It is safe to call from several goroutines.
func (e *idemEnv) post(principal, query string, vars map[string]any, headers ...string) reply {
	return postReply(e.env, e.tokens[principal], query, vars, headers...)
}

// postReply sends a GraphQL request with the bearer credential cred and
// extra headers through e's real handler, and keeps its answer byte for
// byte. It is safe to call from several goroutines.
func postReply(e *env, cred, query string, vars map[string]any, headers ...string) reply {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cred)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.app.Handler().ServeHTTP(rec, req)
	out := reply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes(), replayed: rec.Header().Get("Idempotent-Replayed") == "true"}
	var parsed struct {
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	_ = json.Unmarshal(out.body, &parsed)
	if len(parsed.Errors) > 0 {
		out.message = parsed.Errors[0].Message
		out.code, _ = parsed.Errors[0].Extensions["code"].(string)
	}
	return out
}

func (e *idemEnv) convert(principal, quote, amount, currency, key string, headers ...string) reply {
	return e.post(principal, convertMutation, map[string]any{"q": quote, "amount": amount, "cur": currency, "key": key}, headers...)
}

// conversions counts the journal entries of conversions: the money moved.
func (e *idemEnv) conversions() int {
	e.t.Helper()
	n, err := e.db.Client.JournalEntry.Query().Where(journalentry.SourceType(string(ledger.SourceConversion))).
		Count(viewer.SystemContext(context.Background()))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *idemEnv) records(key string) int {
	e.t.Helper()
	n, err := e.db.Client.IdempotencyRecord.Query().Where(idempotencyrecord.Key(key)).Count(viewer.SystemContext(context.Background()))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestIdempotentRetryReplaysTheFirstBodyByteForByte(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newIdemEnv(t, db)
		first := e.convert("MERCHANT_ADMIN", e.quoteA, "10000", "USD", "k1")
		if first.status != 200 || first.code != "" || first.replayed {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		for _, tt := range []struct {
			name      string
			principal string
			headers   []string
		}{
			{"plain retry", "MERCHANT_ADMIN", nil},
			{"retry with the Idempotency-Key header", "MERCHANT_ADMIN", []string{"Idempotency-Key", "k1"}},
		} {
			again := e.convert(tt.principal, e.quoteA, "10000", "USD", "k1", tt.headers...)
			if !bytes.Equal(again.body, first.body) || again.status != first.status || !again.replayed {
				t.Errorf("%s: %d %q (replayed %v), want %d %q replayed", tt.name, again.status, again.body, again.replayed, first.status, first.body)
			}
			if again.header.Get("Content-Type") != first.header.Get("Content-Type") {
				t.Errorf("%s: Content-Type %q, want %q", tt.name, again.header.Get("Content-Type"), first.header.Get("Content-Type"))
			}
		}
		// The same request written with the whole input as one variable is the
		// same request: arguments are compared with variables resolved.
		whole := e.post("MERCHANT_ADMIN", `mutation($in: ConvertBalanceInput!) {
		  convertBalance(input: $in) { entryID replayed from { amount currency } to { amount currency decimal } } }`,
			map[string]any{"in": map[string]any{"quoteID": e.quoteA, "amount": map[string]any{"amount": "10000", "currency": "USD"}, "idempotencyKey": "k1"}})
		if !bytes.Equal(whole.body, first.body) || !whole.replayed {
			t.Errorf("input as one variable: %q, want the replay %q", whole.body, first.body)
		}
		// A decided refusal (CONFLICT: more than the balance) is stored and
		// replayed too, errors and all.
		over := e.convert("MERCHANT_ADMIN", e.quoteA, "90000", "USD", "k-over")
		if over.code != "CONFLICT" {
			t.Fatalf("above the balance: %s", over.body)
		}
		if again := e.convert("MERCHANT_ADMIN", e.quoteA, "90000", "USD", "k-over"); !bytes.Equal(again.body, over.body) || !again.replayed {
			t.Errorf("replayed refusal %q, want %q", again.body, over.body)
		}
		if n := e.conversions(); n != 1 {
			t.Errorf("%d conversions posted, want 1", n)
		}
	})
}

func TestIdempotencyKeyWithAChangedRequestConflicts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newIdemEnv(t, db)
		if r := e.convert("MERCHANT_ADMIN", e.quoteA, "10000", "USD", "k1"); r.code != "" {
			t.Fatalf("first: %s", r.body)
		}
		vars := map[string]any{"q": e.quoteA, "amount": "10000", "cur": "USD", "key": "k1"}
		for _, tt := range []struct {
			name, principal, query string
			vars                   map[string]any
		}{
			{"another amount", "MERCHANT_ADMIN", convertMutation, map[string]any{"q": e.quoteA, "amount": "10001", "cur": "USD", "key": "k1"}},
			{"another selection", "MERCHANT_ADMIN", strings.Replace(convertMutation, "entryID replayed", "entryID", 1), vars},
			{"another alias", "MERCHANT_ADMIN", strings.Replace(convertMutation, "convertBalance(", "c: convertBalance(", 1), vars},
			{"another caller of the merchant", "API_KEY", convertMutation, vars},
		} {
			r := e.post(tt.principal, tt.query, tt.vars)
			if r.code != "CONFLICT" || !strings.Contains(r.message, `idempotency key "k1" was already used`) {
				t.Errorf("%s: %s, want CONFLICT", tt.name, r.body)
			}
			if r.replayed {
				t.Errorf("%s: marked as a replay", tt.name)
			}
		}
		if n := e.conversions(); n != 1 {
			t.Errorf("%d conversions posted, want 1", n)
		}
	})
}

// TestConcurrentDuplicatesExecuteOnce sends 16 identical conversions at once:
// one runs, the others wait for it, and all 16 get the same bytes.
func TestConcurrentDuplicatesExecuteOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newIdemEnv(t, db)
		replies := make([]reply, 16)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range replies {
			wg.Go(func() {
				<-start
				replies[i] = e.convert("API_KEY", e.quoteA, "2500", "USD", "burst")
			})
		}
		close(start)
		wg.Wait()
		replays := 0
		for i, r := range replies {
			if r.status != 200 || r.code != "" || !bytes.Equal(r.body, replies[0].body) {
				t.Errorf("duplicate %d: %d %q, want %q", i, r.status, r.body, replies[0].body)
			}
			if r.replayed {
				replays++
			}
		}
		if replays != 15 {
			t.Errorf("%d replays, want 15", replays)
		}
		if strings.Contains(string(replies[0].body), `"replayed":true`) {
			t.Errorf("the conversion ran more than once: %s", replies[0].body)
		}
		if n := e.conversions(); n != 1 {
			t.Errorf("%d conversions posted, want 1", n)
		}
		rec, err := db.Client.IdempotencyRecord.Query().Where(idempotencyrecord.Key("burst")).Only(viewer.SystemContext(context.Background()))
		if err != nil || rec.Attempts != 1 || rec.State != idempotencyrecord.StateCOMPLETED {
			t.Errorf("record = %+v, %v; want completed after one attempt", rec, err)
		}
	})
}

// TestRefusedRequestsDoNotBurnTheKey: a request refused before it decided
// anything (invalid input, the wrong principal, a malformed operation) leaves
// the key free for the corrected request.
func TestRefusedRequestsDoNotBurnTheKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newIdemEnv(t, db)
		twice := `mutation($q: ID!, $key: String!) {
		  a: convertBalance(input: {quoteID: $q, amount: {amount: "1", currency: "USD"}, idempotencyKey: $key}) { entryID }
		  b: convertBalance(input: {quoteID: $q, amount: {amount: "2", currency: "USD"}, idempotencyKey: $key}) { entryID } }`
		for _, tt := range []struct {
			name  string
			r     reply
			code  string
			field string
		}{
			{"wrong currency", e.convert("MERCHANT_ADMIN", e.quoteA, "10000", "EUR", "k1"), "BAD_USER_INPUT", ""},
			{"zero amount", e.convert("MERCHANT_ADMIN", e.quoteA, "0", "USD", "k1"), "BAD_USER_INPUT", ""},
			{"a principal that may not convert", e.convert("MERCHANT_ANALYST", e.quoteA, "10000", "USD", "k1"), "FORBIDDEN", ""},
			{"header and input disagree", e.convert("MERCHANT_ADMIN", e.quoteA, "10000", "USD", "k1", "Idempotency-Key", "k2"), "BAD_USER_INPUT", "idempotencyKey"},
			{"two idempotent fields", e.post("MERCHANT_ADMIN", twice, map[string]any{"q": e.quoteA, "key": "k1"}), "BAD_USER_INPUT", ""},
		} {
			if tt.r.code != tt.code {
				t.Errorf("%s: %s, want %s", tt.name, tt.r.body, tt.code)
			}
			if tt.field != "" && !strings.Contains(string(tt.r.body), `"field":"`+tt.field+`"`) {
				t.Errorf("%s: %s, want field %s", tt.name, tt.r.body, tt.field)
			}
		}
		if n := e.records("k1"); n != 0 {
			t.Fatalf("%d records of k1 after refusals, want 0", n)
		}
		if r := e.convert("MERCHANT_ADMIN", e.quoteA, "10000", "USD", "k1"); r.code != "" || r.replayed {
			t.Fatalf("corrected request: %s", r.body)
		}
		for _, key := range []string{"", "with space", strings.Repeat("k", 129)} {
			r := e.convert("MERCHANT_ADMIN", e.quoteA, "100", "USD", key)
			if r.code != "BAD_USER_INPUT" || !strings.Contains(string(r.body), `"field":"idempotencyKey"`) {
				t.Errorf("key %q: %s, want BAD_USER_INPUT on idempotencyKey", key, r.body)
			}
		}
	})
}

func TestIdempotencyKeysArePerMerchant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newIdemEnv(t, db)
		a := e.convert("MERCHANT_ADMIN", e.quoteA, "10000", "USD", "shared")
		b := e.convert("B_ADMIN", e.quoteB, "20000", "USD", "shared")
		if a.code != "" || b.code != "" || b.replayed || bytes.Equal(a.body, b.body) {
			t.Fatalf("A: %s\nB: %s; want two conversions", a.body, b.body)
		}
		if n := e.conversions(); n != 2 {
			t.Errorf("%d conversions posted, want 2", n)
		}
		// B's identical retry replays B's answer, not A's.
		if again := e.convert("B_ADMIN", e.quoteB, "20000", "USD", "shared"); !bytes.Equal(again.body, b.body) {
			t.Errorf("B's retry: %s, want %s", again.body, b.body)
		}
	})
}

// TestSweptKeysRunAgain: once the janitor has swept a record, its key is
// unknown to the idempotency layer; the conversion's own ledger source still
// keeps the money from moving twice.
func TestSweptKeysRunAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newIdemEnv(t, db)
		first := e.convert("MERCHANT_ADMIN", e.quoteA, "10000", "USD", "k1")
		if first.code != "" {
			t.Fatalf("first: %s", first.body)
		}
		n, err := e.app.Idempotency.Sweep(context.Background(), 24*time.Hour)
		if err != nil || n != 0 {
			t.Fatalf("Sweep(24h) = %d, %v: a fresh record is kept", n, err)
		}
		if n, err = e.app.Idempotency.Sweep(context.Background(), 0); err != nil || n != 1 {
			t.Fatalf("Sweep(0) = %d, %v; want the record swept", n, err)
		}
		again := e.convert("MERCHANT_ADMIN", e.quoteA, "10000", "USD", "k1")
		if again.code != "" || again.replayed || !strings.Contains(string(again.body), `"replayed":true`) {
			t.Fatalf("after the sweep: %s (header replayed %v); want a new run finding the posted entry", again.body, again.replayed)
		}
		if n := e.conversions(); n != 1 {
			t.Errorf("%d conversions posted, want 1", n)
		}
	})
}

// TestJanitorSweepsExpiredRecords runs the janitor as `strait serve` does: it
// sweeps at once, keeping records younger than the TTL.
func TestJanitorSweepsExpiredRecords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		now := time.Now().UTC()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		a := app.New(app.Config{IdempotencyTTL: 24 * time.Hour}, db, fixedTokens{}, app.Options{Now: clock, Log: slog.New(slog.DiscardHandler)})
		ctx := context.Background()
		for _, key := range []string{"old", "young"} {
			if key == "young" {
				mu.Lock()
				now = now.Add(2 * time.Hour)
				mu.Unlock()
			}
			out, err := a.Idempotency.Begin(ctx, "mer_a", key, "convertBalance", "h")
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Idempotency.Complete(ctx, out.Token, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		now = now.Add(23 * time.Hour) // "old" is 25 h old, "young" 23 h
		mu.Unlock()
		jctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { a.RunJanitors(jctx); close(done) }()
		defer func() { stop(); <-done }()
		deadline := time.Now().Add(5 * time.Second)
		for {
			keys, err := db.Client.IdempotencyRecord.Query().Select(idempotencyrecord.FieldKey).Strings(viewer.SystemContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) == 1 && keys[0] == "young" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("records left: %v, want [young]", keys)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestIdempotencyTTLConfig(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want time.Duration
		err  bool
	}{
		{"", 24 * time.Hour, false},
		{"72h", 72 * time.Hour, false},
		{"1h", 0, true},
		{"a day", 0, true},
	} {
		cfg, err := app.ParseConfig("test", nil, func(k string) string {
			if k == "STRAIT_IDEMPOTENCY_TTL" {
				return tt.env
			}
			return ""
		})
		if (err != nil) != tt.err || (!tt.err && cfg.IdempotencyTTL != tt.want) {
			t.Errorf("STRAIT_IDEMPOTENCY_TTL=%q: %v, %v; want %v (error %v)", tt.env, cfg.IdempotencyTTL, err, tt.want, tt.err)
		}
	}
}
