package host

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/internal/wire"
	pb "github.com/straitpay/strait/connectors/proto/connectorv1"
)

// proxy is the connectors.Connector the payment core holds. It never
// retries: a call whose outcome is unknown comes back as OutcomeUnknown
// with an EUNKNOWN error, to be resolved through QueryPayment.
type proxy struct{ in *instance }

var _ connectors.Connector = (*proxy)(nil)

func unavailable(format string, args ...any) (connectors.Outcome, error) {
	return connectors.OutcomeError, connectors.Errorf(connectors.EUNAVAILABLE, format, args...)
}

// invoke runs one call with the deadline, circuit breaker, metrics and
// outcome classification every call shares. resultOf extracts the
// business result, nil for calls that have none.
func invoke[Resp any](in *instance, ctx context.Context, op string,
	fn func(context.Context, pb.ConnectorClient) (Resp, error), resultOf func(Resp) *pb.Result) (Resp, connectors.Outcome, error) {
	var zero Resp
	name := in.entry.Name
	// A disabled connector takes no payment calls, but the channel's
	// webhooks and buyer pages still reach it: the notifications of payments
	// already made must not bounce.
	if op != "http" && !in.enabled.Load() {
		o, err := unavailable("%s %s: connector disabled", name, op)
		return zero, o, err
	}
	in.mu.RLock()
	rpc, process := in.rpc, in.client
	in.mu.RUnlock()
	if rpc == nil {
		o, err := unavailable("%s %s: connector not running", name, op)
		return zero, o, err
	}
	if !in.breaker.allow() {
		o, err := unavailable("%s %s: circuit open", name, op)
		return zero, o, err
	}
	ctx, cancel := context.WithTimeout(ctx, in.m.cfg.CallTimeout)
	defer cancel()
	start := time.Now()
	resp, err := fn(ctx, rpc)
	rawErr := err
	elapsed := time.Since(start)
	in.m.metrics.latency.WithLabelValues(name, op).Observe(elapsed.Seconds())

	outcome := connectors.OutcomeApproved
	if err != nil {
		outcome, err = wire.FromStatus(name+" "+op, err)
		in.m.metrics.errors.WithLabelValues(name, op, connectors.ErrorCode(err)).Inc()
		if outcome == connectors.OutcomeUnknown {
			in.log.Warn("connector call outcome unknown", "op", op, "err", err, "elapsed", elapsed)
		}
	} else if resultOf != nil {
		outcome = wire.ResultFromPB(resultOf(resp)).Outcome
	}
	code := connectors.ErrorCode(err)
	failed := outcome == connectors.OutcomeUnknown ||
		(outcome == connectors.OutcomeError && code != connectors.EINVALID && code != connectors.EUNSUPPORTED)
	switch {
	case failed && cutByCrash(ctx, rawErr, process):
		// The plugin's process died under the call: the supervisor restarts
		// it, and the channel has not failed. The call's outcome is still
		// unknown to the caller, but it neither opens the circuit nor
		// counts in the error rate, so a restarted plugin takes payments
		// at once.
		in.log.Warn("connector call cut by the plugin's crash", "op", op, "elapsed", elapsed)
		in.breaker.forget()
		failed = false
	default:
		in.breaker.record(failed)
	}
	in.m.metrics.circuit.WithLabelValues(name).Set(circuitValue(in.breaker.current()))
	in.window.add(elapsed, failed)
	in.m.metrics.calls.WithLabelValues(name, op, outcome.String()).Inc()
	if err != nil {
		return zero, outcome, err
	}
	return resp, outcome, nil
}

// crashWait bounds how long a call cut from its plugin waits to see the
// process gone: the exit is reaped a few milliseconds after the connection
// drops.
const crashWait = 500 * time.Millisecond

