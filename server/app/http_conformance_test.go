package app_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/server/app"
)

// post sends a raw POST to /graphql with the principal's credential and the
// given headers, and returns the recorded answer.
func (e *env) post(principal, body string, headers map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if principal != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[principal])
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.app.Handler().ServeHTTP(rec, req)
	return rec
}

func decodeAnswer(t *testing.T, rec *httptest.ResponseRecorder) map[string]json.RawMessage {
	t.Helper()
	var out map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("status %d, body is not JSON: %q", rec.Code, truncate(rec.Body.String(), 300))
	}
	return out
}

// TestSuggestionsOnlyInDev (issue 13, point 9): outside dev mode no error says
// "Did you mean …" for a mistyped input field, enum value, argument or field;
// dev mode keeps the hints.
func TestSuggestionsOnlyInDev(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	prod := newEnv(t, db)
	dev := newEnvWith(t, storetest.Open(t, "sqlite"), func(c *app.Config, _ *app.Options) { c.Dev = true })
	queries := map[string]string{
		"input field": `mutation { createMerchant(input: {legalNam: "X", country: "US", settlementCurrency: "USD"}) { id } }`,
		"enum value":  `{ payments(first: 1, filter: {status: SUCEEDED}) { edges { node { id } } } }`,
		"argument":    `{ payments(frist: 1) { edges { node { id } } } }`,
		"field":       `{ viewer { principl } }`,
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			r := prod.do("OPERATOR", q, nil)
			if len(r.Errors) == 0 || r.code() != "BAD_USER_INPUT" {
				t.Fatalf("want a BAD_USER_INPUT error: %s", truncate(r.Raw, 300))
			}
			if strings.Contains(r.Raw, "Did you mean") {
				t.Fatalf("production suggests: %s", truncate(r.Raw, 300))
			}
			if d := dev.do("OPERATOR", q, nil); !strings.Contains(d.Raw, "Did you mean") {
				t.Fatalf("dev mode gives no hint (so this test could not fail): %s", truncate(d.Raw, 300))
			}
		})
	}
}

// TestCardLiteralsNotEchoed (issue 13, point 9): a card number or CVC typed as
// a number literal (or a string where a number goes) comes back in no error,
// from the parser or the validator.
func TestCardLiteralsNotEchoed(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	const pan, cvc = "4000056655665556", "7373"
	queries := []string{
		`mutation { tokenizeCard(input: {number: ` + pan + `, cvc: "` + cvc + `", expMonth: 12, expYear: 2030}) { token } }`,
		`mutation { tokenizeCard(input: {number: "` + pan + `", cvc: ` + cvc + `, expMonth: 12, expYear: 2030}) { token } }`,
		`mutation { tokenizeCard(input: {number: "x", expMonth: "` + pan + `", expYear: 2030}) { token } }`,
		`mutation { tokenizeCard(input: {number: ` + pan + ` cvc: }) { token } }`, // does not parse
		`mutation { tokenizeCard(input: {number: "` + pan + `", cvc: ` + cvc + `.5, expMonth: 12, expYear: 2030}) { token } }`,
	}
	for _, q := range queries {
		for _, principal := range []string{"CASHIER", "OPERATOR"} {
			r := e.do(principal, q, nil)
			if len(r.Errors) == 0 {
				t.Fatalf("%s: no error for %s", principal, q)
			}
			if strings.Contains(r.Raw, pan) || strings.Contains(r.Raw, cvc) {
				t.Fatalf("%s: the card data comes back: %s", principal, truncate(r.Raw, 400))
			}
			if r.code() != "BAD_USER_INPUT" {
				t.Fatalf("%s: code %q: %s", principal, r.code(), truncate(r.Raw, 300))
			}
		}
	}
	// Names in messages survive the scrub: the error still says what is wrong.
	r := e.do("CASHIER", queries[0], nil)
	if !strings.Contains(r.Errors[0].Message, "String") {
		t.Fatalf("message lost its meaning: %q", r.Errors[0].Message)
	}
}

