package app_test

// Issue 13, point 9: what an attacker could still learn or do outside dev
// mode. The fixes are on the h18-http branch; each test skips until it is
// merged (remove the t.Skip lines then).

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

const waitsOnHTTPFixes = "waits on h18-http merge (issue 13 point 9)"

// No "Did you mean …" for fields, input fields, enum values or argument
// names: outside dev mode the schema is not introspectable, so the errors
// must not spell it out either.
func TestNoSchemaSuggestionsOutsideDev(t *testing.T) {
	t.Skip(waitsOnHTTPFixes)
	e := newEnv(t, storetest.Open(t, "sqlite"))
	for name, q := range map[string]string{
		"field":       `{ viewer { subjec } }`,
		"argument":    `{ payments(frist: 1) { edges { node { id } } } }`,
		"input field": `mutation { createCheckoutSession(input: {amount: {amount: "100", currency: "SGD"}, merchantRefrence: "x"}) { cashierToken } }`,
		"enum value":  `{ payments(first: 1, filter: {status: SUCCEDED}) { edges { node { id } } } }`,
	} {
		r := e.do("API_KEY", q, nil)
		if r.code() != "BAD_USER_INPUT" || strings.Contains(strings.ToLower(r.Raw), "did you mean") {
			t.Errorf("%s: %s", name, truncate(r.Raw, 300))
		}
	}
}

// A card number or CVC written as a number literal is not echoed back.
func TestNumberLiteralCardDataNotEchoed(t *testing.T) {
	t.Skip(waitsOnHTTPFixes)
	e := newEnv(t, storetest.Open(t, "sqlite"))
	r := e.do("CASHIER", `mutation { tokenizeCard(input: {number: 4000056655665556, cvc: 7391, expMonth: 12, expYear: 2031}) { token } }`, nil)
	if r.code() != "BAD_USER_INPUT" || strings.Contains(r.Raw, "4000056655665556") || strings.Contains(r.Raw, "7391") {
		t.Fatalf("%s", truncate(r.Raw, 300))
	}
}

// The websocket's connection_ack carries nothing of connection_init's
// payload, the Authorization secret least of all.
func TestWebsocketAckDoesNotEchoTheCredential(t *testing.T) {
	t.Skip(waitsOnHTTPFixes)
	e := newEnv(t, storetest.Open(t, "sqlite"))
	srv := httptest.NewServer(e.app.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	secret := e.tokens["API_KEY"]
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + secret}}); err != nil {
		t.Fatal(err)
	}
	_, ack, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(ack), "connection_ack") {
		t.Fatalf("ack: %s %v", ack, err)
	}
	if strings.Contains(string(ack), secret) || strings.Contains(string(ack), "Authorization") {
		t.Fatalf("connection_ack echoes the init payload: %s", ack)
	}
}

// A malformed page cursor is the client's mistake.
func TestMalformedCursorIsBadUserInput(t *testing.T) {
	t.Skip(waitsOnHTTPFixes)
	e := newEnv(t, storetest.Open(t, "sqlite"))
	for _, cursor := range []string{"!!!", "bm90IGEgY3Vyc29y", strings.Repeat("A", 500)} {
		r := e.do("API_KEY", `query($c: Cursor) { payments(first: 1, after: $c) { edges { node { id } } } }`, map[string]any{"c": cursor})
		if r.code() != "BAD_USER_INPUT" {
			t.Errorf("cursor %.20q: %s", cursor, truncate(r.Raw, 300))
		}
	}
}

// Strait mints cashier tokens for at most 30 minutes; a longer one was not
// minted by its rules and is refused.
func TestLongLivedCashierTokenRefused(t *testing.T) {
	t.Skip(waitsOnHTTPFixes)
	e := newEnv(t, storetest.Open(t, "sqlite"))
	for _, ttl := range []time.Duration{2 * time.Hour, 30 * 24 * time.Hour} {
		tok, err := e.keys.Mint(viewer.Viewer{Kind: viewer.Cashier, Subject: e.session.ID, MerchantID: e.a.ID, SessionID: e.session.ID}, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if r := e.do(tok, `{ viewer { principal } }`, nil); r.code() != "UNAUTHENTICATED" || r.Status != http.StatusUnauthorized {
			t.Errorf("cashier token for %s: %d %s", ttl, r.Status, truncate(r.Raw, 200))
		}
	}
}

// A refused transport answers JSON labelled as JSON, with a code.
func TestRefusedTransportAnswersJSONWithACode(t *testing.T) {
	t.Skip(waitsOnHTTPFixes)
	e := newEnv(t, storetest.Open(t, "sqlite"))
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { principal } }"}`))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+e.tokens["OPERATOR"])
		rec := httptest.NewRecorder()
		e.app.Handler().ServeHTTP(rec, req)
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "application/json") ||
			!strings.Contains(rec.Body.String(), `"code"`) || rec.Code >= 500 {
			t.Errorf("%s: %d %s %s", ct, rec.Code, got, truncate(rec.Body.String(), 200))
		}
	}
}
