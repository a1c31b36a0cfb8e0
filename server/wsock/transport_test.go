package wsock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The tests run the transport over real sockets against fakeExec, a
// GraphExecutor over a tiny schema whose subscription results name the
// scope they were computed for, so that sharing across scopes shows.
var testSchema = gqlparser.MustLoadSchema(&ast.Source{Name: "test", Input: `
type Query { hello: String }
type Subscription { tick(arg: String): Tick, forbidden: Tick, big: String, boom: String }
type Tick { n: Int, scope: String, arg: String }
`})

type scopeKey struct{}

// fakeExec counts executions; emit sends event n to every running tick.
type fakeExec struct {
	runs atomic.Int64
	mu   sync.Mutex
	subs map[chan int]struct{}
}

func (f *fakeExec) CreateOperationContext(_ context.Context, p *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	doc, errs := gqlparser.LoadQuery(testSchema, p.Query)
	if errs != nil {
		return &graphql.OperationContext{}, errs
	}
	return &graphql.OperationContext{RawQuery: p.Query, OperationName: p.OperationName, Variables: p.Variables,
		Doc: doc, Operation: doc.Operations.ForName(p.OperationName), RecoverFunc: graphql.DefaultRecover}, nil
}

func (f *fakeExec) DispatchError(_ context.Context, list gqlerror.List) *graphql.Response {
	return &graphql.Response{Errors: list}
}

func (f *fakeExec) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	f.runs.Add(1)
	field := rc.Operation.SelectionSet[0].(*ast.Field)
	switch field.Name {
	case "hello":
		return graphql.OneShot(&graphql.Response{Data: json.RawMessage(`{"hello":"world"}`)}), ctx
	case "boom":
		panic("boom")
	case "forbidden":
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{Message: "no", Extensions: map[string]any{"code": "FORBIDDEN"}}}}), ctx
	case "big":
		n := 0
		payload := json.RawMessage(`{"big":"` + strings.Repeat("x", 256<<10) + `"}`)
		return func(ctx context.Context) *graphql.Response {
			if n++; n > 400 || ctx.Err() != nil {
				return nil
			}
			return &graphql.Response{Data: payload}
		}, ctx
	}
	arg, _ := rc.Variables["arg"].(string)
	scope, _ := ctx.Value(scopeKey{}).(string)
	ch := make(chan int, 16)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return func(ctx context.Context) *graphql.Response {
		select {
		case n := <-ch:
			return &graphql.Response{Data: json.RawMessage(fmt.Sprintf(`{"tick":{"n":%d,"scope":%q,"arg":%q}}`, n, scope, arg))}
		case <-ctx.Done():
			f.mu.Lock()
			delete(f.subs, ch)
			f.mu.Unlock()
			return nil
		}
	}, ctx
}

func (f *fakeExec) emit(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		ch <- n
	}
}

func (f *fakeExec) running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

type harness struct {
	t     *testing.T
	tr    *Transport
	exec  *fakeExec
	url   string
	mu    sync.Mutex
	conns []*Conn
}

// newHarness serves the transport; a connection_init payload's "scope"
// becomes the socket's visibility, and "refuse" refuses it.
func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, exec: &fakeExec{subs: map[chan int]struct{}{}}}
	opts.Init = func(r *http.Request, c *Conn, p map[string]any) (context.Context, error) {
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
		if p["refuse"] != nil {
			return nil, errors.New("refused")
		}
		if p["crowded"] != nil {
			return nil, &CloseError{Code: ClosePolicyViolation, Reason: "Too many sockets"}
		}
		scope, _ := p["scope"].(string)
		return context.WithValue(r.Context(), scopeKey{}, scope), nil
	}
	opts.Scope = func(ctx context.Context, op *graphql.OperationContext) (string, bool) {
		if op.Operation.SelectionSet[0].(*ast.Field).Name != "tick" {
			return "", false
		}
		s, _ := ctx.Value(scopeKey{}).(string)
		return s, true
	}
	opts.SharedContext = func(ctx context.Context, _ func(int, string)) context.Context { return ctx }
	h.tr = New(opts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.tr.Do(w, r, h.exec) }))
	t.Cleanup(srv.Close)
	h.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return h
}

type client struct {
	t   *testing.T
	c   *websocket.Conn
	ctx context.Context
}

func (h *harness) dial(protocols ...string) *client {
	h.t.Helper()
	if protocols == nil {
		protocols = []string{Protocol}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	h.t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, h.url, &websocket.DialOptions{Subprotocols: protocols})
	if err != nil {
		h.t.Fatal(err)
	}
	c.SetReadLimit(4 << 20)
	h.t.Cleanup(func() { c.CloseNow() })
	return &client{t: h.t, c: c, ctx: ctx}
}