// TestMalformedCursorIsBadInput (issue 13, point 9): a page cursor Strait did
// not make is BAD_USER_INPUT, not INTERNAL, in the query text or a variable.
func TestMalformedCursorIsBadInput(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	for name, c := range map[string]struct {
		q    string
		vars map[string]any
	}{
		"literal":         {`{ payments(first: 1, after: "not-a-cursor!!") { edges { node { id } } } }`, nil},
		"base64 garbage":  {`{ payments(first: 1, before: "AAAA") { edges { node { id } } } }`, nil},
		"variable":        {`query($c: Cursor) { payments(first: 1, after: $c) { edges { node { id } } } }`, map[string]any{"c": "%%%"}},
		"number variable": {`query($c: Cursor) { payments(first: 1, after: $c) { edges { node { id } } } }`, map[string]any{"c": 12}},
		"nested":          {`{ viewer { merchant { users(first: 1, after: "zzz") { edges { node { id } } } } } }`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do("OPERATOR", c.q, c.vars)
			if r.code() != "BAD_USER_INPUT" {
				t.Fatalf("code %q: %s", r.code(), truncate(r.Raw, 300))
			}
		})
	}
	// A cursor Strait gave still pages.
	r := e.do("OPERATOR", `{ payments(first: 1) { edges { cursor } } }`, nil)
	var page struct {
		Edges []struct{ Cursor string } `json:"edges"`
	}
	if err := json.Unmarshal(r.Data["payments"], &page); err != nil || len(page.Edges) != 1 {
		t.Fatalf("first page: %v %s", err, truncate(r.Raw, 300))
	}
	if r := e.do("OPERATOR", `query($c: Cursor) { payments(first: 1, after: $c) { edges { cursor } } }`, map[string]any{"c": page.Edges[0].Cursor}); len(r.Errors) > 0 {
		t.Fatalf("a real cursor is refused: %s", truncate(r.Raw, 300))
	}
}

