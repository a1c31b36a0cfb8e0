package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/golang-jwt/jwt/v5"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/straitpay/strait/graph"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/wsock"
)

// newWebsocketTransport is graphql-transport-ws on /graphql (server/wsock)
// with Strait's rules: origins checked at the upgrade (403), the principal
// authenticated in connection_init (or the upgrade request), the caps, and
// shared execution of the live subscriptions within one visibility scope.
func newWebsocketTransport(a *App) *wsock.Transport {
	a.sockets.ws = wsock.New(wsock.Options{
		OriginPatterns:   a.Config.CORSOrigins,
		InitTimeout:      a.Config.WSInitTimeout,
		MaxSubscriptions: a.Config.WSMaxSubscriptions,
		RefusedCode:      graph.CodeRateLimited,
		Init:             a.initSocket,
		Scope:            shareScope,
		SharedContext:    sharedContext,
		Log:              a.Log,
	})
	return a.sockets.ws
}

// sockets are this replica's open websockets by principal, so that the
// end of a credential closes every socket it opened.
type sockets struct {
	mu  sync.Mutex
	by  map[string]map[*wsock.Conn]struct{}
	max int
	ws  *wsock.Transport // serving them
}

func newSockets(max int) *sockets {
	return &sockets{by: map[string]map[*wsock.Conn]struct{}{}, max: max}
}

func principalKey(v viewer.Viewer) string { return string(v.Kind) + ":" + v.Subject }

// add registers c under key; it reports false when key has max sockets.
func (s *sockets) add(key string, c *wsock.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.by[key]) >= s.max {
		return false
	}
	if s.by[key] == nil {
		s.by[key] = map[*wsock.Conn]struct{}{}
	}
	s.by[key][c] = struct{}{}
	return true
}

func (s *sockets) remove(key string, c *wsock.Conn) {
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
	conns := make([]*wsock.Conn, 0, len(s.by[key]))
	for c := range s.by[key] {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close(code, reason)
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
// principal has too many sockets). The ack carries no payload: echoing the
// init payload would send the Authorization secret back down the socket.
func (a *App) initSocket(r *http.Request, c *wsock.Conn, payload map[string]any) (context.Context, error) {
	ctx := r.Context()
	v, ok := viewer.FromContext(ctx)
	cred := r.Header.Get("Authorization")
	if !ok {
		cred = initAuthorization(payload)
		var err error
		if v, err = a.authenticate(ctx, cred); err != nil {
			return nil, err // 4403
		}
	}
	key := principalKey(v)
	if !a.sockets.add(key, c) {
		return nil, &wsock.CloseError{Code: wsock.ClosePolicyViolation, Reason: "Too many sockets",
			Err: fmt.Errorf("at most %d sockets per principal", a.sockets.max)}
	}
	var expiry *time.Timer
	if exp := jwtExpiry(cred); !exp.IsZero() {
		expiry = time.AfterFunc(time.Until(exp), func() { c.Close(wsock.CloseForbidden, "Forbidden: credential expired") })
	}
	c.OnClose(func() {
		if expiry != nil {
			expiry.Stop()
		}
		a.sockets.remove(key, c)
	})
	ctx = graph.WithSocketCloser(ctx, func(code int, reason string) { c.Close(code, reason) })
	return viewer.NewContext(ctx, v), nil
}

// initAuthorization is the init payload's Authorization (or authorization).
func initAuthorization(p map[string]any) string {
	for _, k := range []string{"Authorization", "authorization"} {
		if s, ok := p[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// sharedFields are the subscriptions whose execution sockets may share:
// each sends only what happens after it starts (merchantStats sends its
// figures at once, so a socket joining later would miss them), and only
// when it does not resume (an `after` cursor replays for one client).
var sharedFields = map[string]bool{
	"paymentUpdated": true, "disputeUpdated": true, "balanceUpdated": true, "checkoutSessionUpdated": true,
	"connectorHealth": true, "settlementRunUpdated": true,
}

// shareScope is the visibility a subscription's results depend on: the
// kind of principal, its merchant, its role and its checkout session,
// which are everything of the viewer that ent privacy, the role checks and
// the subscription resolvers read. The principal's own Subject is not (only
// the viewer query and mutations' audit read it, and neither is reachable
// from a subscription: TestNoSubscriptionReachesTheViewer), and the shared
// execution runs without it (sharedContext).
func shareScope(ctx context.Context, op *graphql.OperationContext) (string, bool) {
	v, ok := viewer.FromContext(ctx)
	if !ok || v.IsSystem() {
		return "", false
	}
	for _, sel := range op.Operation.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || !sharedFields[f.Name] {
			return "", false
		}
		if after, ok := f.ArgumentMap(op.Variables)["after"]; ok && after != nil {
			return "", false
		}
	}
	return strings.Join([]string{string(v.Kind), v.MerchantID, string(v.Role), v.SessionID}, "\x00"), true
}

// sharedContext is the context a shared execution runs under: the first
// subscriber's, acting as its scope (the viewer without its Subject), and
// closing every subscriber's socket when it falls behind.
func sharedContext(ctx context.Context, closeAll func(code int, reason string)) context.Context {
	v, _ := viewer.FromContext(ctx)
	v.Subject = ""
	return viewer.NewContext(graph.WithSocketCloser(ctx, closeAll), v)
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
			a.closePrincipalSockets(credentialEnds[m.Type], m.ObjectID, "Forbidden: credential revoked")
		}
	})
	return nil
}

// closePrincipalSockets closes, with 4403 and reason, every socket this
// replica has open for the principal (kind, subject): a credential that
// ended. It returns how many it closed.
func (a *App) closePrincipalSockets(kind viewer.Kind, subject, reason string) int {
	key := principalKey(viewer.Viewer{Kind: kind, Subject: subject})
	n := a.sockets.closeAll(key, wsock.CloseForbidden, reason)
	if n > 0 {
		a.Log.Info("closed the sockets of an ended credential", "principal", key, "sockets", n, "reason", reason)
	}
	return n
}