// ready is a socket past connection_ack, with scope as its visibility.
func (h *harness) ready(scope string) *client {
	h.t.Helper()
	c := h.dial()
	c.send(`{"type":"connection_init","payload":{"scope":%q}}`, scope)
	if m := c.read(); m.Type != "connection_ack" || m.Payload != nil {
		h.t.Fatalf("ack: %+v", m)
	}
	return c
}

func (c *client) send(format string, args ...any) {
	c.t.Helper()
	if err := c.c.Write(c.ctx, websocket.MessageText, []byte(fmt.Sprintf(format, args...))); err != nil {
		c.t.Fatal(err)
	}
}

type msg struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
	raw     []byte
}

func (c *client) read() msg {
	c.t.Helper()
	_, b, err := c.c.Read(c.ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s: %v", b, err)
	}
	m.raw = b
	return m
}

func (c *client) closedWith(code int) {
	c.t.Helper()
	for {
		_, b, err := c.c.Read(c.ctx)
		if err != nil {
			if got := int(websocket.CloseStatus(err)); got != code {
				c.t.Fatalf("closed with %d (%v), want %d", got, err, code)
			}
			return
		}
		_ = b
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProtocolViolationsCloseWithTheirCodes(t *testing.T) {
	h := newHarness(t, Options{InitTimeout: 200 * time.Millisecond, ReadLimit: 1024})
	cases := []struct {
		name string
		do   func(c *client)
		code int
	}{
		{"not JSON", func(c *client) { c.send(`{nope`) }, CloseBadMessage},
		{"no type", func(c *client) { c.send(`{"id":"1"}`) }, CloseBadMessage},
		{"unknown type", func(c *client) { c.send(`{"type":"start"}`) }, CloseBadMessage},
		{"init payload not an object", func(c *client) { c.send(`{"type":"connection_init","payload":[1]}`) }, CloseBadMessage},
		{"subscribe before ack", func(c *client) { c.send(`{"id":"1","type":"subscribe","payload":{"query":"{hello}"}}`) }, CloseUnauthorized},
		{"init refused", func(c *client) { c.send(`{"type":"connection_init","payload":{"refuse":true}}`) }, CloseForbidden},
		{"init refused with its own code", func(c *client) { c.send(`{"type":"connection_init","payload":{"crowded":true}}`) }, ClosePolicyViolation},
		{"no init in time", func(c *client) {}, CloseInitTimeout},
		{"second init", func(c *client) {
			c.send(`{"type":"connection_init"}`)
			c.send(`{"type":"connection_init"}`)
		}, CloseTooManyInits},
		{"subscribe without id", func(c *client) {
			c.send(`{"type":"connection_init"}`)
			c.send(`{"type":"subscribe","payload":{"query":"{hello}"}}`)
		}, CloseBadMessage},
		{"oversized message", func(c *client) { c.send(`{"type":"ping","payload":"%s"}`, strings.Repeat("x", 2048)) }, CloseMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			c := h.dial()
			c.t = t
			tc.do(c)
			c.closedWith(tc.code)
		})
	}
	t.Run("duplicate id", func(t *testing.T) {
		h.t = t
		c := h.ready("m1")
		c.t = t
		c.send(`{"id":"a","type":"subscribe","payload":{"query":"subscription { tick { n } }"}}`)
		c.send(`{"id":"a","type":"subscribe","payload":{"query":"subscription { tick { n } }"}}`)
		c.closedWith(CloseDuplicateID)
	})
	t.Run("another subprotocol", func(t *testing.T) {
		h.t = t
		c := h.dial("graphql-ws")
		c.t = t
		c.closedWith(CloseBadSubprotocol)
	})
}

func TestOperationsOverTheSocket(t *testing.T) {
	h := newHarness(t, Options{MaxSubscriptions: 2})
	c := h.ready("m1")
	c.send(`{"type":"ping","payload":{"secret":"s"}}`)
	if m := c.read(); m.Type != "pong" || m.Payload != nil {
		t.Fatalf("pong: %s", m.raw)
	}
	c.send(`{"id":"q","type":"subscribe","payload":{"query":"{ hello }"}}`)
	if m := c.read(); m.ID != "q" || m.Type != "next" || string(m.Payload) != `{"data":{"hello":"world"}}` {
		t.Fatalf("query: %s", m.raw)
	}
	if m := c.read(); m.ID != "q" || m.Type != "complete" {
		t.Fatalf("after the query: %s", m.raw)
	}
	c.send(`{"id":"f","type":"subscribe","payload":{"query":"subscription { forbidden { n } }"}}`)
	if m := c.read(); m.ID != "f" || m.Type != "error" || !strings.Contains(string(m.Payload), "FORBIDDEN") {
		t.Fatalf("refusal: %s", m.raw)
	}
	c.send(`{"id":"p","type":"subscribe","payload":{"query":"subscription { boom }"}}`)
	if m := c.read(); m.ID != "p" || m.Type != "error" || !strings.Contains(string(m.Payload), "internal system error") {
		t.Fatalf("a panic: %s", m.raw)
	}
	c.send(`{"id":"v","type":"subscribe","payload":{"query":"subscription { nosuch }"}}`)
	if m := c.read(); m.ID != "v" || m.Type != "error" {
		t.Fatalf("invalid document: %s", m.raw)
	}
	c.send(`{"id":"\"quoted\"","type":"subscribe","payload":{"query":"subscription { tick { n } }"}}`)
	c.send(`{"id":"t2","type":"subscribe","payload":{"query":"subscription { tick { n } }","variables":{"arg":"x"}}}`)
	c.send(`{"id":"t3","type":"subscribe","payload":{"query":"subscription { tick { n } }"}}`)
	if m := c.read(); m.ID != "t3" || m.Type != "error" || !strings.Contains(string(m.Payload), "RATE_LIMITED") {
		t.Fatalf("over the cap: %s", m.raw)
	}
	waitFor(t, "two executions", func() bool { return h.exec.running() == 2 })
	h.exec.emit(1)
	seen := map[string]bool{}
	for len(seen) < 2 {
		m := c.read()
		if m.Type != "next" {
			t.Fatalf("%s", m.raw)
		}
		seen[m.ID] = true
	}
	if !seen[`"quoted"`] || !seen["t2"] {
		t.Fatalf("ids %v", seen)
	}
	// The client completes one: it ends, and nothing more comes for it.
	c.send(`{"id":"t2","type":"complete"}`)
	waitFor(t, "t2 to end", func() bool { return h.exec.running() == 1 })
	h.exec.emit(2)
	if m := c.read(); m.ID != `"quoted"` {
		t.Fatalf("after complete: %s", m.raw)
	}
	// A completed id is free again; the same document in the same scope
	// joins the running execution.
	c.send(`{"id":"t2","type":"subscribe","payload":{"query":"subscription { tick { n } }"}}`)
	c.send(`{"type":"ping"}`)
	if m := c.read(); m.Type != "pong" {
		t.Fatalf("%s", m.raw)
	}
	h.exec.emit(3)
	a, b := c.read(), c.read()
	if a.ID == b.ID || string(a.Payload) != string(b.Payload) || h.exec.runs.Load() != 5 {
		t.Fatalf("joined: %s and %s after %d executions", a.raw, b.raw, h.exec.runs.Load())
	}
}

// TestSharedExecutionIsPerDocumentVariablesAndScope: sockets with the same
// subscription and scope get one execution and the same bytes; another
// scope or other variables get their own, and never another's results.
func TestSharedExecutionIsPerDocumentVariablesAndScope(t *testing.T) {
	h := newHarness(t, Options{})
	const q = `{"id":"s","type":"subscribe","payload":{"query":"subscription($arg: String) { tick(arg: $arg) { n scope arg } }","variables":{"arg":%q}}}`
	a1, a2, a3 := h.ready("merchant-a"), h.ready("merchant-a"), h.ready("merchant-a")
	b1 := h.ready("merchant-b")
	for _, c := range []*client{a1, a2, b1} {
		c.send(q, "x")
	}
	a3.send(q, "y")
	waitFor(t, "three executions", func() bool { return h.exec.running() == 3 })
	if got := h.exec.runs.Load(); got != 3 || h.tr.SharedExecutions() != 3 {
		t.Fatalf("%d executions (%d shared) for 3 distinct (scope, variables), want 3", got, h.tr.SharedExecutions())
	}
	h.exec.emit(7)
	want := map[*client]string{
		a1: `{"data":{"tick":{"n":7,"scope":"merchant-a","arg":"x"}}}`,
		a2: `{"data":{"tick":{"n":7,"scope":"merchant-a","arg":"x"}}}`,
		a3: `{"data":{"tick":{"n":7,"scope":"merchant-a","arg":"y"}}}`,
		b1: `{"data":{"tick":{"n":7,"scope":"merchant-b","arg":"x"}}}`,
	}
	for c, w := range want {
		if m := c.read(); m.Type != "next" || string(m.Payload) != w {
			t.Fatalf("got %s, want payload %s", m.raw, w)
		}
	}
	// The first subscriber leaving does not end the others' execution;
	// the last one leaving does.
	a1.c.CloseNow()
	waitFor(t, "a1 gone", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.conns[0].Closed() })
	h.exec.emit(8)
	if m := a2.read(); !strings.Contains(string(m.Payload), `"n":8`) {
		t.Fatalf("a2 after a1 left: %s", m.raw)
	}
	a2.send(`{"id":"s","type":"complete"}`)
	waitFor(t, "the shared execution to end", func() bool { return h.exec.running() == 2 && h.tr.SharedExecutions() == 2 })
	// A later subscriber starts a new execution.
	a2.send(q, "x")
	waitFor(t, "a new execution", func() bool { return h.exec.running() == 3 && h.exec.runs.Load() == 4 })
}

