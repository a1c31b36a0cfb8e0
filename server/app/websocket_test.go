package app_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/server/app"
)

// TestWebsocketTransport speaks graphql-transport-ws on /graphql: the token
// rides in connection_init, an operation runs, and a connection without a
// valid token is refused.
func TestWebsocketTransport(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	srv := httptest.NewServer(e.app.Handler())
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"

	dial := func(t *testing.T, token string) (*websocket.Conn, context.Context) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		payload := map[string]any{}
		if token != "" {
			payload["Authorization"] = "Bearer " + token
		}
		if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": payload}); err != nil {
			t.Fatal(err)
		}
		return c, ctx
	}

	t.Run("authenticated in connection_init", func(t *testing.T) {
		c, ctx := dial(t, e.tokens["MERCHANT_ADMIN"])
		var ack map[string]any
		if err := wsjson.Read(ctx, c, &ack); err != nil || ack["type"] != "connection_ack" {
			t.Fatalf("ack: %v %v", ack, err)
		}
		err := wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe",
			"payload": map[string]any{"query": "{ viewer { principal } }"}})
		if err != nil {
			t.Fatal(err)
		}
		var next struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := wsjson.Read(ctx, c, &next); err != nil {
			t.Fatal(err)
		}
		if next.Type != "next" || !strings.Contains(string(next.Payload), "MERCHANT_ADMIN") {
			t.Fatalf("got %s %s", next.Type, next.Payload)
		}
	})
	t.Run("refused without a valid token", func(t *testing.T) {
		c, ctx := dial(t, "not-a-token")
		var msg map[string]any
		err := wsjson.Read(ctx, c, &msg)
		if err == nil && msg["type"] == "connection_ack" {
			t.Fatalf("acknowledged a bad token: %v", msg)
		}
	})
}

// TestWebsocketOutlivesTheRequestTimeout: a websocket carries subscriptions
// for as long as the client keeps it, so STRAIT_REQUEST_TIMEOUT does not end
// it; a plain request gets its deadline.
func TestWebsocketOutlivesTheRequestTimeout(t *testing.T) {
	const bound = 200 * time.Millisecond
	e := newEnvWith(t, storetest.Open(t, "sqlite"), func(cfg *app.Config, _ *app.Options) { cfg.RequestTimeout = bound })
	srv := httptest.NewServer(e.app.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var ack map[string]any
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init",
		"payload": map[string]any{"Authorization": "Bearer " + e.tokens["MERCHANT_ADMIN"]}}); err != nil {
		t.Fatal(err)
	}
	if err := wsjson.Read(ctx, c, &ack); err != nil || ack["type"] != "connection_ack" {
		t.Fatalf("ack: %v %v", ack, err)
	}
	time.Sleep(3 * bound)
	if err := wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe",
		"payload": map[string]any{"query": "{ viewer { principal } }"}}); err != nil {
		t.Fatal(err)
	}
	var next struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := wsjson.Read(ctx, c, &next); err != nil || next.Type != "next" || !strings.Contains(string(next.Payload), "MERCHANT_ADMIN") {
		t.Fatalf("after %s: %s %s %v", 3*bound, next.Type, next.Payload, err)
	}
}
