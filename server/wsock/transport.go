// Package wsock is Strait's graphql-transport-ws transport for gqlgen: the
// protocol of the graphql-ws npm client
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md) over
// github.com/gobwas/ws, which does the handshake and reads the client's
// frames (masking, fragments, control frames, UTF-8). Strait writes its
// own frames: each is built once into the writer's buffer, header and
// message together, and a batch goes out in one system call, with no
// per-socket write buffer.
//
// A socket costs one goroutine while it is idle: its reader, started when
// the upgrade's HTTP handler returns, which parses and executes on short
// goroutines of their own so that its stack stays small. A result is
// written by whoever produced it, in one non-blocking write (Conn.flush);
// only a socket that did not take it all gets a drain goroutine, until its
// bounded send queue is empty. A peer that takes no 64 KiB within
// WriteTimeout is cut off, and a socket QueueLimit messages behind is
// closed with 1013 rather than allowed to grow memory. The
// connection's read buffer is small (readBufferSize) instead of net/http's
// 4 KiB, and it has no write buffer of its own.
//
// Shared execution: subscriptions the Scope hook declares shareable, with
// the same document, operation name, variables and scope (what the caller
// may see), run once per replica; each result is marshalled once and the
// same bytes are queued on every socket subscribed to it. A socket that
// joins a running shared subscription sees the results from then on, as a
// subscription of its own would (perhaps also one result whose event was
// already on its way).
//
// Protocol rules, each with its close code: 4400 a message that is not
// JSON, has no or an unknown type, or a subscribe without an id; 4401 a
// subscribe before connection_ack; 4403 connection_init refused (Init's
// error, unless it is a *CloseError with its own code); 4406 a socket
// without the graphql-transport-ws subprotocol; 4408 no connection_init
// within InitTimeout; 4409 a subscribe reusing an active id; 4429 a second
// connection_init; 1009 a message over ReadLimit; 1013 a slow consumer;
// 1002 a frame that breaks RFC 6455 (unmasked, reserved bits, a stray
// continuation); 1007 a text message that is not UTF-8.
// connection_ack never carries a payload.
package wsock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Protocol is the websocket subprotocol served.
const Protocol = "graphql-transport-ws"

// The close codes of graphql-transport-ws and the RFC 6455 ones Strait uses.
const (
	CloseBadMessage        = 4400 // malformed or unexpected message
	CloseUnauthorized      = 4401 // subscribe before connection_ack
	CloseForbidden         = 4403 // connection_init refused; a credential's end
	CloseBadSubprotocol    = 4406 // not graphql-transport-ws
	CloseInitTimeout       = 4408 // no connection_init within InitTimeout
	CloseDuplicateID       = 4409 // a subscribe reusing an active id
	CloseTooManyInits      = 4429 // a second connection_init
	ClosePolicyViolation   = 1008 // e.g. too many sockets for one principal
	CloseProtocolError     = 1002 // a frame that breaks RFC 6455
	CloseInvalidPayload    = 1007 // a text message that is not UTF-8
	CloseMessageTooBig     = 1009 // a message over ReadLimit
	CloseInternalError     = 1011 // a panic while serving the socket
	CloseTryAgainLater     = 1013 // a slow consumer: reconnect and resume
	defaultReadLimit       = 1 << 20
	defaultWriteTimeout    = 10 * time.Second
	defaultQueueLimit      = 256
	defaultInitTimeout     = 10 * time.Second
	defaultMaxSubscription = 32
)

// CloseError is an Init refusal that closes the socket with Code.
type CloseError struct {
	Code   int
	Reason string
	Err    error
}

func (e *CloseError) Error() string { return fmt.Sprintf("%s (%d): %v", e.Reason, e.Code, e.Err) }
func (e *CloseError) Unwrap() error { return e.Err }