func TestASlowConsumerIsCutOff(t *testing.T) {
	t.Run("queue full: 1013", func(t *testing.T) {
		h := newHarness(t, Options{QueueLimit: 8})
		c := h.ready("m")
		c.send(`{"id":"b","type":"subscribe","payload":{"query":"subscription { big }"}}`)
		// The client reads nothing: the TCP buffers fill, then the queue.
		waitFor(t, "the socket to close", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.conns[0].Closed() })
		if code := h.conns[0].code; code != CloseTryAgainLater {
			t.Fatalf("closed with %d, want 1013", code)
		}
	})
	t.Run("write stuck: closed after WriteTimeout", func(t *testing.T) {
		h := newHarness(t, Options{QueueLimit: 1 << 20, WriteTimeout: 300 * time.Millisecond})
		c := h.ready("m")
		c.send(`{"id":"b","type":"subscribe","payload":{"query":"subscription { big }"}}`)
		waitFor(t, "the socket to close", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.conns[0].Closed() })
		if code := h.conns[0].code; code != 0 {
			t.Fatalf("closed with %d, want an abort", code)
		}
	})
}

func TestCloseFromTheServerEndsOperationsAndRunsHooksOnce(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.ready("m")
	c.send(`{"id":"s","type":"subscribe","payload":{"query":"subscription { tick { n } }"}}`)
	waitFor(t, "the execution", func() bool { return h.exec.running() == 1 })
	var hooks atomic.Int32
	conn := h.conns[0]
	conn.OnClose(func() { hooks.Add(1) })
	conn.Close(CloseForbidden, "Forbidden: credential revoked")
	conn.Close(CloseTryAgainLater, "second close loses")
	c.closedWith(CloseForbidden)
	waitFor(t, "the execution to end", func() bool { return h.exec.running() == 0 && h.tr.SharedExecutions() == 0 })
	conn.OnClose(func() { hooks.Add(1) }) // after the close: runs at once
	if hooks.Load() != 2 {
		t.Fatalf("hooks ran %d times, want 2", hooks.Load())
	}
}

