package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/straitpay/strait/graph"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/viewer"
)

// The graphql-transport-ws close codes Strait uses. The protocol defines
// the 44xx ones; a client such as graphql-ws stops reconnecting on 4403.
const (
	closeBadMessage      = 4400 // malformed or unexpected message
	closeUnauthorized    = 4401 // subscribe before connection_ack
	closeForbidden       = 4403 // connection_init refused; credential expired or revoked
	closeInitTimeout     = 4408 // no connection_init within InitTimeout
	closeDuplicateID     = 4409 // a subscribe reusing an active id
	closeTooManyInits    = 4429 // a second connection_init
	closePolicyViolation = 1008 // too many sockets for one principal
)

const transportWSProtocol = "graphql-transport-ws"

// wsWriteTimeout bounds one message's write: a client that stops reading
// fills its TCP window, and its socket is closed rather than held.
const wsWriteTimeout = 10 * time.Second

// wsImplementation accepts websockets for gqlgen's transport with Strait's
// protocol checks (wsConn). Origins are checked by coder/websocket at the
// upgrade: a foreign Origin gets 403 and no socket.
type wsImplementation struct {
	accept  websocket.AcceptOptions
	maxSubs int
}

func (i wsImplementation) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	for k, vs := range o.ResponseHeader {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	opts := i.accept
	for _, p := range o.Subprotocols {
		if !slices.Contains(opts.Subprotocols, p) {
			opts.Subprotocols = append(opts.Subprotocols, p)
		}
	}
	conn, err := websocket.Accept(w, r, &opts)
	if err != nil {
		return nil, err
	}
	c := &wsConn{conn: conn, maxSubs: i.maxSubs, active: map[string]bool{}, started: map[string]bool{}, failed: map[string]bool{}}
	if slot, ok := r.Context().Value(socketSlotKey{}).(*socketSlot); ok {
		slot.conn = c
	}
	return c, nil
}

// wsConn is one websocket under gqlgen's transport. It enforces the
// graphql-transport-ws rules gqlgen does not, with the protocol's close
// codes, caps the subscriptions of the socket, and lets Strait close it
// (credential expiry or revocation, a slow consumer).
type wsConn struct {
	conn     *websocket.Conn
	maxSubs  int
	initSeen bool // read side only
	acked    atomic.Bool
	closing  atomic.Bool
	// onClose runs once when the socket closes (set by initSocket).
	onClose atomic.Pointer[func()]

	mu     sync.Mutex // guards active, started, failed and writes
	active map[string]bool
	// started holds the operations that sent a result; failed those whose
	// first result was an error without data, sent as an error message.
	started, failed map[string]bool
}

func (c *wsConn) Subprotocol() string { return c.conn.Subprotocol() }

func (c *wsConn) SetReadLimit(n int64) { c.conn.SetReadLimit(n) }

// NextReader returns the next client message gqlgen should see, after
// checking it against the protocol.
func (c *wsConn) NextReader() (int, io.Reader, error) {
	for {
		typ, data, err := c.conn.Read(context.Background())
		if err != nil {
			if s := websocket.CloseStatus(err); s == websocket.StatusNormalClosure || s == websocket.StatusGoingAway || c.closing.Load() {
				return 0, nil, transport.ErrWebsocketClosed
			}
			if strings.Contains(err.Error(), "read limited") {
				c.closeWith(int(websocket.StatusMessageTooBig), "Message too large")
			}
			return 0, nil, err
		}
		if c.Subprotocol() != transportWSProtocol {
			return int(typ), bytes.NewReader(data), nil
		}
		var m struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if json.Unmarshal(data, &m) != nil || m.Type == "" {
			return c.refuse(closeBadMessage, "Invalid message received")
		}
		switch m.Type {
		case "connection_init":
			if c.initSeen {
				return c.refuse(closeTooManyInits, "Too many initialisation requests")
			}
			c.initSeen = true
		case "subscribe":
			if !c.acked.Load() {
				return c.refuse(closeUnauthorized, "Unauthorized")
			}
			if m.ID == "" {
				return c.refuse(closeBadMessage, "Invalid message received")
			}
			c.mu.Lock()
			dup, full := c.active[m.ID], len(c.active) >= c.maxSubs
			if !dup && !full {
				c.active[m.ID] = true
			}
			c.mu.Unlock()
			if dup {
				return c.refuse(closeDuplicateID, "Subscriber for "+clipID(m.ID)+" already exists")
			}
			if full {
				c.refuseOperation(m.ID, fmt.Sprintf("at most %d subscriptions per socket", c.maxSubs))
				continue
			}
		case "complete":
			c.mu.Lock()
			delete(c.active, m.ID)
			c.mu.Unlock()
		case "ping", "pong":
		default:
			return c.refuse(closeBadMessage, "Invalid message received")
		}
		return int(typ), bytes.NewReader(data), nil
	}
}

