package app

import (
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/straitpay/strait/graph"
)

// parserTokenLimit bounds the tokens the parser reads from one document: a
// large dashboard query is a few hundred, so 2,000 leaves room while making
// thousands of aliases fail before validation.
const parserTokenLimit = 2000

// maxBodyBytes caps a GraphQL request body; no legitimate operation with its
// variables is near 256 KiB.
const maxBodyBytes = 256 << 10

// newGraphQLServer builds the hardened gqlgen handler: POST, GET for queries
// only, and graphql-transport-ws websockets on the same path. exts are used
// last, inside the metrics, in order.
func newGraphQLServer(es graphql.ExecutableSchema, a *App, exts ...graphql.HandlerExtension) *handler.Server {
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		InitTimeout:           a.Config.WSInitTimeout,
		Implementation: wsImplementation{
			accept:  websocket.AcceptOptions{OriginPatterns: a.Config.CORSOrigins},
			maxSubs: a.Config.WSMaxSubscriptions,
		},
		InitFunc: a.initSocket,
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(parserTokenLimit)
	srv.SetErrorPresenter(graph.ErrorPresenter(a.Log))
	srv.SetRecoverFunc(graph.Recover(a.Log))
	if a.Config.Dev {
		srv.Use(extension.Introspection{})
	} else {
		// "Did you mean …?" hints outside dev would describe the schema to a
		// caller that is not allowed to introspect it.
		srv.SetDisableSuggestion(true)
	}
	srv.Use(graph.DefaultLimits) // after Introspection: it refuses introspection when off
	srv.Use(graphqlMetrics{a.metrics})
	for _, ext := range exts {
		srv.Use(ext)
	}
	return srv
}

// queriesOnlyOverGET refuses mutations and subscriptions sent with GET, with a
// coded error (gqlgen's own refusal carries no code). GET requests are
// cacheable and loggable by proxies; state changes never ride on them.
func queriesOnlyOverGET(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && !isWebsocketUpgrade(r) {
			doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: r.URL.Query().Get("query")}, parserTokenLimit)
			if err == nil {
				for _, op := range doc.Operations {
					if op.Operation != ast.Query {
						writeGraphQLError(w, http.StatusMethodNotAllowed, graph.CodeBadUserInput, "GET carries queries only; send mutations with POST")
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// markReplays sets the Idempotent-Replayed header on replayed answers.
func markReplays(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := graph.WithReplayNotice(r.Context(), func() { w.Header().Set(graph.ReplayedHeader, "true") })
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// limitBody caps the request body before gqlgen reads it.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}
