// Package conformance is the test kit a connector author runs against a
// built connector binary. It launches the binary under the real host
// (checksum, AutoMTLS, no host environment, Configure), then checks
// Describe, every declared capability on its happy path, voiding a payment
// that waits for the buyer, an unknown reference (not_found), malformed
// inputs, undeclared capabilities, signed and forged webhooks, and
// crash-and-restart.
//
// Use it from a test in your connector's module, against your channel's
// sandbox or a fake of it (examples/connector-template ships one):
//
//	func TestConformance(t *testing.T) {
//		bin := filepath.Join(t.TempDir(), "mychannel")
//		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
//			t.Fatalf("build: %v\n%s", err, out)
//		}
//		channel := fake.Start(t) // your channel's test double, or its sandbox's URL
//		conformance.Run(t, conformance.Config{
//			Binary:         bin,
//			Config:         map[string]string{"base_url": channel.URL, "api_key": "sk_test", "webhook_secret": "whsec_test"},
//			CompleteAction: channel.Approve,      // plays the buyer
//			SignedWebhook:  channel.SignedWebhook, // required when webhooks are declared
//		})
//	}
package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/host"
)

// Config points the kit at a connector binary.
type Config struct {
	// Binary is the path of the built connector.
	Binary string
	// Config is handed to the connector through Configure.
	Config map[string]string
	// Authorize is the template of a happy-path authorization; the kit
	// fills the idempotency key, reference and Capture. Zero means 1000
	// minor units of the first declared currency, paid with the first
	// declared payment method (and the test card 4242… for "card").
	Authorize connectors.AuthorizeRequest
	// CompleteAction, when set, completes a buyer action (a 3-D Secure
	// challenge, a wallet approval) the way a buyer would, so that capture
	// and refund can be exercised after OutcomeActionRequired.
	CompleteAction func(t *testing.T, a *connectors.NextAction)
	// Payout and SignAgreement are the templates for those capabilities;
	// zero values use a generic beneficiary or payer account.
	Payout        connectors.PayoutRequest
	SignAgreement connectors.SignAgreementRequest
	// WaitingAuthorize is the template of an authorization the channel
	// leaves waiting for the buyer (ACTION_REQUIRED or PENDING: a 3-D
	// Secure card, a redirect), which the kit voids. Zero means Authorize,
	// enough for a channel where every payment waits for the buyer (a
	// wallet, a bank transfer). If that is approved at once, the check is
	// skipped: set this to run it.
	WaitingAuthorize connectors.AuthorizeRequest
	// SignedWebhook builds a notification exactly as the channel sends it
	// (method, path, headers, body), signed with the webhook secret the
	// connector has in Config, about p: a payment the kit authorized (the
	// zero Payment for a connector that does not authorize). The connector
	// must turn it into at least one event. Required when the connector
	// declares webhooks: the kit checks that the connector accepts it
	// (2xx, events with the same ids when it arrives twice) and refuses it
	// with its body changed or without its headers (4xx, no events), so a
	// connector that answers 401 to every webhook fails.
	SignedWebhook func(t *testing.T, p Payment) connectors.HTTPRequest
	// WebhookPath is where the connector receives channel webhooks
	// (default "/webhook"); the kit checks that a forged one is refused.
	WebhookPath string
	// OpenDispute makes the channel open a chargeback on p, a payment the
	// kit captured, and returns the network's dispute id. When the
	// connector declares disputes and this is set, the kit fetches the
	// dispute, submits evidence (replayed with its key, refused with
	// another) and checks the answers; without it only the unknown-dispute
	// and malformed-request checks run.
	OpenDispute func(t *testing.T, p Payment) string
	// SkipRestart skips the crash-and-restart check.
	SkipRestart bool
	// Logger receives the host's and the plugin's logs (default: t.Log).
	Logger *slog.Logger
	// CallTimeout bounds each call (default 10 s).
	CallTimeout time.Duration
}

