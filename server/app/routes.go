package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"

	"github.com/straitpay/strait/graph"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/viewer"
)

// maxCredentialLen bounds an Authorization credential; a JWT from Strait is
// well under 1 KiB, and anything near this is an attack or a mistake.
const maxCredentialLen = 8 << 10

func (a *App) routes(gql http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", compressAnswers(a.metrics.instrument("graphql", a.requireAuth(limitBody(markReplays(gql))))))
	mux.Handle("GET /healthz", a.metrics.instrument("healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})))
	mux.Handle("GET /readyz", a.metrics.instrument("readyz", http.HandlerFunc(a.readyz)))
	mux.Handle("GET /metrics", a.metrics.handler())
	// Channel webhooks and buyer pages: no Strait auth, the connector checks
	// the channel's signature.
	connectorRoute := a.metrics.instrument("connectors", http.HandlerFunc(a.Connectors.ForwardHTTP))
	mux.Handle("/connectors/{name}", connectorRoute)
	mux.Handle("/connectors/{name}/{rest...}", connectorRoute)
	if a.Config.Dev {
		a.graphiqlRoutes(mux)
	}
	return a.requestContext(a.recoverPanics(a.cors(mux)))
}

func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.ready(ctx); err != nil {
		a.Log.WarnContext(ctx, "not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type requestIDKey struct{}

// RequestID returns the request's ID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestContext gives every request an ID (echoed in X-Request-Id and carried
// by every log line and audit entry) and its deadline (RequestTimeout; none
// for a websocket), and logs it when done.
func (a *App) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = "req_" + hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		remote := clientAddr(r, a.Config.TrustedProxies)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = audit.WithRequest(ctx, audit.Request{ID: id, RemoteAddr: remote})
		if a.Config.RequestTimeout > 0 && !isWebsocketUpgrade(r) {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, a.Config.RequestTimeout)
			defer cancel()
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(ctx))
		a.Log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.code), slog.Duration("duration", time.Since(start)), slog.String("remote", remote))
	})
}

// recoverPanics turns a panic outside gqlgen (gqlgen recovers its own) into a
// coded 500 without a stack trace for the caller; the stack goes to the log.
func (a *App) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.Log.ErrorContext(r.Context(), "panic", "panic", p, "stack", string(debug.Stack()))
				writeGraphQLError(w, http.StatusInternalServerError, graph.CodeInternal, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requireAuth authenticates the caller from "Authorization: Bearer …" (a JWT
// or an API key secret). A request without credentials is refused before
// GraphQL runs, except a websocket upgrade, which may authenticate in its
// connection_init payload.
func (a *App) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		header := r.Header.Get("Authorization")
		if header == "" && isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		v, err := a.authenticate(r.Context(), header)
		if payments.ErrorCode(err) == payments.EUNAVAILABLE {
			// The credential could not be checked, not found bad: a client
			// that got 401 would drop a good key.
			w.Header().Set("Retry-After", strconv.Itoa(graph.RetryAfterSeconds))
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []map[string]any{{
				"message":    payments.ErrorMessage(err),
				"extensions": map[string]any{"code": graph.CodeUnavailable, "retryAfter": graph.RetryAfterSeconds},
			}}})
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="strait"`)
			writeGraphQLError(w, http.StatusUnauthorized, graph.CodeUnauthenticated, payments.ErrorMessage(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(viewer.NewContext(r.Context(), v)))
	})
}

// authenticate resolves an Authorization header value to a viewer. Returns an
// EUNAUTHORIZED error for anything that is not a valid credential, and
// EUNAVAILABLE when an API key could not be looked up (the database).
func (a *App) authenticate(ctx context.Context, header string) (viewer.Viewer, error) {
	fail := func(kind, msg string) (viewer.Viewer, error) {
		a.metrics.authFails.WithLabelValues(kind).Inc()
		return viewer.Viewer{}, payments.Errorf(payments.EUNAUTHORIZED, "%s", msg)
	}
	if header == "" {
		return fail("missing", "authentication required: send Authorization: Bearer <token>")
	}
	if len(header) > maxCredentialLen {
		return fail("oversized", "credential too large")
	}
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return fail("malformed", "use Authorization: Bearer <token>")
	}
	if strings.HasPrefix(cred, "sk_") {
		v, err := a.Tenancy.AuthenticateAPIKey(ctx, cred)
		if err != nil {
			if payments.ErrorCode(err) != payments.EUNAUTHORIZED {
				a.Log.WarnContext(ctx, "api key lookup failed", "err", err)
				return viewer.Viewer{}, &payments.Error{Code: payments.EUNAVAILABLE,
					Message: "could not verify the API key now; try again", Err: err}
			}
			return fail("api_key", payments.ErrorMessage(err))
		}
		return v, nil
	}
	v, err := a.Tokens.Verify(cred)
	if err != nil {
		return fail("jwt", payments.ErrorMessage(err))
	}
	if v.Kind == viewer.MerchantUser {
		// A disabled user's tokens stop at once, on every replica: one
		// primary-key read, as an API key's lookup.
		active, err := a.Tenancy.UserActive(ctx, v.Subject)
		if err != nil {
			a.Log.WarnContext(ctx, "merchant user lookup failed", "err", err)
			return viewer.Viewer{}, &payments.Error{Code: payments.EUNAVAILABLE,
				Message: "could not verify the user now; try again", Err: err}
		}
		if !active {
			return fail("disabled", "this user is disabled")
		}
	}
	return v, nil
}

func isWebsocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// strait's own request headers, which browsers may always send.
var straitRequestHeaders = []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"}

// cors answers browsers from the configured origins only, allowing Strait's
// own request headers and CORSHeaders. Every answer carries Vary: Origin: an
// answer to one origin must not be cached for another.
func (a *App) cors(next http.Handler) http.Handler {
	allowHeaders := strings.Join(append(slices.Clone(straitRequestHeaders), a.Config.CORSHeaders...), ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin != "" && slices.Contains(a.Config.CORSOrigins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Headers", allowHeaders)
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Expose-Headers", "Idempotent-Replayed, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// compressMinSize is the smallest /graphql answer worth compressing: below a
// kilobyte gzip's header and the CPU cost outweigh the bytes saved.
const compressMinSize = 1024

// compressAnswers gzips /graphql answers of compressMinSize bytes or more for
// clients that accept gzip; websocket upgrades pass untouched.
func compressAnswers(next http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(compressMinSize),
		gzhttp.ContentTypes([]string{mediaJSON, mediaGraphQLResponse}))
	if err != nil {
		panic(err) // fixed options: a programming error
	}
	gz := wrap(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		gz.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeGraphQLError answers in the GraphQL response shape, so clients handle
// transport-level refusals like any other error.
func writeGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]string{"code": code}}},
	})
}
