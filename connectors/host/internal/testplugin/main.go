// Command testplugin is a connector that misbehaves on request, for the
// host's tests. Its behaviour depends on its file name (the tests copy it
// under several names) and on the requests it gets.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/internal/wire"
	"github.com/straitpay/strait/connectors/sdk"
)

type testConnector struct {
	connectors.Unimplemented
	events *sdk.Emitter
	mu     sync.Mutex
	config connectors.Config
}

func (t *testConnector) Describe(context.Context) (connectors.Descriptor, error) {
	return connectors.Descriptor{
		Name: "testplugin", Version: "0.0.1", Kind: connectors.KindCardScheme,
		PaymentMethods: []string{"card"}, Currencies: []string{"USD", "EUR", "JPY"}, Countries: []string{"US"},
		Capabilities: []connectors.Capability{connectors.CapAuthorize, connectors.CapPreauth, connectors.CapRefund,
			connectors.CapQueryPayment, connectors.CapWebhooks, connectors.CapEvents},
	}, nil
}

func (t *testConnector) Configure(_ context.Context, cfg connectors.Config) error {
	if cfg["fail"] == "1" {
		return connectors.Errorf(connectors.EINVALID, "fail=1 in config")
	}
	t.mu.Lock()
	t.config = cfg
	t.mu.Unlock()
	return nil
}

func (t *testConnector) Authorize(ctx context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	switch r.Description {
	case "hang": // ignores its deadline, like a stuck channel client
		time.Sleep(time.Hour)
	case "slow":
		time.Sleep(3 * time.Second)
	case "decline":
		return connectors.AuthorizeResponse{Result: connectors.Declined(connectors.DeclineSoft, "insufficient_funds", "")}, nil
	case "error":
		return connectors.AuthorizeResponse{Result: connectors.Failed(true, "channel_down", "")}, nil
	case "panic":
		panic("test panic")
	}
	return connectors.AuthorizeResponse{Result: connectors.Approved(), PaymentID: "tp_" + r.Reference, Amount: r.Amount}, nil
}

func (t *testConnector) Capture(_ context.Context, r connectors.CaptureRequest) (connectors.OperationResponse, error) {
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "cap_" + r.PaymentID, Amount: r.Amount}, nil
}

func (t *testConnector) Void(_ context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	return connectors.OperationResponse{Result: connectors.Approved(), ID: r.PaymentID}, nil
}

func (t *testConnector) Refund(_ context.Context, r connectors.RefundRequest) (connectors.OperationResponse, error) {
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "ref_" + r.PaymentID, Amount: r.Amount}, nil
}

func (t *testConnector) QueryPayment(_ context.Context, r connectors.QueryPaymentRequest) (connectors.PaymentStatus, error) {
	if r.PaymentID == "tp_missing" {
		return connectors.PaymentStatus{Result: connectors.Declined(connectors.DeclineHard, "not_found", "")}, nil
	}
	return connectors.PaymentStatus{Result: connectors.Approved(), PaymentID: r.PaymentID, Reference: r.Reference, Status: "authorized"}, nil
}

func (t *testConnector) HandleHTTP(_ context.Context, r connectors.HTTPRequest) (connectors.HTTPResponse, error) {
	ok := func(body string) (connectors.HTTPResponse, error) {
		return connectors.HTTPResponse{Status: http.StatusOK, Body: []byte(body)}, nil
	}
	id := strings.TrimPrefix(r.Query, "id=")
	switch r.Path {
	case "/env":
		return ok(strings.Join(os.Environ(), "\n"))
	case "/config":
		t.mu.Lock()
		b, _ := json.Marshal(t.config)
		t.mu.Unlock()
		return ok(string(b))
	case "/pid":
		return ok(fmt.Sprint(os.Getpid()))
	case "/big": // over the 16 MiB message limit
		return ok(strings.Repeat("x", 17<<20))
	case "/emit":
		if err := t.events.Emit(connectors.Event{ID: id, Type: connectors.EventPaymentResult, Result: connectors.Approved()}); err != nil {
			return connectors.HTTPResponse{}, err
		}
		return ok("queued")
	case "/pending":
		return ok(fmt.Sprint(t.events.Pending()))
	case "/webhook":
		return connectors.HTTPResponse{Status: http.StatusOK, Events: []connectors.Event{
			{ID: id, Type: connectors.EventRefundResult, Result: connectors.Approved()},
		}}, nil
	}
	return connectors.HTTPResponse{Status: http.StatusNotFound}, nil
}

func main() {
	name := filepath.Base(os.Args[0])
	switch {
	case strings.Contains(name, "nohandshake"):
		time.Sleep(time.Hour)
	case strings.Contains(name, "garbage"):
		fmt.Println("this is not a go-plugin handshake \x00\xff")
		time.Sleep(time.Hour)
	case strings.Contains(name, "v99"):
		hs := wire.Handshake
		hs.ProtocolVersion = 99
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  hs,
			VersionedPlugins: map[int]plugin.PluginSet{99: {wire.PluginName: &wire.GRPCPlugin{}}},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		return
	}
	em := sdk.NewEmitter()
	sdk.Serve(&testConnector{events: em}, sdk.WithEmitter(em), sdk.WithLogLevel("debug"))
}