// Payment is a payment the kit authorized, handed to Config.SignedWebhook.
type Payment struct {
	ID        string // the channel's payment id
	Reference string // Strait's reference
	Amount    connectors.Money
}

// suite is one run of the kit.
type suite struct {
	cfg  Config
	m    *host.Manager
	c    connectors.Connector
	desc connectors.Descriptor
	seq  int
	tag  string
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.WebhookPath == "" {
		cfg.WebhookPath = "/webhook"
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	s := &suite{cfg: cfg, tag: fmt.Sprintf("cf%d", time.Now().UnixNano())}
	s.start(t)
	t.Run("Describe", s.describe)
	t.Run("UndeclaredCapabilitiesAreUnsupported", s.undeclared)
	t.Run("MalformedInputsAreRefused", s.malformed)
	for _, c := range capabilityChecks {
		if s.has(c.cap) {
			t.Run(c.name, func(t *testing.T) { c.run(s, t) })
		}
	}
	if !cfg.SkipRestart {
		t.Run("CrashAndRestart", s.restart)
	}
}

// capabilityChecks are the checks of declared capabilities, in the order
// they run.
var capabilityChecks = []struct {
	cap  connectors.Capability
	name string
	run  func(*suite, *testing.T)
}{
	{connectors.CapAuthorize, "AuthorizeSaleAndReplay", (*suite).sale},
	{connectors.CapAuthorize, "VoidWhileWaitingForTheBuyer", (*suite).voidWaiting},
	{connectors.CapQueryPayment, "UnknownReferenceIsNotFound", (*suite).unknownReference},
	{connectors.CapPreauth, "PreauthCaptureAndVoid", (*suite).preauth},
	{connectors.CapRefund, "PartialAndFullRefund", (*suite).refund},
	{connectors.CapPayout, "Payout", (*suite).payout},
	{connectors.CapAgreements, "Agreements", (*suite).agreements},
	{connectors.CapBalance, "QueryBalance", (*suite).balance},
	{connectors.CapSettlementReport, "FetchSettlementReport", (*suite).settlement},
	{connectors.CapSettlementReportPages, "SettlementReportPages", (*suite).settlementPages},
	{connectors.CapRates, "GetRates", (*suite).rates},
	{connectors.CapDisputes, "UnknownDisputeIsNotFound", (*suite).unknownDispute},
	{connectors.CapDisputes, "DisputeEvidenceOnce", (*suite).disputeEvidence},
	{connectors.CapWebhooks, "SignedWebhookIsAccepted", (*suite).signedWebhook},
	{connectors.CapWebhooks, "ForgedWebhookIsRefused", (*suite).forgedWebhook},
}

func (s *suite) start(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(s.cfg.Binary)
	if err != nil {
		t.Fatalf("conformance: read binary: %v", err)
	}
	sum := sha256.Sum256(b)
	dir := t.TempDir()
	bin := filepath.Join(dir, "connector")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest, _ := json.Marshal([]host.Entry{{Name: "subject", Binary: "connector", SHA256: hex.EncodeToString(sum[:]), Config: s.cfg.Config}})
	if err := os.WriteFile(filepath.Join(dir, host.ManifestFile), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	logger := s.cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s.m, err = host.New(host.Config{Dir: dir, Logger: logger, CallTimeout: s.cfg.CallTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.m.Close() })
	if err := s.m.Start(context.Background()); err != nil {
		t.Fatalf("conformance: start: %v", err)
	}
	st, _ := s.m.Status("subject")
	if st.Health != host.HealthUp {
		t.Fatalf("conformance: connector did not come up: %s (%s)", st.Health, st.LastError)
	}
	s.c, _ = s.m.Get("subject")
	s.desc, err = s.c.Describe(context.Background())
	if err != nil {
		t.Fatalf("conformance: describe: %v", err)
	}
	// Keep the host's event channel drained: the kit does not assert on
	// asynchronous events, and a full channel would stall acks.
	go func() {
		for range s.m.Events() {
		}
	}()
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (s *suite) has(c connectors.Capability) bool { return s.desc.Has(c) }

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CallTimeout)
	t.Cleanup(cancel)
	return ctx
}

// ids returns a fresh idempotency key and reference.
func (s *suite) ids() (key, ref string) {
	s.seq++
	return fmt.Sprintf("%s-key-%d", s.tag, s.seq), fmt.Sprintf("%s-ref-%d", s.tag, s.seq)
}

var knownCaps = map[connectors.Capability]bool{
	connectors.CapAuthorize: true, connectors.CapPreauth: true, connectors.CapPartialCapture: true,
	connectors.CapRefund: true, connectors.CapQueryPayment: true, connectors.CapAgreements: true,
	connectors.CapPayout: true, connectors.CapBalance: true, connectors.CapSettlementReport: true,
	connectors.CapRates: true, connectors.CapWebhooks: true, connectors.CapEvents: true,
	connectors.CapDisputes: true, connectors.CapSettlementReportPages: true,
}

func (s *suite) describe(t *testing.T) {
	d := s.desc
	if d.Name == "" || d.Version == "" {
		t.Errorf("name %q and version %q must be set", d.Name, d.Version)
	}
	switch d.Kind {
	case connectors.KindCardScheme, connectors.KindBank, connectors.KindWallet, connectors.KindFX:
	default:
		t.Errorf("kind %q is not one of card_scheme, bank, wallet, fx", d.Kind)
	}
	if len(d.Capabilities) == 0 {
		t.Error("no capabilities declared")
	}
	for _, c := range d.Capabilities {
		if !knownCaps[c] {
			t.Errorf("unknown capability %q", c)
		}
	}
	if len(d.Currencies) == 0 {
		t.Error("no currencies declared")
	}
	for _, c := range d.Currencies {
		if !connectors.ValidCurrency(c) {
			t.Errorf("currency %q is not ISO 4217", c)
		}
	}
	if (s.has(connectors.CapAuthorize) || s.has(connectors.CapPreauth)) && len(d.PaymentMethods) == 0 {
		t.Error("authorize declared without payment methods")
	}
}

func (s *suite) currency() string {
	if c := s.cfg.Authorize.Amount.Currency; c != "" {
		return c
	}
	if len(s.desc.Currencies) > 0 {
		return s.desc.Currencies[0]
	}
	return "USD"
}

func (s *suite) authorizeRequest(capture bool) connectors.AuthorizeRequest {
	r := s.cfg.Authorize
	r.IdempotencyKey, r.Reference = s.ids()
	r.Capture = capture
	if r.Amount.Minor == 0 {
		r.Amount = connectors.NewMoney(1000, s.currency())
	}
	if r.PaymentMethod == "" && len(s.desc.PaymentMethods) > 0 {
		r.PaymentMethod = s.desc.PaymentMethods[0]
	}
	if r.PaymentMethod == "card" && r.Card == nil {
		r.Card = &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123", Holder: "Conformance Kit"}
	}
	if r.ReturnURL == "" {
		r.ReturnURL = "http://127.0.0.1:1/return"
	}
	return r
}

// approvedPayment authorizes and, through CompleteAction, gets the payment
// approved. It returns "" (and skips the test) when the channel needs a
// buyer action the kit was not told how to complete.
func (s *suite) approvedPayment(t *testing.T, capture bool) (connectors.AuthorizeRequest, string) {
	t.Helper()
	req := s.authorizeRequest(capture)
	resp, err := s.c.Authorize(s.ctx(t), req)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	switch resp.Result.Outcome {
	case connectors.OutcomeApproved:
		return req, resp.PaymentID
	case connectors.OutcomeActionRequired:
		if s.cfg.CompleteAction == nil || resp.NextAction == nil {
			t.Skip("authorize needs a buyer action and Config.CompleteAction is not set")
		}
		s.cfg.CompleteAction(t, resp.NextAction)
		s.waitApproved(t, resp.PaymentID)
		return req, resp.PaymentID
	}
	t.Fatalf("authorize: outcome %s (%s %s)", resp.Result.Outcome, resp.Result.Code, resp.Result.Message)
	return req, ""
}

func (s *suite) waitApproved(t *testing.T, paymentID string) {
	t.Helper()
	if !s.has(connectors.CapQueryPayment) {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st, err := s.c.QueryPayment(s.ctx(t), connectors.QueryPaymentRequest{PaymentID: paymentID})
		if err == nil && st.Result.Outcome == connectors.OutcomeApproved {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("payment %s not approved after the buyer action", paymentID)
}

func (s *suite) sale(t *testing.T) {
	req := s.authorizeRequest(true)
	first, err := s.c.Authorize(s.ctx(t), req)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	switch first.Result.Outcome {
	case connectors.OutcomeApproved, connectors.OutcomePending, connectors.OutcomeActionRequired:
	default:
		t.Fatalf("authorize: outcome %s (%s %s)", first.Result.Outcome, first.Result.Code, first.Result.Message)
	}
	if first.PaymentID == "" {
		t.Fatal("authorize: no payment id")
	}
	if first.Result.Outcome == connectors.OutcomeActionRequired && first.NextAction == nil {
		t.Error("action required without a next action")
	}
	replay, err := s.c.Authorize(s.ctx(t), req)
	if err != nil || replay.PaymentID != first.PaymentID {
		t.Errorf("replay with the same idempotency key: payment %q (first %q), err %v: the channel may charge twice",
			replay.PaymentID, first.PaymentID, err)
	}
	if s.has(connectors.CapQueryPayment) {
		st, err := s.c.QueryPayment(s.ctx(t), connectors.QueryPaymentRequest{Reference: req.Reference})
		if err != nil || st.PaymentID != first.PaymentID {
			t.Errorf("query by reference: %+v, %v; want payment %s", st, err, first.PaymentID)
		}
		st, err = s.c.QueryPayment(s.ctx(t), connectors.QueryPaymentRequest{PaymentID: first.PaymentID})
		if err != nil || !st.Amount.Equal(req.Amount) {
			t.Errorf("query by id: %+v, %v; want amount %s", st, err, req.Amount)
		}
	}
}

func (s *suite) preauth(t *testing.T) {
	req, id := s.approvedPayment(t, false)
	amount := req.Amount
	if s.has(connectors.CapPartialCapture) {
		amount.Minor /= 2
	}
	key, ref := s.ids()
	cp, err := s.c.Capture(s.ctx(t), connectors.CaptureRequest{IdempotencyKey: key, Reference: ref, PaymentID: id, Amount: amount})
	if err != nil || cp.Result.Outcome != connectors.OutcomeApproved {
		t.Fatalf("capture %s: %+v, %v", amount, cp.Result, err)
	}
	// Capturing twice with the same key is a replay, not a second capture.
	cp2, err := s.c.Capture(s.ctx(t), connectors.CaptureRequest{IdempotencyKey: key, Reference: ref, PaymentID: id, Amount: amount})
	if err != nil || cp2.Result.Outcome != connectors.OutcomeApproved || cp2.ID != cp.ID {
		t.Errorf("capture replay: %+v id %q (first %q), %v", cp2.Result, cp2.ID, cp.ID, err)
	}
	// The payment core resolves a capture or void whose answer was lost
	// from QueryPayment's Captured and Voided.
	if s.has(connectors.CapQueryPayment) {
		st, err := s.c.QueryPayment(s.ctx(t), connectors.QueryPaymentRequest{PaymentID: id})
		if err != nil || st.Captured.Minor != amount.Minor || st.Voided {
			t.Errorf("query after the capture of %s: captured %d, voided %v, %v", amount, st.Captured.Minor, st.Voided, err)
		}
	}
	_, id2 := s.approvedPayment(t, false)
	key, ref = s.ids()
	v, err := s.c.Void(s.ctx(t), connectors.VoidRequest{IdempotencyKey: key, Reference: ref, PaymentID: id2})
	if err != nil || v.Result.Outcome != connectors.OutcomeApproved {
		t.Fatalf("void: %+v, %v", v.Result, err)
	}
	if s.has(connectors.CapQueryPayment) {
		st, err := s.c.QueryPayment(s.ctx(t), connectors.QueryPaymentRequest{PaymentID: id2})
		if err != nil || !st.Voided || st.Captured.Minor != 0 {
			t.Errorf("query after the void: captured %d, voided %v, %v", st.Captured.Minor, st.Voided, err)
		}
	}
	key, ref = s.ids()
	late, err := s.c.Capture(s.ctx(t), connectors.CaptureRequest{IdempotencyKey: key, Reference: ref, PaymentID: id2, Amount: req.Amount})
	if err == nil && late.Result.Outcome != connectors.OutcomeDeclined {
		t.Errorf("capture after void: outcome %s, want declined", late.Result.Outcome)
	}
}

func (s *suite) refund(t *testing.T) {
	req, id := s.approvedPayment(t, true)
	half := connectors.Money{Minor: req.Amount.Minor / 2, Currency: req.Amount.Currency, Exponent: req.Amount.Exponent}
	rest := connectors.Money{Minor: req.Amount.Minor - half.Minor, Currency: req.Amount.Currency, Exponent: req.Amount.Exponent}
	for i, amt := range []connectors.Money{half, rest} {
		key, ref := s.ids()
		r, err := s.c.Refund(s.ctx(t), connectors.RefundRequest{IdempotencyKey: key, Reference: ref, PaymentID: id, Amount: amt})
		if err != nil || (r.Result.Outcome != connectors.OutcomeApproved && r.Result.Outcome != connectors.OutcomePending) {
			t.Fatalf("refund %d of %s: %+v, %v", i+1, amt, r.Result, err)
		}
	}
	key, ref := s.ids()
	over, err := s.c.Refund(s.ctx(t), connectors.RefundRequest{IdempotencyKey: key, Reference: ref, PaymentID: id, Amount: half})
	if err == nil && over.Result.Outcome != connectors.OutcomeDeclined {
		t.Errorf("refund beyond the captured amount: outcome %s, want declined", over.Result.Outcome)
	}
}

func (s *suite) payoutRequest() connectors.PayoutRequest {
	r := s.cfg.Payout
	r.IdempotencyKey, r.Reference = s.ids()
	if r.Amount.Minor == 0 {
		r.Amount = connectors.NewMoney(1000, s.currency())
	}
	if r.Beneficiary == nil {
		r.Beneficiary = &connectors.BankAccount{Holder: "Conformance Kit", Number: "GB33BUKB20201555555555", BankCode: "BUKBGB22", Country: "GB"}
	}
	return r
}

func (s *suite) payout(t *testing.T) {
	r, err := s.c.Payout(s.ctx(t), s.payoutRequest())
	if err != nil {
		t.Fatalf("payout: %v", err)
	}
	if o := r.Result.Outcome; o != connectors.OutcomeApproved && o != connectors.OutcomePending {
		t.Fatalf("payout: %+v", r.Result)
	}
	if r.ID == "" {
		t.Error("payout: no id")
	}
}

func (s *suite) agreementRequest() connectors.SignAgreementRequest {
	r := s.cfg.SignAgreement
	r.IdempotencyKey, r.Reference = s.ids()
	if r.Account == nil {
		r.Account = &connectors.BankAccount{Holder: "Conformance Kit", Number: "DE89370400440532013000", Currency: s.currency()}
	}
	if r.ReturnURL == "" {
		r.ReturnURL = "http://127.0.0.1:1/return"
	}
	return r
}

func (s *suite) agreements(t *testing.T) {
	req := s.agreementRequest()
	a, err := s.c.SignAgreement(s.ctx(t), req)
	if err != nil || a.AgreementID == "" {
		t.Fatalf("sign: %+v, %v", a, err)
	}
	q, err := s.c.QueryAgreement(s.ctx(t), connectors.QueryAgreementRequest{AgreementID: a.AgreementID})
	if err != nil || q.AgreementID != a.AgreementID {
		t.Errorf("query: %+v, %v", q, err)
	}
	key, _ := s.ids()
	term, err := s.c.TerminateAgreement(s.ctx(t), connectors.TerminateAgreementRequest{IdempotencyKey: key, AgreementID: a.AgreementID})
	if err != nil || term.Result.Outcome == connectors.OutcomeUnknown || term.Result.Outcome == connectors.OutcomeError {
		t.Errorf("terminate: %+v, %v", term.Result, err)
	}
}

func (s *suite) balance(t *testing.T) {
	b, err := s.c.QueryBalance(s.ctx(t), connectors.BalanceRequest{})
	if err != nil || b.Result.Outcome != connectors.OutcomeApproved {
		t.Fatalf("balance: %+v, %v", b.Result, err)
	}
	for _, x := range b.Balances {
		if !connectors.ValidCurrency(x.Available.Currency) {
			t.Errorf("balance currency %q", x.Available.Currency)
		}
	}
}

func (s *suite) settlement(t *testing.T) {
	day := time.Now().UTC().Format("2006-01-02")
	r, err := s.c.FetchSettlementReport(s.ctx(t), connectors.SettlementReportRequest{Date: day})
	if err != nil || r.Result.Outcome != connectors.OutcomeApproved {
		t.Fatalf("settlement %s: %+v, %v", day, r.Result, err)
	}
	for _, l := range r.Lines {
		if l.Gross.Minor-l.Fee.Minor != l.Net.Minor {
			t.Errorf("line %+v: gross - fee != net", l)
		}
	}
}

// settlementPages reads today's report whole and then in pages of two:
// every page holds at most two lines, only the last has no next token, and
// the pages together are the whole report, in its order.
func (s *suite) settlementPages(t *testing.T) {
	day := time.Now().UTC().Format("2006-01-02")
	whole, err := s.c.FetchSettlementReport(s.ctx(t), connectors.SettlementReportRequest{Date: day})
	if err != nil || whole.Result.Outcome != connectors.OutcomeApproved {
		t.Fatalf("settlement %s: %+v, %v", day, whole.Result, err)
	}
	var paged []connectors.SettlementLine
	token := ""
	for pages := 0; ; pages++ {
		if pages > len(whole.Lines)/2+1 {
			t.Fatalf("more than %d pages of two for %d lines", pages, len(whole.Lines))
		}
		r, err := s.c.FetchSettlementReport(s.ctx(t), connectors.SettlementReportRequest{Date: day, PageSize: 2, PageToken: token})
		if err != nil || r.Result.Outcome != connectors.OutcomeApproved {
			t.Fatalf("settlement %s page %q: %+v, %v", day, token, r.Result, err)
		}
		if len(r.Lines) > 2 {
			t.Fatalf("a page of size 2 holds %d lines", len(r.Lines))
		}
		paged = append(paged, r.Lines...)
		if r.NextPageToken == "" {
			break
		}
		token = r.NextPageToken
	}
	if len(paged) != len(whole.Lines) {
		t.Fatalf("the pages hold %d lines, the whole report %d", len(paged), len(whole.Lines))
	}
	for i := range paged {
		if paged[i] != whole.Lines[i] {
			t.Errorf("line %d: paged %+v, whole %+v", i, paged[i], whole.Lines[i])
		}
	}
}

var decimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

func (s *suite) rates(t *testing.T) {
	r, err := s.c.GetRates(s.ctx(t), connectors.RatesRequest{Base: s.currency()})
	if err != nil || r.Result.Outcome != connectors.OutcomeApproved || len(r.Rates) == 0 {
		t.Fatalf("rates: %+v, %v", r, err)
	}
	for _, x := range r.Rates {
		if !decimal.MatchString(x.Rate) || x.Base != s.currency() || !connectors.ValidCurrency(x.Quote) {
			t.Errorf("rate %+v: want a decimal string from %s", x, s.currency())
		}
	}
}

// voidWaiting voids a payment that waits for the buyer (rule 10 of
// docs/connectors.md): the void is approved, and the channel no longer
// reports the payment as waiting or paid, or the connector says it cannot
// cancel a waiting payment (EUNSUPPORTED). It runs whether or not the
// connector declares preauth: a checkout abandoned at 3-D Secure or on a
// wallet's page is canceled this way.
func (s *suite) voidWaiting(t *testing.T) {
	req := s.authorizeRequest(true)
	if w := s.cfg.WaitingAuthorize; !reflect.ValueOf(w).IsZero() {
		saved := s.cfg.Authorize
		s.cfg.Authorize = w
		req = s.authorizeRequest(true)
		s.cfg.Authorize = saved
	}
	resp, err := s.c.Authorize(s.ctx(t), req)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	switch resp.Result.Outcome {
	case connectors.OutcomeActionRequired, connectors.OutcomePending:
	case connectors.OutcomeApproved:
		t.Skip("the authorization was approved at once, so nothing waits for the buyer: " +
			"set Config.WaitingAuthorize to one the channel keeps waiting (a 3-D Secure card, a redirect)")
	default:
		t.Fatalf("authorize: outcome %s (%s %s)", resp.Result.Outcome, resp.Result.Code, resp.Result.Message)
	}
	key, ref := s.ids()
	v, err := s.c.Void(s.ctx(t), connectors.VoidRequest{IdempotencyKey: key, Reference: ref, PaymentID: resp.PaymentID})
	if connectors.ErrorCode(err) == connectors.EUNSUPPORTED {
		t.Log("the connector cannot cancel a payment waiting for the buyer (EUNSUPPORTED): Strait lets it expire")
		return
	}
	if err != nil || v.Result.Outcome != connectors.OutcomeApproved {
		t.Fatalf("void of a payment waiting for the buyer: %+v, %v; want approved (the buyer can no longer pay), "+
			"or EUNSUPPORTED if the channel cannot cancel one", v.Result, err)
	}
	if !s.has(connectors.CapQueryPayment) {
		return
	}
	st, err := s.c.QueryPayment(s.ctx(t), connectors.QueryPaymentRequest{PaymentID: resp.PaymentID})
	if err != nil {
		t.Fatalf("query after the void: %v", err)
	}
	switch o := st.Result.Outcome; {
	case o == connectors.OutcomePending || o == connectors.OutcomeActionRequired:
		t.Errorf("after the void the channel still reports the payment as waiting (%s): the buyer could pay a canceled payment", o)
	case o == connectors.OutcomeApproved && !st.Voided:
		t.Errorf("after the void the payment is approved and not voided: %+v", st)
	}
}

// unknownReference asks for a payment the channel never saw, as the
// payment core does after an unknown outcome: the answer must be a hard
// "not_found" decline (rule 6), which tells Strait that nothing was charged.
func (s *suite) unknownReference(t *testing.T) {
	_, ref := s.ids()
	ref += "-never-sent"
	st, err := s.c.QueryPayment(s.ctx(t), connectors.QueryPaymentRequest{Reference: ref})
	if err != nil {
		t.Fatalf("query of an unknown reference: %v; want a hard not_found decline, not an error "+
			"(an error leaves the attempt unknown forever)", err)
	}
	if r := st.Result; r.Outcome != connectors.OutcomeDeclined || r.DeclineType != connectors.DeclineHard || r.Code != "not_found" {
		t.Errorf("query of an unknown reference: %+v; want Declined(DeclineHard, \"not_found\", …)", r)
	}
}

// webhookSubject is a payment for the signed webhook to be about.
func (s *suite) webhookSubject(t *testing.T) Payment {
	t.Helper()
	if !s.has(connectors.CapAuthorize) {
		return Payment{}
	}
	req := s.authorizeRequest(true)
	resp, err := s.c.Authorize(s.ctx(t), req)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	return Payment{ID: resp.PaymentID, Reference: req.Reference, Amount: req.Amount}
}

// signedWebhook sends a notification signed as the channel signs it, twice:
// both are accepted, carry events, and the events keep their ids, so that
// Strait stores the notification once.
func (s *suite) signedWebhook(t *testing.T) {
	if s.cfg.SignedWebhook == nil {
		t.Fatal("the connector declares webhooks but Config.SignedWebhook is not set: " +
			"the kit must see a correctly signed notification accepted, or a connector refusing every webhook would pass")
	}
	p := s.webhookSubject(t)
	var ids [2][]string
	for i := range ids {
		req := s.cfg.SignedWebhook(t, p)
		r, err := s.c.HandleHTTP(s.ctx(t), req)
		if err != nil {
			t.Fatalf("signed webhook: %v", err)
		}
		if r.Status < 200 || r.Status > 299 {
			t.Fatalf("signed webhook: status %d (%s); want 2xx: the connector refuses what its channel signs", r.Status, r.Body)
		}
		if len(r.Events) == 0 {
			t.Fatal("signed webhook: accepted without events; SignedWebhook must build a notification the connector turns into an event")
		}
		for _, ev := range r.Events {
			if ev.ID == "" || ev.Type == "" {
				t.Errorf("event %+v: id and type are required", ev)
			}
			ids[i] = append(ids[i], ev.ID)
		}
	}
	if fmt.Sprint(ids[0]) != fmt.Sprint(ids[1]) {
		t.Errorf("the same notification gave events %v, then %v: ids must be stable so Strait stores it once", ids[0], ids[1])
	}
}

// forgedWebhook sends notifications nobody signed: a made-up one, and,
// when the kit knows how the channel signs, a signed one with its body
// changed and one without its headers. Each gets a 4xx and no events.
func (s *suite) forgedWebhook(t *testing.T) {
	forged := map[string]connectors.HTTPRequest{
		"made up": {
			Method: "POST", Path: s.cfg.WebhookPath, Body: []byte(`{"id":"evt_forged","type":"card.payment.authorized","data":{}}`),
			Headers: map[string][]string{"Content-Type": {"application/json"}, "X-Signature": {"v1=00"}},
		},
	}
	if s.cfg.SignedWebhook != nil {
		good := s.cfg.SignedWebhook(t, s.webhookSubject(t))
		tampered := good
		tampered.Body = tamper(good.Body)
		forged["body changed after signing"] = tampered
		bare := good
		bare.Headers = map[string][]string{"Content-Type": {"application/json"}}
		forged["signature headers removed"] = bare
	}
	for name, req := range forged {
		r, err := s.c.HandleHTTP(s.ctx(t), req)
		if err != nil {
			t.Fatalf("forged webhook (%s): %v", name, err)
		}
		if r.Status < 400 || r.Status >= 500 || len(r.Events) > 0 {
			t.Errorf("forged webhook (%s): status %d with %d events; want 4xx and none", name, r.Status, len(r.Events))
		}
	}
}

// tamper changes a signed body the way an attacker would: a JSON body
// stays JSON (an amount or id digit changes), anything else gets a byte
// more.
func tamper(body []byte) []byte {
	out := append([]byte(nil), body...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] >= '0' && out[i] <= '9' {
			out[i] = '0' + (out[i]-'0'+1)%10
			return out
		}
	}
	return append(out, ' ')
}

func (s *suite) restart(t *testing.T) {
	before, _ := s.m.Status("subject")
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", before.PID, err)
	}
	killed := time.Now()
	for {
		st, _ := s.m.Status("subject")
		if st.Health == host.HealthUp && st.PID != 0 && st.PID != before.PID {
			break
		}
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("not back within 2 s: %s (%s)", st.Health, st.LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.c.Describe(s.ctx(t)); err != nil {
		t.Fatalf("describe after restart: %v", err)
	}
	t.Logf("back %s after SIGKILL", time.Since(killed).Round(time.Millisecond))
}
