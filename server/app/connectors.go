package app

import (
	"errors"
	"io"
	"net/http"

	"github.com/straitpay/strait/connectors"
)

// maxConnectorBody caps a request forwarded to a connector. Channel webhooks
// and buyer-page forms are a few KiB; 1 MiB leaves room for a batched
// notification and stays far below the 16 MiB plugin message limit.
const maxConnectorBody = 1 << 20

// hopHeaders are connection-level headers that describe this hop, not the
// connector's answer; net/http sets its own.
var hopHeaders = []string{"Connection", "Content-Length", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Trailer"}

// connectorHTTP forwards /connectors/{name}/{rest...} to the connector's
// HandleHTTP: channel webhooks and buyer-facing pages. Strait does not
// authenticate these requests; the connector verifies the channel's
// signature. The events a verified webhook carries are stored (Inbox) before
// the answer goes back, so a 2xx means the notification is durable.
func (a *App) connectorHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := a.Connectors.Get(name)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no connector named " + quoteName(name)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConnectorBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large"})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "could not read the body"})
		return
	}
	resp, err := c.HandleHTTP(r.Context(), connectors.HTTPRequest{
		Method: r.Method, Path: "/" + r.PathValue("rest"), Query: r.URL.RawQuery, Headers: r.Header.Clone(), Body: body,
	})
	if err != nil {
		a.Log.WarnContext(r.Context(), "connector request failed", "connector", name, "path", r.URL.Path,
			"status", resp.Status, "err", err, "request_id", RequestID(r.Context()))
	}
	if resp.Status < 100 || resp.Status > 999 {
		resp.Status = http.StatusBadGateway
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h[http.CanonicalHeaderKey(k)] = v
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// quoteName quotes a connector name from a URL for an error message, cut
// short so a long path is not echoed back whole.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}