// Options configure a Transport; zero values take the defaults given.
type Options struct {
	// OriginPatterns are the browser origins allowed besides the request's
	// own host: host patterns ("*.example.com", path.Match syntax), or
	// scheme://host patterns. Another Origin is refused with 403 before any
	// socket exists; a request without an Origin (not a browser) is let in.
	OriginPatterns []string
	// InitTimeout (10 s): a socket without connection_init by then closes 4408.
	InitTimeout time.Duration
	// MaxSubscriptions (32) active operations per socket; one more is
	// answered with an error message carrying RefusedCode, the socket stays.
	MaxSubscriptions int
	// RefusedCode is the extensions.code of that error.
	RefusedCode string
	// ReadLimit (1 MiB) caps a client message: one over it closes 1009.
	ReadLimit int64
	// WriteTimeout (10 s) bounds a waiting write's progress: a client that
	// takes no 64 KiB within it (it stopped reading and its TCP window is
	// full) has its socket closed, not held.
	WriteTimeout time.Duration
	// QueueLimit (256) is how many messages a socket may fall behind
	// before it is closed 1013.
	QueueLimit int
	// Init authenticates connection_init: r is the upgrade request, payload
	// the init payload. It returns the context the socket's operations run
	// under, or an error that closes the socket (4403, or a *CloseError's
	// code). It runs on the socket's reader goroutine.
	Init func(r *http.Request, c *Conn, payload map[string]any) (context.Context, error)
	// Scope says whether a subscription may share its execution and with
	// whom: the sockets whose operation has the same document, name,
	// variables and scope. ctx is the socket's operation context. "" or
	// false: run it alone. Nil: nothing is shared.
	Scope func(ctx context.Context, op *graphql.OperationContext) (scope string, ok bool)
	// SharedContext returns the context a shared execution runs under,
	// from the first subscriber's operation context (no longer cancelled
	// with it): it must drop whatever differs within a scope (the
	// principal's own identity), and may hand closeAll, which closes every
	// subscriber's socket, to the resolvers.
	SharedContext func(ctx context.Context, closeAll func(code int, reason string)) context.Context
	// Log receives panics (the socket closes 1011); slog.Default if nil.
	Log *slog.Logger
}

// Transport is a gqlgen graphql.Transport serving graphql-transport-ws.
type Transport struct {
	opts     Options
	shared   *registry
	upgrader ws.HTTPUpgrader
}

var _ graphql.Transport = (*Transport)(nil)

// New returns a transport with opts.
func New(opts Options) *Transport {
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = defaultInitTimeout
	}
	if opts.MaxSubscriptions <= 0 {
		opts.MaxSubscriptions = defaultMaxSubscription
	}
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = defaultReadLimit
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = defaultWriteTimeout
	}
	if opts.QueueLimit <= 0 {
		opts.QueueLimit = defaultQueueLimit
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.RefusedCode == "" {
		opts.RefusedCode = "RATE_LIMITED"
	}
	return &Transport{opts: opts, shared: &registry{groups: map[string]*group{}},
		upgrader: ws.HTTPUpgrader{Timeout: defaultWriteTimeout, Protocol: func(p string) bool { return p == Protocol }}}
}

// SharedExecutions is how many shared subscriptions run now.
func (t *Transport) SharedExecutions() int {
	t.shared.mu.Lock()
	defer t.shared.mu.Unlock()
	return len(t.shared.groups)
}

