package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/internal/wire"
	pb "github.com/straitpay/strait/connectors/proto/connectorv1"
)

// server adapts a connectors.Connector to the gRPC service. It validates
// every request before the connector sees it, refuses calls before
// Configure, and turns a panic into an EUNKNOWN error instead of a crash.
type server struct {
	pb.UnimplementedConnectorServer
	c          connectors.Connector
	emitter    *Emitter
	log        *slog.Logger
	configured atomic.Bool
}

func newServer(c connectors.Connector, e *Emitter, log *slog.Logger) *server {
	return &server{c: c, emitter: e, log: log}
}

var errNotConfigured = connectors.Errorf(connectors.EUNAVAILABLE, "connector not configured yet")

// call runs fn with the guards every money or query call shares.
func call[Req interface{ Validate() error }, Resp any](s *server, ctx context.Context, op string, req Req,
	fn func(context.Context, Req) (Resp, error)) (resp Resp, err error) {
	if !s.configured.Load() {
		return resp, wire.ToStatus(errNotConfigured)
	}
	if err := req.Validate(); err != nil {
		return resp, wire.ToStatus(fmt.Errorf("%s: %w", op, err))
	}
	defer func() {
		if p := recover(); p != nil {
			// The channel may have been called before the panic.
			s.log.Error("connector panicked", "op", op, "panic", fmt.Sprint(p))
			err = wire.ToStatus(connectors.Errorf(connectors.EUNKNOWN, "%s: connector panicked", op))
		}
	}()
	resp, err = fn(ctx, req)
	if err != nil {
		return resp, wire.ToStatus(fmt.Errorf("%s: %w", op, err))
	}
	return resp, nil
}

type noValidation struct{}

func (noValidation) Validate() error { return nil }

func (s *server) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.c.Describe(ctx)
	if err != nil {
		return nil, wire.ToStatus(fmt.Errorf("describe: %w", err))
	}
	return wire.DescriptorToPB(d), nil
}

func (s *server) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if err := s.c.Configure(ctx, connectors.Config(r.GetConfig())); err != nil {
		return nil, wire.ToStatus(fmt.Errorf("configure: %w", err))
	}
	s.configured.Store(true)
	return &pb.ConfigureResponse{}, nil
}

func (s *server) Authorize(ctx context.Context, r *pb.AuthorizeRequest) (*pb.AuthorizeResponse, error) {
	resp, err := call(s, ctx, "authorize", wire.AuthorizeRequestFromPB(r), s.c.Authorize)
	if err != nil {
		return nil, err
	}
	return wire.AuthorizeResponseToPB(resp), nil
}

func (s *server) Capture(ctx context.Context, r *pb.CaptureRequest) (*pb.OperationResponse, error) {
	resp, err := call(s, ctx, "capture", wire.CaptureRequestFromPB(r), s.c.Capture)
	if err != nil {
		return nil, err
	}
	return wire.OperationToPB(resp), nil
}

func (s *server) Void(ctx context.Context, r *pb.VoidRequest) (*pb.OperationResponse, error) {
	resp, err := call(s, ctx, "void", wire.VoidRequestFromPB(r), s.c.Void)
	if err != nil {
		return nil, err
	}
	return wire.OperationToPB(resp), nil
}

func (s *server) Refund(ctx context.Context, r *pb.RefundRequest) (*pb.OperationResponse, error) {
	resp, err := call(s, ctx, "refund", wire.RefundRequestFromPB(r), s.c.Refund)
	if err != nil {
		return nil, err
	}
	return wire.OperationToPB(resp), nil
}

func (s *server) QueryPayment(ctx context.Context, r *pb.QueryPaymentRequest) (*pb.PaymentStatus, error) {
	resp, err := call(s, ctx, "query payment", wire.QueryPaymentFromPB(r), s.c.QueryPayment)
	if err != nil {
		return nil, err
	}
	return wire.PaymentStatusToPB(resp), nil
}

func (s *server) SignAgreement(ctx context.Context, r *pb.SignAgreementRequest) (*pb.AgreementResponse, error) {
	resp, err := call(s, ctx, "sign agreement", wire.SignAgreementFromPB(r), s.c.SignAgreement)
	if err != nil {
		return nil, err
	}
	return wire.AgreementToPB(resp), nil
}

func (s *server) TerminateAgreement(ctx context.Context, r *pb.TerminateAgreementRequest) (*pb.AgreementResponse, error) {
	resp, err := call(s, ctx, "terminate agreement", wire.TerminateAgreementFromPB(r), s.c.TerminateAgreement)
	if err != nil {
		return nil, err
	}
	return wire.AgreementToPB(resp), nil
}