func clipID(id string) string {
	if len(id) > 64 {
		return id[:64]
	}
	return id
}

func (c *wsConn) refuse(code int, reason string) (int, io.Reader, error) {
	c.closeWith(code, reason)
	return 0, nil, transport.ErrWebsocketClosed
}

// refuseOperation answers one subscribe with an error message, leaving
// the socket and its other subscriptions alone.
func (c *wsConn) refuseOperation(id, msg string) {
	_ = c.WriteJSON(map[string]any{"id": id, "type": "error", "payload": []map[string]any{
		{"message": msg, "extensions": map[string]string{"code": graph.CodeRateLimited}},
	}})
}

func (c *wsConn) WriteJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m struct {
		Type    string          `json:"type"`
		ID      string          `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}
	_ = json.Unmarshal(data, &m)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case "next":
		// gqlgen answers a subscription its resolver refused (not found,
		// forbidden) with a result holding only errors; the protocol's
		// answer is an error message for that operation.
		if !c.started[m.ID] {
			c.started[m.ID] = true
			if errs, ok := refusal(m.Payload); ok {
				c.failed[m.ID] = true
				delete(c.active, m.ID)
				if data, err = json.Marshal(map[string]any{"id": m.ID, "type": "error", "payload": errs}); err != nil {
					return err
				}
			}
		}
	case "complete", "error":
		delete(c.active, m.ID)
		delete(c.started, m.ID)
		if c.failed[m.ID] {
			delete(c.failed, m.ID)
			return nil // the error message ended it
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsWriteTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, data); err != nil {
		return err
	}
	if m.Type == "connection_ack" {
		c.acked.Store(true)
	}
	return nil
}

// WriteClose is gqlgen closing the socket. Its generic protocol error
// (1002) becomes the graphql-transport-ws code for what happened.
func (c *wsConn) WriteClose(code int, msg string) error {
	if code == transport.WebsocketCloseProtocolError {
		code = closeBadMessage
		if strings.Contains(msg, "initialisation timeout") {
			code, msg = closeInitTimeout, "Connection initialisation timeout"
		}
	}
	c.closeWith(code, msg)
	return nil
}

// closeWith closes the socket once, with code and reason, without waiting
// for the peer's answer.
func (c *wsConn) closeWith(code int, reason string) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if f := c.onClose.Load(); f != nil {
		(*f)()
	}
	go func() { _ = c.conn.Close(websocket.StatusCode(code), reason) }()
}

// Close is gqlgen releasing the socket; a close already under way owns it.
func (c *wsConn) Close() error {
	if c.closing.Load() {
		return nil
	}
	c.closeWith(int(websocket.StatusNormalClosure), "")
	return nil
}

// socketSlot carries a websocket from the upgrade to connection_init,
// where Strait learns whose it is.
type socketSlot struct {
	conn   *wsConn
	header string // the upgrade request's Authorization, if any
}

type socketSlotKey struct{}

// withSocketSlot gives a websocket upgrade a slot for its connection.
func withSocketSlot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocketUpgrade(r) {
			slot := &socketSlot{header: r.Header.Get("Authorization")}
			r = r.WithContext(context.WithValue(r.Context(), socketSlotKey{}, slot))
		}
		next.ServeHTTP(w, r)
	})
}

// sockets are this replica's open websockets by principal, so that the
// end of a credential closes every socket it opened.
type sockets struct {
	mu  sync.Mutex
	by  map[string]map[*wsConn]struct{}
	max int
}

func newSockets(max int) *sockets { return &sockets{by: map[string]map[*wsConn]struct{}{}, max: max} }

func principalKey(v viewer.Viewer) string { return string(v.Kind) + ":" + v.Subject }

// add registers c under key; it reports false when key has max sockets.
func (s *sockets) add(key string, c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.by[key]) >= s.max {
		return false
	}
	if s.by[key] == nil {
		s.by[key] = map[*wsConn]struct{}{}
	}
	s.by[key][c] = struct{}{}
	return true
}

func (s *sockets) remove(key string, c *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.by[key], c)
	if len(s.by[key]) == 0 {
		delete(s.by, key)
	}
}

// closeAll closes key's sockets with code.
func (s *sockets) closeAll(key string, code int, reason string) int {
	s.mu.Lock()
	conns := make([]*wsConn, 0, len(s.by[key]))
	for c := range s.by[key] {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(code, reason)
	}
	return len(conns)
}

// count is how many sockets key has open.
func (s *sockets) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.by[key])
}

// initSocket authenticates a connection_init (unless the upgrade request
// did), registers the socket under its principal, and arms its closing
// when the credential expires. A refusal closes with 4403 (1008 when the
// principal has too many sockets).
func (a *App) initSocket(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	slot, _ := ctx.Value(socketSlotKey{}).(*socketSlot)
	refuse := func(code int, reason string, err error) (context.Context, *transport.InitPayload, error) {
		ctx = transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, reason), code)
		return ctx, nil, err
	}
	v, ok := viewer.FromContext(ctx)
	cred := ""
	if slot != nil {
		cred = slot.header
	}
	if !ok {
		cred = p.Authorization()
		var err error
		if v, err = a.authenticate(ctx, cred); err != nil {
			return refuse(closeForbidden, "Forbidden", err)
		}
	}
	// The ack carries no payload: echoing the init payload would send the
	// Authorization secret back down the socket.
	if slot == nil || slot.conn == nil {
		return viewer.NewContext(ctx, v), nil, nil
	}
	c, key := slot.conn, principalKey(v)
	if !a.sockets.add(key, c) {
		return refuse(closePolicyViolation, "Too many sockets", fmt.Errorf("at most %d sockets per principal", a.sockets.max))
	}
	var expiry *time.Timer
	if exp := jwtExpiry(cred); !exp.IsZero() {
		expiry = time.AfterFunc(time.Until(exp), func() { c.closeWith(closeForbidden, "Forbidden: credential expired") })
	}
	cleanup := func() {
		if expiry != nil {
			expiry.Stop()
		}
		a.sockets.remove(key, c)
	}
	c.onClose.Store(&cleanup)
	if c.closing.Load() { // closed before cleanup was set: run it here
		cleanup()
	}
	ctx = graph.WithSocketCloser(ctx, func(code int, reason string) { c.closeWith(code, reason) })
	return viewer.NewContext(ctx, v), nil, nil
}

// jwtExpiry reads a bearer JWT's exp, already verified by authenticate;
// zero for API keys and tokens without one.
func jwtExpiry(header string) time.Time {
	_, token, ok := strings.Cut(header, " ")
	if !ok || strings.HasPrefix(token, "sk_") {
		return time.Time{}
	}
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Time{}
	}
	return claims.ExpiresAt.Time
}

// credentialEnds are the events after which a principal's sockets close,
// on every replica: the event's object is the principal's subject.
var credentialEnds = map[string]viewer.Kind{
	"api_key.revoked":        viewer.APIKey,
	"merchant_user.disabled": viewer.MerchantUser,
}

// closeRevokedSockets closes the sockets of revoked credentials as their
// events arrive, until ctx ends.
func (a *App) closeRevokedSockets(ctx context.Context) error {
	types := make([]string, 0, len(credentialEnds))
	for t := range credentialEnds {
		types = append(types, t)
	}
	sub, err := a.Hub.Subscribe(ctx, events.Filter{Types: types}, 0)
	if err != nil {
		return err
	}
	a.goBackground(func() {
		for m := range sub.C() {
			key := string(credentialEnds[m.Type]) + ":" + m.ObjectID
			if n := a.sockets.closeAll(key, closeForbidden, "Forbidden: credential revoked"); n > 0 {
				a.Log.Info("closed the sockets of a revoked credential", "principal", key, "sockets", n)
			}
		}
	})
	return nil
}

// refusal returns the errors of a result that has errors and no data.
func refusal(payload json.RawMessage) (json.RawMessage, bool) {
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(payload, &r) != nil || len(r.Errors) == 0 {
		return nil, false
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return r.Errors, true
	}
	return nil, false
}