// Supports takes websocket upgrades.
func (t *Transport) Supports(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Do upgrades the request and starts the socket's reader; it returns at
// once, so the HTTP handler's goroutine (and its grown stack) ends. The
// socket's context keeps the request's values, not its cancellation.
func (t *Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if err := checkOrigin(r, t.opts.OriginPatterns); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	nc, brw, hs, err := t.upgrader.Upgrade(r, w)
	if err != nil {
		if nc != nil {
			_ = nc.Close() // gobwas/ws answered the bad handshake (400, 426)
		}
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &Conn{t: t, nc: nc, ctx: ctx, cancel: cancel, ops: map[string]*operation{}}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	rd := &reader{c: c, exec: exec, header: r.Header, protocol: hs.Protocol,
		req: r.WithContext(context.WithoutCancel(r.Context()))}
	rd.frames = wsutil.Reader{Source: smallReader(nc, brw.Reader), State: ws.StateServerSide,
		CheckUTF8: true, MaxMessageSize: t.opts.ReadLimit, OnIntermediate: rd.control}
	go rd.run()
}

// keptMessageBuffer is the largest message buffer a socket keeps between
// messages: a client's messages are small, and a large one (up to
// ReadLimit) would otherwise stay with the socket for its whole life.
const keptMessageBuffer = 4 << 10

// readBufferSize: client messages are small (a subscribe), and a larger
// one is read through in several reads.
const readBufferSize = 512

// smallReader reads the connection through a readBufferSize buffer instead
// of the hijacked 4 KiB one, starting with whatever the client sent after
// its upgrade request.
func smallReader(nc io.Reader, hijacked *bufio.Reader) *bufio.Reader {
	pending, _ := hijacked.Peek(hijacked.Buffered())
	if len(pending) == 0 {
		return bufio.NewReaderSize(nc, readBufferSize)
	}
	return bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pending)), nc), readBufferSize)
}

// checkOrigin lets in a request without an Origin, one from its own host,
// and one whose origin host (or scheme://host) matches a pattern.
func checkOrigin(r *http.Request, patterns []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("websocket: Origin %q is not a URL with a host", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return nil
		}
	}
	return fmt.Errorf("websocket: Origin %q is not allowed", origin)
}

// reader is a socket's read side: the protocol state only it touches.
type reader struct {
	c        *Conn
	frames   wsutil.Reader
	message  bytes.Buffer  // the message being read, reused
	protocol string        // the subprotocol agreed at the upgrade
	req      *http.Request // the upgrade request, for Init
	header   http.Header
	exec     graphql.GraphExecutor
	initSeen bool
	acked    bool
	peerGone bool // the connection is done: the peer closed it, or a read failed
	// broken: the stream can no longer be read as frames (a frame that
	// broke the protocol or the limit is unread): linger discards bytes.
	broken bool
}

// deep runs f on a goroutine of its own and waits for it: parsing,
// validation and authentication need deep stacks, the idle reader does
// not, and a grown stack shrinks back only at garbage collections, by
// halves. The extra goroutine costs a microsecond per init or subscribe.
func (rd *reader) deep(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rd.recover()
		f()
	}()
	<-done
}

// recover turns a panic into a log line and a closed socket (1011).
func (rd *reader) recover() {
	if p := recover(); p != nil {
		rd.c.t.opts.Log.Error("websocket: panic", "panic", p, "stack", string(debug.Stack()))
		rd.c.Close(CloseInternalError, "internal error")
	}
}

