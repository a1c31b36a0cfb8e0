package app

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/straitpay/strait/graph"
)

// parserTokenLimit bounds the tokens the parser reads from one document: a
// large dashboard query is a few hundred, so 2,000 leaves room while making
// thousands of aliases fail before validation.
const parserTokenLimit = 2000

// maxBodyBytes caps a GraphQL request body; no legitimate operation with its
// variables is near 256 KiB.
const maxBodyBytes = 256 << 10

// newGraphQLServer builds the hardened gqlgen handler: GraphQL over HTTP (GET
// for queries only, POST; overHTTP) and graphql-transport-ws websockets on the
// same path. exts are used last, inside the metrics, in order.
func newGraphQLServer(es graphql.ExecutableSchema, a *App, exts ...graphql.HandlerExtension) *handler.Server {
	srv := handler.New(es)
	srv.AddTransport(newWebsocketTransport(a))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(overHTTP{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(parserTokenLimit)
	presenter := graph.ErrorPresenter(a.Log)
	if a.Config.Dev {
		srv.Use(extension.Introspection{})
	} else {
		// "Did you mean …?" hints outside dev would describe the schema to a
		// caller that is not allowed to introspect it. gqlparser's switch
		// covers fields and types; the presenter strips the rest (input
		// fields, enum values, argument names).
		srv.SetDisableSuggestion(true)
		presenter = graph.WithoutSuggestions(presenter)
	}
	srv.SetErrorPresenter(presenter)
	srv.SetRecoverFunc(graph.Recover(a.Log))
	srv.Use(persistedQueries(a))
	srv.Use(graph.DefaultLimits) // after Introspection: it refuses introspection when off
	srv.Use(graphqlMetrics{a.metrics})
	for _, ext := range exts {
		srv.Use(ext)
	}
	return srv
}

// persistedQueries is the extension that turns a persisted operation's ID into
// its document: the operators' allow-list when STRAIT_PERSISTED_OPERATIONS is
// set (only its operations are served), automatic persisted queries otherwise
// (Apollo's protocol over a per-replica LRU of APQCacheSize documents, each
// stored under its verified sha256).
func persistedQueries(a *App) graphql.HandlerExtension {
	if path := a.Config.PersistedOperations; path != "" {
		list, err := graph.LoadPersistedOperations(path)
		if err != nil {
			// ParseConfig loaded it a moment ago; fail closed, never open.
			a.Log.Error("persisted operations unreadable: refusing every operation", "err", err)
			list = &graph.PersistedOperations{}
		}
		return list
	}
	if a.Config.APQCacheSize == 0 {
		return graph.RefuseDocumentIDs{}
	}
	return apq{extension.AutomaticPersistedQuery{Cache: lru.New[string](a.Config.APQCacheSize)}}
}

// apq is gqlgen's automatic persisted queries that also refuses the documentId
// and doc_id of the allow-list protocol, which it would otherwise ignore.
type apq struct {
	extension.AutomaticPersistedQuery
}

func (q apq) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if err := (graph.RefuseDocumentIDs{}).MutateOperationParameters(ctx, params); err != nil {
		return err
	}
	return q.AutomaticPersistedQuery.MutateOperationParameters(ctx, params)
}

// markReplays sets the Idempotent-Replayed header on replayed answers. A
// websocket has no header to set after its upgrade, and its context lives
// as long as the socket: it must not hold the upgrade's ResponseWriter
// (and with it net/http's connection and its 8 KiB of buffers).
func markReplays(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := graph.WithReplayNotice(r.Context(), func() { w.Header().Set(graph.ReplayedHeader, "true") })
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// limitBody caps the request body before gqlgen reads it.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxBodyBytes)
		if isMultipart(r) {
			limit = maxUploadBytes
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}