// TestRefusedTransportsAnswerCodedJSON (issue 13, point 9): a POST that is not
// application/json (text/plain, form-urlencoded, none) is 415 with a JSON
// body labelled as such and an extensions.code; multipart, kept for uploads,
// is 400 when it is not a GraphQL multipart request.
func TestRefusedTransportsAnswerCodedJSON(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	body := `{"query":"{ viewer { subject } }"}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin1"} {
		t.Run(ct, func(t *testing.T) {
			rec := e.post("OPERATOR", body, map[string]string{"Content-Type": ct})
			if rec.Code != http.StatusUnsupportedMediaType {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Fatalf("content type %q", got)
			}
			var out gqlResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.code() != "BAD_USER_INPUT" || out.Data != nil {
				t.Fatalf("body %s (%v)", rec.Body, err)
			}
		})
	}
	t.Run("multipart that is no GraphQL multipart request", func(t *testing.T) {
		rec := e.post("OPERATOR", body, map[string]string{"Content-Type": "multipart/form-data; boundary=x"})
		var out gqlResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &out); rec.Code != http.StatusBadRequest || err != nil || out.code() != "BAD_USER_INPUT" || out.Data != nil {
			t.Fatalf("status %d, body %s (%v)", rec.Code, rec.Body, err)
		}
	})
}

// TestWebsocketAckCarriesNoSecret (issue 13, point 9): connection_ack never
// echoes the init payload, whose Authorization is a secret.
func TestWebsocketAckCarriesNoSecret(t *testing.T) {
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
	token := e.tokens["API_KEY"]
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init",
		"payload": map[string]any{"Authorization": "Bearer " + token, "note": "echo-me"}}); err != nil {
		t.Fatal(err)
	}
	_, raw, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ack map[string]any
	if err := json.Unmarshal(raw, &ack); err != nil || ack["type"] != "connection_ack" {
		t.Fatalf("ack: %s %v", raw, err)
	}
	if strings.Contains(string(raw), token) || strings.Contains(string(raw), "echo-me") || ack["payload"] != nil {
		t.Fatalf("the ack echoes the init payload: %s", raw)
	}
}

// TestStatusCodesFollowAccept: the GraphQL-over-HTTP spec's status codes. A
// document that does not parse or validate, or variables that do not coerce,
// is 200 for application/json and 400 for application/graphql-response+json;
// a request error has no data entry; a request that is not GraphQL over HTTP
// is 400.
func TestStatusCodesFollowAccept(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	requestErrors := map[string]string{
		"parse":      `{"query":"{"}`,
		"validation": `{"query":"{ nosuchfield }"}`,
		"variables":  `{"query":"query($id: ID!) { __typename }","variables":{"id":null}}`,
	}
	for name, body := range requestErrors {
		for accept, want := range map[string]int{"application/json": 200, "": 200, "*/*": 200,
			"application/graphql-response+json": 400, "application/graphql-response+json, application/json;q=0.9": 400} {
			rec := e.post("OPERATOR", body, map[string]string{"Accept": accept})
			if rec.Code != want {
				t.Errorf("%s, Accept %q: status %d, want %d", name, accept, rec.Code, want)
			}
			out := decodeAnswer(t, rec)
			if _, ok := out["data"]; ok {
				t.Errorf("%s, Accept %q: a request error has a data entry: %s", name, accept, rec.Body)
			}
			if want := map[bool]string{true: "application/graphql-response+json", false: "application/json"}[want == 400]; !strings.HasPrefix(rec.Header().Get("Content-Type"), want) {
				t.Errorf("%s, Accept %q: content type %q", name, accept, rec.Header().Get("Content-Type"))
			}
		}
	}
	for name, body := range map[string]string{
		"no body": "", "not JSON": `{"query":`, "typo": `{"qeury":"{ __typename }"}`, "number query": `{"query":1}`,
		"string variables": `{"query":"{ __typename }","variables":"x"}`, "array extensions": `{"query":"{ __typename }","extensions":[]}`,
	} {
		if rec := e.post("OPERATOR", body, nil); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, rec.Code, rec.Body)
		}
	}
	rec := e.post("OPERATOR", `{"query":"{ viewer { subject } }"}`, map[string]string{"Accept": "application/graphql-response+json"})
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/graphql-response+json; charset=utf-8") {
		t.Fatalf("a good query: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	// GET carries queries only.
	req := httptest.NewRequest(http.MethodGet, "/graphql?"+url.Values{"query": {"mutation { __typename }"}}.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["OPERATOR"])
	got := httptest.NewRecorder()
	e.app.Handler().ServeHTTP(got, req)
	if got.Code != http.StatusMethodNotAllowed || got.Header().Get("Allow") != "POST" {
		t.Fatalf("GET mutation: %d allow %q", got.Code, got.Header().Get("Allow"))
	}
}

// standardIntrospection is graphql-js's getIntrospectionQuery() as GraphiQL
// sends it: its type references nest ofType nine deep.
const standardIntrospection = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }`

// TestStandardIntrospectionInDev: dev mode answers the standard introspection
// query (depth counts an operation's nesting, not its type references), its
// scalars carry specifiedByURL and gqlgen's directives are hidden; production
// still refuses introspection, and depth still binds real selections.
func TestStandardIntrospectionInDev(t *testing.T) {
	dev := newEnvWith(t, storetest.Open(t, "sqlite"), func(c *app.Config, _ *app.Options) { c.Dev = true })
	r := dev.do("OPERATOR", standardIntrospection, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("introspection refused in dev: %s", truncate(r.Raw, 400))
	}
	var schema struct {
		Types []struct {
			Name           string  `json:"name"`
			SpecifiedByURL *string `json:"specifiedByURL"`
		} `json:"types"`
		Directives []struct{ Name string } `json:"directives"`
	}
	if err := json.Unmarshal(r.Data["__schema"], &schema); err != nil {
		t.Fatal(err)
	}
	scalars := map[string]bool{}
	for _, ty := range schema.Types {
		if ty.SpecifiedByURL != nil {
			scalars[ty.Name] = true
		}
	}
	for _, name := range []string{"Int64", "Cursor", "Time"} {
		if !scalars[name] {
			t.Errorf("scalar %s has no specifiedByURL", name)
		}
	}
	for _, d := range schema.Directives {
		if d.Name == "goModel" || d.Name == "goField" {
			t.Errorf("internal directive @%s is visible", d.Name)
		}
	}
	deep := "{ viewer { merchant { users(first: 1) { edges { node { merchant { users(first: 1) { edges { node { merchant { users(first:1) { edges { node { id } } } } } } } } } } } } } }"
	if r := dev.do("OPERATOR", deep, nil); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("depth no longer binds operations: %s", truncate(r.Raw, 300))
	}
	prod := newEnv(t, storetest.Open(t, "sqlite"))
	if r := prod.do("OPERATOR", standardIntrospection, nil); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("production answers introspection: %s", truncate(r.Raw, 300))
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestAutomaticPersistedQueries: Apollo's protocol. A hash alone is
// PersistedQueryNotFound (200, so the client resends); the hash with its
// document registers it; then the hash alone runs it, over POST or GET; a hash
// that is not the document's is refused.
func TestAutomaticPersistedQueries(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	q := "{ viewer { subject } }"
	ext := func(hash string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	}
	send := func(body map[string]any, accept string) (int, gqlResponse) {
		b, _ := json.Marshal(body)
		rec := e.post("OPERATOR", string(b), map[string]string{"Accept": accept})
		var out gqlResponse
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		out.Raw = rec.Body.String()
		return rec.Code, out
	}
	for _, accept := range []string{"application/json", "application/graphql-response+json"} {
		status, r := send(map[string]any{"extensions": ext(sha256Hex(q + accept))}, accept)
		if status != 200 || len(r.Errors) != 1 || r.Errors[0].Message != "PersistedQueryNotFound" {
			t.Fatalf("%s: unknown hash: %d %s", accept, status, r.Raw)
		}
	}
	if status, r := send(map[string]any{"query": q, "extensions": ext(sha256Hex("something else"))}, ""); status == 200 && len(r.Errors) == 0 {
		t.Fatalf("a wrong hash is accepted: %s", r.Raw)
	}
	if _, r := send(map[string]any{"query": q, "extensions": ext(sha256Hex(q))}, ""); len(r.Errors) > 0 || r.Data["viewer"] == nil {
		t.Fatalf("registering: %s", r.Raw)
	}
	if _, r := send(map[string]any{"extensions": ext(sha256Hex(q))}, ""); len(r.Errors) > 0 || r.Data["viewer"] == nil {
		t.Fatalf("by hash: %s", r.Raw)
	}
	extJSON, _ := json.Marshal(ext(sha256Hex(q)))
	req := httptest.NewRequest(http.MethodGet, "/graphql?"+url.Values{"extensions": {string(extJSON)}}.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["OPERATOR"])
	if r := e.serve(req); len(r.Errors) > 0 || r.Data["viewer"] == nil {
		t.Fatalf("by hash over GET: %s", r.Raw)
	}
}

// TestPersistedOperationsOnly: with STRAIT_PERSISTED_OPERATIONS only the
// listed operations run, named by ID in any of the accepted ways or sent as
// their exact text; everything else is FORBIDDEN and nothing can be
// registered. A file that cannot be read stops the configuration.
func TestPersistedOperationsOnly(t *testing.T) {
	listed := "query Me { viewer { subject } }"
	dir := t.TempDir()
	for format, content := range map[string]any{
		"codegen": map[string]string{sha256Hex(listed): listed},
		"relay":   map[string]string{"4f1b0c0ffee": listed},
		"apollo": map[string]any{"format": "apollo-persisted-query-manifest", "version": 1,
			"operations": []map[string]string{{"id": "4f1b0c0ffee", "name": "Me", "type": "query", "body": listed}}},
	} {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(dir, format+".json")
			b, _ := json.Marshal(content)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := app.ParseConfig("test", []string{"-persisted-operations", path}, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			e := newEnvWith(t, storetest.Open(t, "sqlite"), func(c *app.Config, _ *app.Options) {
				c.PersistedOperations = cfg.PersistedOperations
			})
			id := sha256Hex(listed)
			if format != "codegen" {
				id = "4f1b0c0ffee"
			}
			ok := []map[string]any{
				{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": id}}},
				{"documentId": id},
				{"doc_id": id},
				{"query": listed},
			}
			for _, body := range ok {
				b, _ := json.Marshal(body)
				r := e.raw(http.MethodPost, "/graphql", "OPERATOR", "application/json", b)
				if len(r.Errors) > 0 || r.Data["viewer"] == nil {
					t.Fatalf("%s: %s", b, r.Raw)
				}
			}
			refused := []map[string]any{
				{"query": "{ viewer { principal } }"},
				{"documentId": "nope"},
				{"query": "{ viewer { principal } }", "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex("{ viewer { principal } }")}}},
			}
			for _, body := range refused {
				b, _ := json.Marshal(body)
				if r := e.raw(http.MethodPost, "/graphql", "OPERATOR", "application/json", b); r.code() != "FORBIDDEN" {
					t.Fatalf("%s: code %q: %s", b, r.code(), r.Raw)
				}
			}
		})
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"not": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.json"), filepath.Join(dir, "bad.json")} {
		if _, err := app.ParseConfig("test", []string{"-persisted-operations", path}, func(string) string { return "" }); err == nil {
			t.Errorf("%s accepted", path)
		}
	}
}

// TestCORSHeadersAndVary: browsers may send the tracing and Apollo headers by
// default and the configured ones otherwise; every answer varies on Origin.
func TestCORSHeadersAndVary(t *testing.T) {
	preflight := func(e *env) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		rec := httptest.NewRecorder()
		e.app.Handler().ServeHTTP(rec, req)
		return rec
	}
	e := newEnvWith(t, storetest.Open(t, "sqlite"), func(c *app.Config, _ *app.Options) {
		c.CORSOrigins = []string{"https://shop.example"}
		c.CORSHeaders = app.DefaultCORSHeaders
	})
	allowed := strings.ToLower(preflight(e).Header().Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"authorization", "content-type", "idempotency-key", "traceparent", "tracestate", "baggage", "sentry-trace", "apollographql-client-name", "apollographql-client-version"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("%s not allowed: %q", h, allowed)
		}
	}
	for name, origin := range map[string]string{"allowed origin": "https://shop.example", "other origin": "https://evil.example", "no origin": ""} {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { subject } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.tokens["OPERATOR"])
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		e.app.Handler().ServeHTTP(rec, req)
		if !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Origin") {
			t.Errorf("%s: no Vary: Origin (%v)", name, rec.Header().Values("Vary"))
		}
	}
	cfg, err := app.ParseConfig("test", nil, func(k string) string {
		return map[string]string{"STRAIT_CORS_HEADERS": "x-custom-trace", "STRAIT_CORS_ORIGINS": "https://shop.example"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	custom := newEnvWith(t, storetest.Open(t, "sqlite"), func(c *app.Config, _ *app.Options) {
		c.CORSOrigins, c.CORSHeaders = cfg.CORSOrigins, cfg.CORSHeaders
	})
	got := strings.ToLower(preflight(custom).Header().Get("Access-Control-Allow-Headers"))
	if !strings.Contains(got, "x-custom-trace") || strings.Contains(got, "sentry-trace") || !strings.Contains(got, "authorization") {
		t.Fatalf("STRAIT_CORS_HEADERS not applied: %q", got)
	}
}

// TestLargeAnswersCompressed: a /graphql answer over a kilobyte is gzipped for
// a client that accepts it; a small one and a client that does not are not.
func TestLargeAnswersCompressed(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	var b strings.Builder
	b.WriteString(`{"query":"{ `)
	for i := range 20 {
		b.WriteString("p")
		b.WriteString(string(rune('a' + i)))
		b.WriteString(": payments(first: 3) { edges { node { id status } } } ")
	}
	b.WriteString(`}"}`)
	rec := e.post("OPERATOR", b.String(), map[string]string{"Accept-Encoding": "gzip"})
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("a %d-byte answer is not compressed", rec.Body.Len())
	}
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Contains(plain, []byte(`"pa":`)) || len(plain) < 1024 {
		t.Fatalf("decompressed %d bytes (%v)", len(plain), err)
	}
	if rec := e.post("OPERATOR", b.String(), nil); rec.Header().Get("Content-Encoding") != "" {
		t.Fatal("compressed for a client that did not ask")
	}
	if rec := e.post("OPERATOR", `{"query":"{ viewer { subject } }"}`, map[string]string{"Accept-Encoding": "gzip"}); rec.Header().Get("Content-Encoding") != "" {
		t.Fatal("a small answer is compressed")
	}
}

// TestGraphiQLServedFromTheBinary: dev mode serves GraphiQL at / with its
// scripts from /graphiql/ (embedded, no CDN) and a working operator token in
// its headers; production serves neither.
func TestGraphiQLServedFromTheBinary(t *testing.T) {
	get := func(e *env, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		e.app.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	dev := newEnvWith(t, storetest.Open(t, "sqlite"), func(c *app.Config, _ *app.Options) { c.Dev = true })
	page := get(dev, "/")
	if page.Code != 200 || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %q", page.Code, page.Header().Get("Content-Type"))
	}
	html := page.Body.String()
	if strings.Contains(html, "https://") || strings.Contains(html, "http://") {
		t.Fatalf("the page loads something from elsewhere:\n%s", html)
	}
	for _, asset := range []string{"/graphiql/graphiql.min.js", "/graphiql/graphiql.min.css", "/graphiql/react.production.min.js", "/graphiql/react-dom.production.min.js"} {
		if !strings.Contains(html, asset) {
			t.Errorf("the page does not load %s", asset)
		}
		if rec := get(dev, asset); rec.Code != 200 || rec.Body.Len() < 1000 {
			t.Errorf("%s: %d, %d bytes", asset, rec.Code, rec.Body.Len())
		}
	}
	// The pre-filled token works: GraphiQL's first query needs nothing typed.
	i := strings.Index(html, "Bearer ")
	if i < 0 {
		t.Fatal("no token in the page")
	}
	token := html[i+len("Bearer ") : i+len("Bearer ")+strings.IndexAny(html[i+len("Bearer "):], `\"`)]
	r := dev.do(token, "{ viewer { principal } }", nil)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data["viewer"]), "OPERATOR") {
		t.Fatalf("the page's token does not work: %s", truncate(r.Raw, 300))
	}
	prod := newEnv(t, storetest.Open(t, "sqlite"))
	for _, path := range []string{"/", "/graphiql/graphiql.min.js"} {
		if rec := get(prod, path); rec.Code != http.StatusNotFound {
			t.Errorf("production serves %s: %d", path, rec.Code)
		}
	}
}