// envelope is a client message; payload is decoded by its type.
type envelope struct {
	ID      *string         `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// control answers a control frame: a ping with a pong, the peer's close
// with a close (then the connection is done: wsutil.ClosedError).
func (rd *reader) control(h ws.Header, body io.Reader) error {
	return wsutil.ControlHandler{Src: body, Dst: controlWriter{rd.c}, State: ws.StateServerSide,
		DisableSrcCiphering: true}.Handle(h)
}

// next reads the next message, answering control frames on the way.
func (rd *reader) next() ([]byte, error) {
	for {
		h, err := rd.frames.NextFrame()
		if err != nil {
			return nil, err
		}
		if h.OpCode.IsControl() {
			if err := rd.control(h, &rd.frames); err != nil {
				return nil, err
			}
			continue
		}
		if rd.message.Cap() > keptMessageBuffer {
			rd.message = bytes.Buffer{} // one large message must not stay with an idle socket
		}
		rd.message.Reset()
		if _, err := rd.message.ReadFrom(&rd.frames); err != nil {
			return nil, err
		}
		return rd.message.Bytes(), nil
	}
}

// readFailed closes the socket for a read error: the peer's own close (or
// a dropped connection) ends it at once; a frame that breaks the protocol
// or the read limit is answered with its close code first.
func (rd *reader) readFailed(err error) {
	c := rd.c
	var perr ws.ProtocolError
	rd.broken = true
	switch {
	case errors.Is(err, wsutil.ErrMessageTooLarge):
		c.Close(CloseMessageTooBig, "Message too large")
	case errors.Is(err, wsutil.ErrInvalidUTF8):
		c.Close(CloseInvalidPayload, "Invalid UTF-8")
	case errors.As(err, &perr):
		c.Close(CloseProtocolError, string(perr))
	default:
		rd.peerGone = true
		c.shutdown(0, "", false)
	}
}

// linger, once Strait has closed the socket, reads on until the peer's
// close answers Strait's (or closeWait ends the connection), so that the
// peer sees a clean close. After a broken frame it reads and discards
// until the peer leaves: closing with unread bytes would reset the
// connection, and the peer could lose the close frame.
func (rd *reader) linger() {
	if rd.broken && !rd.peerGone {
		_, _ = io.Copy(io.Discard, rd.frames.Source)
		return
	}
	for !rd.peerGone {
		if _, err := rd.next(); err != nil {
			return
		}
	}
}

func (rd *reader) run() {
	c := rd.c
	defer c.nc.Close()
	defer rd.linger()
	defer rd.recover()
	if rd.protocol != Protocol {
		c.Close(CloseBadSubprotocol, "Subprotocol not acceptable")
		return
	}
	initTimer := time.AfterFunc(c.t.opts.InitTimeout, func() { c.Close(CloseInitTimeout, "Connection initialisation timeout") })
	defer initTimer.Stop()
	for {
		data, err := rd.next()
		if err != nil {
			rd.readFailed(err)
			return
		}
		var m envelope
		if json.Unmarshal(data, &m) != nil || m.Type == "" {
			c.Close(CloseBadMessage, "Invalid message received")
			return
		}
		switch m.Type {
		case "connection_init":
			if rd.initSeen {
				c.Close(CloseTooManyInits, "Too many initialisation requests")
				return
			}
			rd.initSeen = true
			initTimer.Stop()
			ok := false
			rd.deep(func() { ok = rd.init(m.Payload) })
			if !ok {
				return
			}
		case "ping":
			c.send(frame{kind: framePong}) // the ping's payload is not echoed
		case "pong":
		case "subscribe":
			if !rd.acked {
				c.Close(CloseUnauthorized, "Unauthorized")
				return
			}
			if m.ID == nil || *m.ID == "" {
				c.Close(CloseBadMessage, "Invalid message received")
				return
			}
			if c.active(*m.ID) {
				c.Close(CloseDuplicateID, "Subscriber for "+clip(*m.ID)+" already exists")
				return
			}
			rd.deep(func() { rd.subscribe(*m.ID, m.Payload) })
		case "complete":
			if m.ID == nil {
				c.Close(CloseBadMessage, "Invalid message received")
				return
			}
			if op := c.remove(*m.ID); op != nil {
				c.stop(op)
			}
		default:
			c.Close(CloseBadMessage, "Invalid message received")
			return
		}
	}
}

func clip(id string) string {
	if len(id) > 64 {
		return id[:64]
	}
	return id
}

// init runs Init and acknowledges; false when the socket closed.
func (rd *reader) init(raw json.RawMessage) bool {
	c := rd.c
	var payload map[string]any
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if json.Unmarshal(raw, &payload) != nil {
			c.Close(CloseBadMessage, "Invalid message received")
			return false
		}
	}
	if c.t.opts.Init != nil {
		ctx, err := c.t.opts.Init(rd.req, c, payload)
		rd.req = nil // a socket lives long; the request need not
		if err != nil {
			code, reason := CloseForbidden, "Forbidden"
			if ce := (*CloseError)(nil); errors.As(err, &ce) {
				code, reason = ce.Code, ce.Reason
			}
			c.Close(code, reason)
			return false
		}
		c.mu.Lock()
		c.ctx = ctx
		c.mu.Unlock()
	}
	rd.acked = true
	c.send(frame{kind: frameAck})
	return true
}

// subscribe starts an operation: parsed, validated and run by gqlgen, its
// results queued as next messages, then complete. A subscription whose
// Scope allows it joins or starts a shared execution.
func (rd *reader) subscribe(id string, raw json.RawMessage) {
	c := rd.c
	qid, _ := json.Marshal(id)
	start := graphql.Now()
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		c.refuse(qid, errorList(&gqlerror.Error{Message: "invalid json"}))
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	params.Headers = rd.header
	op := &operation{id: id, qid: qid}
	if ok, full := c.add(op); !ok {
		if full {
			c.refuse(qid, errorList(&gqlerror.Error{
				Message:    fmt.Sprintf("at most %d subscriptions per socket", c.t.opts.MaxSubscriptions),
				Extensions: map[string]any{"code": c.t.opts.RefusedCode}}))
		}
		return
	}
	c.mu.Lock()
	base := c.ctx
	c.mu.Unlock()
	ctx := graphql.StartOperationTrace(base)
	rc, errs := rd.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := rd.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		c.end(op, errorList(resp.Errors...))
		return
	}
	ctx = graphql.WithOperationContext(ctx, rc)
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription && c.t.opts.Scope != nil {
		if scope, ok := c.t.opts.Scope(ctx, rc); ok && scope != "" {
			c.t.shared.join(ctx, c, op, rd.exec, rc, scope)
			return
		}
	}
	runAloneAttached(ctx, c, op, rd.exec, rc)
}

// runAloneAttached starts runAlone unless op already ended.
func runAloneAttached(ctx context.Context, c *Conn, op *operation, exec graphql.GraphExecutor, rc *graphql.OperationContext) {
	ctx, cancel := context.WithCancel(ctx)
	if c.attach(op, nil, cancel) {
		cancel()
		return
	}
	go runAlone(ctx, c, op, exec, rc, cancel)
}

// runAlone executes op for its socket only: a query, a mutation, or a
// subscription that is not shared.
func runAlone(ctx context.Context, c *Conn, op *operation, exec graphql.GraphExecutor, rc *graphql.OperationContext, cancel context.CancelFunc) {
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			c.end(op, errorList(recovered(ctx, rc, p)))
		}
	}()
	ended := false
	results(ctx, exec, rc, func(b []byte) bool {
		ended = c.result(op, b)
		return !ended
	})
	if !ended {
		c.end(op, nil)
	}
}

// results executes rc and hands each result, marshalled once, to deliver
// until deliver returns false or the results end.
func results(ctx context.Context, exec graphql.GraphExecutor, rc *graphql.OperationContext, deliver func([]byte) bool) {
	responses, ctx := exec.DispatchOperation(ctx, rc)
	for {
		resp := responses(ctx)
		if resp == nil {
			return
		}
		b, err := json.Marshal(resp)
		if err != nil {
			panic(err)
		}
		if !deliver(b) {
			return
		}
	}
}

func recovered(ctx context.Context, rc *graphql.OperationContext, p any) *gqlerror.Error {
	err := rc.Recover(ctx, p)
	var gerr *gqlerror.Error
	if !errors.As(err, &gerr) {
		gerr = &gqlerror.Error{Message: "internal error"}
		if err != nil {
			gerr.Message = err.Error()
		}
	}
	return gerr
}

// errorList is errs as the payload of an error message.
func errorList(errs ...*gqlerror.Error) []byte {
	b, err := json.Marshal(errs)
	if err != nil {
		panic(err)
	}
	return b
}

// refusal returns the errors of a result that has errors and no data:
// the protocol's answer to that is an error message, not next.
func refusal(payload []byte) ([]byte, bool) {
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if !bytes.Contains(payload, []byte(`"errors"`)) || json.Unmarshal(payload, &r) != nil || len(r.Errors) == 0 {
		return nil, false
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return r.Errors, true
	}
	return nil, false
}
