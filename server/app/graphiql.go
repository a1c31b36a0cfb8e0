package app

import (
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
)

// graphiqlAssets are GraphiQL's and React's browser builds, vendored from npm
// by clients/scripts/vendor-graphiql.sh (versions and licenses beside them):
// dev mode's GraphiQL works without internet access.
//
//go:embed graphiql
var graphiqlAssets embed.FS

// graphiqlPage is dev mode's GraphiQL. The dev operator token is pre-filled in
// its headers editor, so the first query just works.
var graphiqlPage = template.Must(template.New("graphiql").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strait GraphiQL</title>
<link rel="stylesheet" href="/graphiql/graphiql.min.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/react.production.min.js"></script>
<script src="/graphiql/react-dom.production.min.js"></script>
<script src="/graphiql/graphiql.min.js"></script>
<script>
const fetcher = GraphiQL.createFetcher({ url: new URL("/graphql", location.href).toString(), subscriptionUrl: new URL("/graphql", location.href).toString().replace(/^http/, "ws") });
ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQL, {
  fetcher,
  defaultHeaders: {{.Headers}},
  defaultQuery: "# The dev operator token is in Headers below.\n{\n  viewer {\n    principal\n    subject\n  }\n}\n",
  shouldPersistHeaders: false,
}));
</script>
</body>
</html>
`))

// graphiqlRoutes serves the GraphiQL page at / and its assets under /graphiql/.
func (a *App) graphiqlRoutes(mux *http.ServeMux) {
	mux.Handle("GET /graphiql/", http.FileServerFS(graphiqlAssets))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		headers := "{}"
		// Minted per page load, like SeedDev's: dev mode only, never stale.
		if tok, err := a.Tokens.Mint(devOperator, devTokenLifetime); err == nil {
			b, _ := json.MarshalIndent(map[string]string{"Authorization": "Bearer " + tok}, "", "  ")
			headers = string(b)
		} else {
			a.Log.Warn("graphiql: no dev token", "err", err)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = graphiqlPage.Execute(w, map[string]any{"Headers": headers})
	})
}
