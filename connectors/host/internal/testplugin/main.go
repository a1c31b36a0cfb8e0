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
	byKey  map[string]*payment
	byID   map[string]*payment
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
	sdk.Logger().Info("testplugin configured", "keys", len(cfg))
	return nil
}

// payment is the test plugin's memory of a payment: enough state for the
// conformance kit's replay, capture, void and refund checks.
type payment struct {
	id, ref                    string
	amount                     connectors.Money
	captured, refunded, voided int64
	isVoided                   bool
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
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.byKey["auth/"+r.IdempotencyKey]; ok {
		return connectors.AuthorizeResponse{Result: connectors.Approved(), PaymentID: p.id, Amount: p.amount}, nil
	}
	p := &payment{id: "tp_" + r.Reference, ref: r.Reference, amount: r.Amount}
	if r.Capture {
		p.captured = r.Amount.Minor
	}
	t.byKey["auth/"+r.IdempotencyKey] = p
	t.byID[p.id] = p
	return connectors.AuthorizeResponse{Result: connectors.Approved(), PaymentID: p.id, Amount: p.amount}, nil
}

func (t *testConnector) lookup(id string) (*payment, connectors.Result) {
	p, ok := t.byID[id]
	if !ok {
		return nil, connectors.Declined(connectors.DeclineHard, "not_found", "no such payment")
	}
	return p, connectors.Approved()
}

func (t *testConnector) Capture(_ context.Context, r connectors.CaptureRequest) (connectors.OperationResponse, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, res := t.lookup(r.PaymentID)
	switch {
	case p == nil:
		return connectors.OperationResponse{Result: res}, nil
	case t.byKey["cap/"+r.IdempotencyKey] == p:
	case p.isVoided || p.captured > 0 || r.Amount.Minor > p.amount.Minor:
		return connectors.OperationResponse{Result: connectors.Declined(connectors.DeclineHard, "invalid_state", "")}, nil
	default:
		p.captured = r.Amount.Minor
		t.byKey["cap/"+r.IdempotencyKey] = p
	}
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "cap_" + p.id, Amount: r.Amount}, nil
}

func (t *testConnector) Void(_ context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, res := t.lookup(r.PaymentID)
	if p == nil || p.captured > 0 {
		return connectors.OperationResponse{Result: connectors.Declined(connectors.DeclineHard, "invalid_state", res.Message)}, nil
	}
	p.isVoided = true
	return connectors.OperationResponse{Result: connectors.Approved(), ID: r.PaymentID}, nil
}

func (t *testConnector) Refund(_ context.Context, r connectors.RefundRequest) (connectors.OperationResponse, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, res := t.lookup(r.PaymentID)
	switch {
	case p == nil:
		return connectors.OperationResponse{Result: res}, nil
	case t.byKey["ref/"+r.IdempotencyKey] == p:
	case p.refunded+r.Amount.Minor > p.captured:
		return connectors.OperationResponse{Result: connectors.Declined(connectors.DeclineHard, "amount_exceeds_refundable", "")}, nil
	default:
		p.refunded += r.Amount.Minor
		t.byKey["ref/"+r.IdempotencyKey] = p
	}
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "ref_" + p.id, Amount: r.Amount}, nil
}

func (t *testConnector) QueryPayment(_ context.Context, r connectors.QueryPaymentRequest) (connectors.PaymentStatus, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := r.PaymentID
	if id == "" {
		id = "tp_" + r.Reference
	}
	p, res := t.lookup(id)
	if p == nil {
		return connectors.PaymentStatus{Result: res}, nil
	}
	cur := p.amount.Currency
	return connectors.PaymentStatus{Result: connectors.Approved(), PaymentID: p.id, Reference: p.ref, Status: "authorized",
		Amount: p.amount, Captured: connectors.Money{Minor: p.captured, Currency: cur}, Refunded: connectors.Money{Minor: p.refunded, Currency: cur},
		Voided: p.isVoided}, nil
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
		if r.Headers.Get("X-Signature") != "v1=good" {
			return connectors.HTTPResponse{Status: http.StatusUnauthorized}, nil
		}
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
	sdk.Serve(&testConnector{events: em, byKey: map[string]*payment{}, byID: map[string]*payment{}}, sdk.WithEmitter(em), sdk.WithLogLevel("debug"))
}
