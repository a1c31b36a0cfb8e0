package host

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/straitpay/strait/connectors"
)

// maxForwardBody caps a request forwarded to a connector. Channel webhooks
// and buyer-page forms are a few KiB; 1 MiB leaves room for a batched
// notification and stays far below the 16 MiB plugin message limit.
const maxForwardBody = 1 << 20

// hopHeaders are connection-level headers that describe this hop, not the
// connector's answer; net/http sets its own.
var hopHeaders = []string{"Connection", "Content-Length", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Trailer"}

// ForwardHTTP serves /connectors/{name}/{rest…} by handing the request to the
// named connector's HandleHTTP: channel webhooks and buyer-facing pages.
// Nothing here authenticates the caller; the connector verifies the
// channel's signature. The events a verified webhook carries are stored
// (Config.EventSink) before the answer goes back, so a 2xx means the
// notification is durable. An unknown connector is 404 and a body over 1 MiB
// 413, both as JSON {"error": …}.
func (m *Manager) ForwardHTTP(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/connectors/"), "/")
	c, ok := m.Get(name)
	if !ok {
		writeError(w, http.StatusNotFound, "no connector named "+quoteName(name))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForwardBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		writeError(w, http.StatusBadRequest, "could not read the body")
		return
	}
	resp, err := c.HandleHTTP(r.Context(), connectors.HTTPRequest{
		Method: r.Method, Path: "/" + rest, Query: r.URL.RawQuery, Headers: r.Header.Clone(), Body: body,
	})
	if err != nil {
		m.log.WarnContext(r.Context(), "connector request failed", "connector", name, "path", r.URL.Path,
			"status", resp.Status, "err", err)
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

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