func (s *server) QueryAgreement(ctx context.Context, r *pb.QueryAgreementRequest) (*pb.AgreementResponse, error) {
	resp, err := call(s, ctx, "query agreement", wire.QueryAgreementFromPB(r), s.c.QueryAgreement)
	if err != nil {
		return nil, err
	}
	return wire.AgreementToPB(resp), nil
}

func (s *server) Payout(ctx context.Context, r *pb.PayoutRequest) (*pb.OperationResponse, error) {
	resp, err := call(s, ctx, "payout", wire.PayoutFromPB(r), s.c.Payout)
	if err != nil {
		return nil, err
	}
	return wire.OperationToPB(resp), nil
}

func (s *server) QueryBalance(ctx context.Context, r *pb.BalanceRequest) (*pb.BalanceResponse, error) {
	resp, err := call(s, ctx, "query balance", connectors.BalanceRequest{Currency: r.GetCurrency()}, s.c.QueryBalance)
	if err != nil {
		return nil, err
	}
	return wire.BalanceToPB(resp), nil
}

func (s *server) SubmitDisputeEvidence(ctx context.Context, r *pb.SubmitDisputeEvidenceRequest) (*pb.DisputeResponse, error) {
	resp, err := call(s, ctx, "submit dispute evidence", wire.SubmitDisputeEvidenceFromPB(r), s.c.SubmitDisputeEvidence)
	if err != nil {
		return nil, err
	}
	return wire.DisputeResponseToPB(resp), nil
}

func (s *server) AcceptDispute(ctx context.Context, r *pb.AcceptDisputeRequest) (*pb.DisputeResponse, error) {
	req := connectors.AcceptDisputeRequest{IdempotencyKey: r.GetIdempotencyKey(), DisputeID: r.GetDisputeId()}
	resp, err := call(s, ctx, "accept dispute", req, s.c.AcceptDispute)
	if err != nil {
		return nil, err
	}
	return wire.DisputeResponseToPB(resp), nil
}

func (s *server) FetchDispute(ctx context.Context, r *pb.FetchDisputeRequest) (*pb.DisputeResponse, error) {
	resp, err := call(s, ctx, "fetch dispute", connectors.FetchDisputeRequest{DisputeID: r.GetDisputeId()}, s.c.FetchDispute)
	if err != nil {
		return nil, err
	}
	return wire.DisputeResponseToPB(resp), nil
}

func (s *server) FetchSettlementReport(ctx context.Context, r *pb.SettlementReportRequest) (*pb.SettlementReport, error) {
	resp, err := call(s, ctx, "settlement report", connectors.SettlementReportRequest{Date: r.GetDate(), PageSize: int(r.GetPageSize()), PageToken: r.GetPageToken()}, s.c.FetchSettlementReport)
	if err != nil {
		return nil, err
	}
	return wire.SettlementToPB(resp), nil
}

func (s *server) GetRates(ctx context.Context, r *pb.RatesRequest) (*pb.RatesResponse, error) {
	resp, err := call(s, ctx, "rates", connectors.RatesRequest{Base: r.GetBase(), Quotes: r.GetQuotes()}, s.c.GetRates)
	if err != nil {
		return nil, err
	}
	return wire.RatesToPB(resp), nil
}

func (s *server) HandleHTTP(ctx context.Context, r *pb.HTTPRequest) (*pb.HTTPResponse, error) {
	req := wire.HTTPRequestFromPB(r)
	resp, err := call(s, ctx, "http", noValidation{}, func(ctx context.Context, _ noValidation) (connectors.HTTPResponse, error) {
		return s.c.HandleHTTP(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	return wire.HTTPResponseToPB(resp), nil
}

func (s *server) Events(_ *pb.EventsRequest, stream pb.Connector_EventsServer) error {
	if s.emitter == nil {
		// No emitter: keep the stream open and silent, so the host does
		// not reconnect in a loop.
		<-stream.Context().Done()
		return nil
	}
	return s.emitter.stream(stream.Context(), func(e connectors.Event) error {
		return stream.Send(wire.EventToPB(e))
	})
}

func (s *server) AckEvents(_ context.Context, r *pb.AckEventsRequest) (*pb.AckEventsResponse, error) {
	if s.emitter != nil {
		s.emitter.ack(r.GetIds())
	}
	return &pb.AckEventsResponse{}, nil
}