// TestASocketThatFellBehindStillTakesInlineWrites: results too large for
// the socket's buffer go through the drain goroutine, whose writes carry a
// deadline; long after it, the next result (written inline, without one)
// still goes out: the deadline does not stay behind to fail it.
func TestASocketThatFellBehindStillTakesInlineWrites(t *testing.T) {
	h := newHarness(t, Options{WriteTimeout: 3 * time.Second, QueueLimit: 1000})
	c := h.ready("a")
	c.send(`{"id":"t","type":"subscribe","payload":{"query":"subscription { tick { n } }"}}`)
	waitFor(t, "the tick subscription", func() bool { return h.exec.running() == 1 })
	c.send(`{"id":"b","type":"subscribe","payload":{"query":"subscription { big }"}}`)
	time.Sleep(200 * time.Millisecond) // the server fills the socket's buffers
	for {
		m := c.read()
		if m.ID == "b" && m.Type == "complete" {
			break
		}
		if m.ID != "b" || m.Type != "next" {
			t.Fatalf("during the large results: %s", m.raw)
		}
	}
	time.Sleep(3500 * time.Millisecond) // past the drain's last deadline
	h.exec.emit(7)
	if m := c.read(); m.ID != "t" || m.Type != "next" || !strings.Contains(string(m.Payload), `"n":7`) {
		t.Fatalf("after the drain: %s", m.raw)
	}
}