// cutByCrash reports whether err, the raw gRPC error of a call made with
// ctx, is the connection to the plugin lost because its process exited (a
// crash, a kill), as opposed to an error the plugin answered, a deadline or
// a caller who gave up.
func cutByCrash(ctx context.Context, err error, process *plugin.Client) bool {
	if err == nil || process == nil || ctx.Err() != nil {
		return false
	}
	st, _ := status.FromError(err)
	if len(st.Details()) > 0 || (st.Code() != codes.Unavailable && st.Code() != codes.Canceled) {
		return false // the plugin answered, or the call ran out of time
	}
	deadline := time.Now().Add(crashWait)
	for !process.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// failure is the Result that accompanies an error.
func failure(o connectors.Outcome, err error) connectors.Result {
	if o == connectors.OutcomeUnknown {
		return connectors.Unknown(err.Error())
	}
	code := connectors.ErrorCode(err)
	return connectors.Failed(code == connectors.EUNAVAILABLE, code, err.Error())
}

func (p *proxy) Describe(ctx context.Context) (connectors.Descriptor, error) {
	r, _, err := invoke(p.in, ctx, "describe", func(ctx context.Context, c pb.ConnectorClient) (*pb.DescribeResponse, error) {
		return c.Describe(ctx, &pb.DescribeRequest{})
	}, nil)
	if err != nil {
		return connectors.Descriptor{}, err
	}
	return wire.DescriptorFromPB(r), nil
}

// Configure is refused: the host configures plugins from the manifest on
// every start, so a configuration set here would be lost on a restart.
func (p *proxy) Configure(context.Context, connectors.Config) error {
	return connectors.Errorf(connectors.EUNSUPPORTED, "%s: configure through the manifest", p.in.entry.Name)
}

func (p *proxy) Authorize(ctx context.Context, req connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	r, o, err := invoke(p.in, ctx, "authorize", func(ctx context.Context, c pb.ConnectorClient) (*pb.AuthorizeResponse, error) {
		return c.Authorize(ctx, wire.AuthorizeRequestToPB(req))
	}, (*pb.AuthorizeResponse).GetResult)
	if err != nil {
		return connectors.AuthorizeResponse{Result: failure(o, err)}, err
	}
	return wire.AuthorizeResponseFromPB(r), nil
}

func (p *proxy) Capture(ctx context.Context, req connectors.CaptureRequest) (connectors.OperationResponse, error) {
	return p.operation(ctx, "capture", func(ctx context.Context, c pb.ConnectorClient) (*pb.OperationResponse, error) {
		return c.Capture(ctx, wire.CaptureRequestToPB(req))
	})
}

func (p *proxy) Void(ctx context.Context, req connectors.VoidRequest) (connectors.OperationResponse, error) {
	return p.operation(ctx, "void", func(ctx context.Context, c pb.ConnectorClient) (*pb.OperationResponse, error) {
		return c.Void(ctx, wire.VoidRequestToPB(req))
	})
}

func (p *proxy) Refund(ctx context.Context, req connectors.RefundRequest) (connectors.OperationResponse, error) {
	return p.operation(ctx, "refund", func(ctx context.Context, c pb.ConnectorClient) (*pb.OperationResponse, error) {
		return c.Refund(ctx, wire.RefundRequestToPB(req))
	})
}

func (p *proxy) Payout(ctx context.Context, req connectors.PayoutRequest) (connectors.OperationResponse, error) {
	return p.operation(ctx, "payout", func(ctx context.Context, c pb.ConnectorClient) (*pb.OperationResponse, error) {
		return c.Payout(ctx, wire.PayoutToPB(req))
	})
}

func (p *proxy) operation(ctx context.Context, op string, fn func(context.Context, pb.ConnectorClient) (*pb.OperationResponse, error)) (connectors.OperationResponse, error) {
	r, o, err := invoke(p.in, ctx, op, fn, (*pb.OperationResponse).GetResult)
	if err != nil {
		return connectors.OperationResponse{Result: failure(o, err)}, err
	}
	return wire.OperationFromPB(r), nil
}

func (p *proxy) QueryPayment(ctx context.Context, req connectors.QueryPaymentRequest) (connectors.PaymentStatus, error) {
	r, o, err := invoke(p.in, ctx, "query_payment", func(ctx context.Context, c pb.ConnectorClient) (*pb.PaymentStatus, error) {
		return c.QueryPayment(ctx, wire.QueryPaymentToPB(req))
	}, (*pb.PaymentStatus).GetResult)
	if err != nil {
		return connectors.PaymentStatus{Result: failure(o, err)}, err
	}
	return wire.PaymentStatusFromPB(r), nil
}

func (p *proxy) agreement(ctx context.Context, op string, fn func(context.Context, pb.ConnectorClient) (*pb.AgreementResponse, error)) (connectors.AgreementResponse, error) {
	r, o, err := invoke(p.in, ctx, op, fn, (*pb.AgreementResponse).GetResult)
	if err != nil {
		return connectors.AgreementResponse{Result: failure(o, err)}, err
	}
	return wire.AgreementFromPB(r), nil
}

func (p *proxy) SignAgreement(ctx context.Context, req connectors.SignAgreementRequest) (connectors.AgreementResponse, error) {
	return p.agreement(ctx, "sign_agreement", func(ctx context.Context, c pb.ConnectorClient) (*pb.AgreementResponse, error) {
		return c.SignAgreement(ctx, wire.SignAgreementToPB(req))
	})
}

func (p *proxy) TerminateAgreement(ctx context.Context, req connectors.TerminateAgreementRequest) (connectors.AgreementResponse, error) {
	return p.agreement(ctx, "terminate_agreement", func(ctx context.Context, c pb.ConnectorClient) (*pb.AgreementResponse, error) {
		return c.TerminateAgreement(ctx, wire.TerminateAgreementToPB(req))
	})
}

func (p *proxy) QueryAgreement(ctx context.Context, req connectors.QueryAgreementRequest) (connectors.AgreementResponse, error) {
	return p.agreement(ctx, "query_agreement", func(ctx context.Context, c pb.ConnectorClient) (*pb.AgreementResponse, error) {
		return c.QueryAgreement(ctx, wire.QueryAgreementToPB(req))
	})
}

func (p *proxy) QueryBalance(ctx context.Context, req connectors.BalanceRequest) (connectors.BalanceResponse, error) {
	r, o, err := invoke(p.in, ctx, "query_balance", func(ctx context.Context, c pb.ConnectorClient) (*pb.BalanceResponse, error) {
		return c.QueryBalance(ctx, &pb.BalanceRequest{Currency: req.Currency})
	}, (*pb.BalanceResponse).GetResult)
	if err != nil {
		return connectors.BalanceResponse{Result: failure(o, err)}, err
	}
	return wire.BalanceFromPB(r), nil
}

func (p *proxy) dispute(ctx context.Context, op string, fn func(context.Context, pb.ConnectorClient) (*pb.DisputeResponse, error)) (connectors.DisputeResponse, error) {
	r, o, err := invoke(p.in, ctx, op, fn, (*pb.DisputeResponse).GetResult)
	if err != nil {
		return connectors.DisputeResponse{Result: failure(o, err)}, err
	}
	return wire.DisputeResponseFromPB(r), nil
}

func (p *proxy) SubmitDisputeEvidence(ctx context.Context, req connectors.SubmitDisputeEvidenceRequest) (connectors.DisputeResponse, error) {
	return p.dispute(ctx, "submit_dispute_evidence", func(ctx context.Context, c pb.ConnectorClient) (*pb.DisputeResponse, error) {
		return c.SubmitDisputeEvidence(ctx, wire.SubmitDisputeEvidenceToPB(req))
	})
}

func (p *proxy) AcceptDispute(ctx context.Context, req connectors.AcceptDisputeRequest) (connectors.DisputeResponse, error) {
	return p.dispute(ctx, "accept_dispute", func(ctx context.Context, c pb.ConnectorClient) (*pb.DisputeResponse, error) {
		return c.AcceptDispute(ctx, &pb.AcceptDisputeRequest{IdempotencyKey: req.IdempotencyKey, DisputeId: req.DisputeID})
	})
}

func (p *proxy) FetchDispute(ctx context.Context, req connectors.FetchDisputeRequest) (connectors.DisputeResponse, error) {
	return p.dispute(ctx, "fetch_dispute", func(ctx context.Context, c pb.ConnectorClient) (*pb.DisputeResponse, error) {
		return c.FetchDispute(ctx, &pb.FetchDisputeRequest{DisputeId: req.DisputeID})
	})
}

func (p *proxy) FetchSettlementReport(ctx context.Context, req connectors.SettlementReportRequest) (connectors.SettlementReport, error) {
	r, o, err := invoke(p.in, ctx, "settlement_report", func(ctx context.Context, c pb.ConnectorClient) (*pb.SettlementReport, error) {
		return c.FetchSettlementReport(ctx, &pb.SettlementReportRequest{Date: req.Date, PageSize: int32(req.PageSize), PageToken: req.PageToken})
	}, (*pb.SettlementReport).GetResult)
	if err != nil {
		return connectors.SettlementReport{Result: failure(o, err)}, err
	}
	return wire.SettlementFromPB(r), nil
}

func (p *proxy) GetRates(ctx context.Context, req connectors.RatesRequest) (connectors.RatesResponse, error) {
	r, o, err := invoke(p.in, ctx, "rates", func(ctx context.Context, c pb.ConnectorClient) (*pb.RatesResponse, error) {
		return c.GetRates(ctx, &pb.RatesRequest{Base: req.Base, Quotes: req.Quotes})
	}, (*pb.RatesResponse).GetResult)
	if err != nil {
		return connectors.RatesResponse{Result: failure(o, err)}, err
	}
	return wire.RatesFromPB(r), nil
}

// HandleHTTP forwards the request and delivers the events the answer
// carries before returning it. If delivery fails, the answer becomes a
// 503 so the channel keeps the notification and sends it again.
func (p *proxy) HandleHTTP(ctx context.Context, req connectors.HTTPRequest) (connectors.HTTPResponse, error) {
	r, _, err := invoke(p.in, ctx, "http", func(ctx context.Context, c pb.ConnectorClient) (*pb.HTTPResponse, error) {
		return c.HandleHTTP(ctx, wire.HTTPRequestToPB(req))
	}, nil)
	if err != nil {
		return connectors.HTTPResponse{Status: http.StatusBadGateway, Body: []byte("connector unavailable\n")}, err
	}
	resp := wire.HTTPResponseFromPB(r)
	for _, ev := range resp.Events {
		if err := p.in.m.deliver(ctx, p.in.entry.Name, ev); err != nil {
			return connectors.HTTPResponse{Status: http.StatusServiceUnavailable, Body: []byte("try again later\n")}, err
		}
	}
	return resp, nil
}
