package sandbox

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultAPIKey is the API key accepted when Config.APIKeys is empty.
const DefaultAPIKey = "sk_sandbox_test"

// Config configures a sandbox. The zero value is usable: an in-memory
// sandbox with DefaultAPIKey and the documented default delays.
type Config struct {
	// DataDir is the directory holding the state file. Empty keeps state in
	// memory only, which suits tests that do not restart the sandbox.
	DataDir string
	// Addr is where Start listens; empty is a random loopback port.
	Addr string
	// APIKeys are the accepted bearer keys; empty means DefaultAPIKey.
	APIKeys []string
	// PublicURL is the base of URLs handed to buyers (challenge pages,
	// wallet pages). Empty derives it from each request's Host.
	PublicURL string
	// Now is the clock used for every timestamp and schedule; nil is
	// time.Now. Tests pass a fixed clock.
	Now func() time.Time
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger

	// TimeoutHold is how long the timeout test card holds its answer
	// (default 35s, longer than any sane client deadline). It is measured
	// in real time, not on Now.
	TimeoutHold time.Duration
	// ChargebackDelay is the time from capture to chargeback for the
	// chargeback test card (default 2s).
	ChargebackDelay time.Duration
	// DisputeResolveDelay is the time from evidence submission to the
	// issuer's decision (default 2s).
	DisputeResolveDelay time.Duration
	// DisputeResponseWindow is the time from a dispute's opening (or its
	// pre-arbitration) to its due_by (default 7 days).
	DisputeResponseWindow time.Duration
	// PayoutDelay is the time from payout creation to its outcome
	// (default 3s).
	PayoutDelay time.Duration
	// WebhookRetryBase is the first webhook retry delay, doubled on each
	// failure (default 1s).
	WebhookRetryBase time.Duration
	// WebhookRetryMax caps the webhook retry delay (default 1m).
	WebhookRetryMax time.Duration
	// WebhookTimeout bounds one delivery attempt (default 10s).
	WebhookTimeout time.Duration
	// TickInterval is how often due work (payouts, chargebacks, webhook
	// retries) runs in the background (default 100ms). A negative value
	// turns the background loop off: tests then drive it with RunDue.
	TickInterval time.Duration
	// FXDrift lets FX rates move a little each minute.
	FXDrift bool
	// HTTPClient sends webhooks; nil is a plain client.
	HTTPClient *http.Client
	// WebhookChaosSeed, when non-zero, makes webhook delivery misbehave as a
	// real network may, for fault tests (docs/faults.md): the deliveries due
	// at once go out in a shuffled order, and each delivered event is sent
	// again 0–2 more times, each copy up to 2 s later. The seed picks the
	// order and the copies. Zero (the default) delivers each event once per
	// success, in id order.
	WebhookChaosSeed int64
}

func (c *Config) setDefaults() {
	if len(c.APIKeys) == 0 {
		c.APIKeys = []string{DefaultAPIKey}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.TimeoutHold, 35*time.Second)
	def(&c.ChargebackDelay, 2*time.Second)
	def(&c.DisputeResolveDelay, 2*time.Second)
	def(&c.DisputeResponseWindow, 7*24*time.Hour)
	def(&c.PayoutDelay, 3*time.Second)
	def(&c.WebhookRetryBase, time.Second)
	def(&c.WebhookRetryMax, time.Minute)
	def(&c.WebhookTimeout, 10*time.Second)
	def(&c.TickInterval, 100*time.Millisecond)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// Server is a running sandbox: its state, its HTTP handler and its
// background work. Create one with New or Start; Close releases it.
type Server struct {
	cfg Config
	log *slog.Logger
	ids *idSource

	mu sync.Mutex // guards st, j and reportFaults
	st *state
	j  *journal
	// reportFaults holds "channel/day" of the settlement reports that carry
	// injected faults (API.md, "Injected report faults"); not persisted.
	reportFaults map[string]bool

	handler http.Handler
	runMu   sync.Mutex // one RunDue at a time, so a delivery is never sent twice at once
	kick    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup

	httpSrv *http.Server
	url     string

	chaosMu sync.Mutex
	chaos   *rand.Rand // nil unless cfg.WebhookChaosSeed is set

	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the sandbox state in cfg.DataDir and starts its
// background loop. It does not listen: serve Handler yourself, or use Start.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	s := &Server{
		cfg:          cfg,
		log:          cfg.Logger,
		ids:          newIDSource(),
		st:           newState(),
		reportFaults: map[string]bool{},
		kick:         make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
	if cfg.DataDir != "" {
		j, entries, err := openJournal(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		s.j = j
		if err := s.st.load(entries); err != nil {
			j.close()
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	if err := s.initialize(); err != nil {
		s.j.close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if cfg.WebhookChaosSeed != 0 {
		s.chaos = rand.New(rand.NewSource(cfg.WebhookChaosSeed))
	}
	s.handler = s.routes()
	if cfg.TickInterval > 0 {
		s.wg.Add(1)
		go s.loop()
	}
	return s, nil
}

// Start is New plus an HTTP listener on cfg.Addr (a random loopback port when
// empty). URL tells where it listens; Close shuts the listener down.
func Start(cfg Config) (*Server, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	s.httpSrv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	s.log.Info("sandbox listening", "url", s.url, "data_dir", cfg.DataDir)
	return s, nil
}

// URL is the base URL Start listens on, like "http://127.0.0.1:41234"; it is
// empty for a Server made by New.
func (s *Server) URL() string { return s.url }

// Handler is the sandbox's whole HTTP API, buyer pages included.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the listener (if Start made one), releases held requests, stops
// the background loop and closes the state file. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.httpSrv.Shutdown(ctx); err != nil {
				s.closeErr = fmt.Errorf("sandbox: shutdown: %w", err)
			}
		}
		s.wg.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.j.close(); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("sandbox: close state: %w", err)
		}
		s.j = nil
	})
	return s.closeErr
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

func (s *Server) newID(prefix string) string { return s.ids.next(prefix, s.now()) }

// baseURL is the prefix of URLs handed to buyers.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.requireKey(h)) }
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, h) }
	cards, vas, payouts, agreements, debits, wallets := s.cardPayments(), s.virtualAccounts(),
		s.payouts(), s.agreements(), s.debits(), s.walletPayments()

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })

	api("POST /webhooks/endpoints", s.handleRegisterEndpoint)
	api("GET /webhooks/endpoints", s.handleListEndpoints)
	api("DELETE /webhooks/endpoints/{id}", s.handleDeleteEndpoint)
	api("GET /webhooks/events", s.handleListEvents)
	api("GET /webhooks/events/{id}", s.events().get)
	api("POST /webhooks/events/{id}/redeliver", s.handleRedeliver)

	api("GET /card/bins/{bin}", s.handleBIN)
	api("POST /card/payments", s.handleAuthorize)
	api("GET /card/payments", cards.list)
	api("GET /card/payments/{id}", cards.get)
	api("POST /card/payments/{id}/capture", s.handleCapture)
	api("POST /card/payments/{id}/void", s.handleVoid)
	api("POST /card/payments/{id}/refunds", s.handleCardRefund)
	api("GET /card/settlements", s.handleSettlements(channelCard))
	api("POST /card/settlements/faults", s.handleReportFaults(channelCard))
	api("DELETE /card/settlements/faults", s.handleReportFaults(channelCard))
	api("GET /card/disputes/{id}", s.handleGetDispute)
	api("POST /card/disputes/{id}/evidence", s.handleDisputeEvidence)
	api("POST /card/disputes/{id}/accept", s.handleAcceptDispute)
	page("GET /card/3ds/{id}", s.handleChallengePage)
	page("POST /card/3ds/{id}", s.handleChallengeSubmit)

	api("POST /bank/virtual-accounts", s.handleCreateVA)
	api("GET /bank/virtual-accounts", vas.list)
	api("GET /bank/virtual-accounts/{id}", vas.get)
	api("POST /bank/virtual-accounts/{id}/close", s.handleCloseVA)
	page("GET /bank/pay/{id}", s.handleTransferPage)
	page("POST /bank/pay/{id}", s.handleTransferSubmit)
	api("POST /bank/payouts", s.handleCreatePayout)
	api("GET /bank/payouts", payouts.list)
	api("GET /bank/payouts/{id}", payouts.get)
	api("POST /bank/agreements", s.handleCreateAgreement)
	api("GET /bank/agreements", agreements.list)
	api("GET /bank/agreements/{id}", agreements.get)
	api("POST /bank/agreements/{id}/terminate", s.handleTerminateAgreement)
	api("POST /bank/agreements/{id}/debits", s.handleDebit)
	page("GET /bank/agreements/{id}/sign", s.handleSignPage)
	page("POST /bank/agreements/{id}/sign", s.handleSignSubmit)
	api("GET /bank/debits", debits.list)
	api("GET /bank/debits/{id}", debits.get)
	api("GET /bank/balance", s.handleBalance)
	api("GET /bank/settlements", s.handleSettlements(channelBank))
	api("POST /bank/settlements/faults", s.handleReportFaults(channelBank))
	api("DELETE /bank/settlements/faults", s.handleReportFaults(channelBank))

	api("POST /wallet/payments", s.handleCreateWalletPayment)
	api("GET /wallet/payments", wallets.list)
	api("GET /wallet/payments/{id}", wallets.get)
	api("POST /wallet/payments/{id}/void", s.handleWalletVoid)
	api("POST /wallet/payments/{id}/refunds", s.handleWalletRefund)
	api("GET /wallet/settlements", s.handleSettlements(channelWallet))
	api("POST /wallet/settlements/faults", s.handleReportFaults(channelWallet))
	api("DELETE /wallet/settlements/faults", s.handleReportFaults(channelWallet))
	page("GET /wallet/pay/{id}", s.handleWalletPage)
	page("POST /wallet/pay/{id}", s.handleWalletSubmit)

	api("GET /fx/rates", s.handleRates)

	api("GET /records", s.handleRecords)

	return s.logRequests(mux)
}

// requireKey refuses requests without one of the configured bearer keys.
func (s *Server) requireKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !s.validKey(key) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sandbox"`)
			s.writeError(w, r, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) validKey(key string) bool {
	valid := false
	for _, k := range s.cfg.APIKeys {
		// Check every key, so the time taken says nothing about which matched.
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			valid = true
		}
	}
	return valid && key != ""
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// logRequests logs method, path, status and duration. Card numbers travel in
// bodies only, so nothing logged here can hold one.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", time.Since(start).Milliseconds())
	})
}

// loop runs due work every TickInterval, and at once when an event is raised.
func (s *Server) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.TickInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.done
		cancel()
	}()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("run due work", "err", err)
		}
	}
}

// wake asks the background loop to run soon (without blocking).
func (s *Server) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// RunDue runs all work that is due on the sandbox clock now: payouts reach
// their outcome, chargebacks arrive, and pending webhook deliveries are
// attempted. The background loop calls it; tests with a fixed clock advance
// the clock and call it themselves.
func (s *Server) RunDue(ctx context.Context) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if err := s.runDueState(); err != nil {
		return err
	}
	return s.deliverDue(ctx)
}

// runDueState applies due payouts and chargebacks.
func (s *Server) runDueState() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.j == nil && s.cfg.DataDir != "" {
		return errors.New("sandbox: closed")
	}
	now := s.now()
	for _, p := range s.st.payouts {
		if p.State == payoutPending && !p.CompleteAt.After(now) {
			if err := s.finishPayout(p); err != nil {
				return err
			}
		}
	}
	for _, c := range s.st.cards {
		if c.ChargebackDue != nil && !c.ChargebackDue.After(now) {
			if err := s.chargeback(c); err != nil {
				return err
			}
		}
		if err := s.resolveDueDisputes(c, now); err != nil {
			return err
		}
	}
	return nil
}

// CardPaymentsByReference counts the card network's payments per merchant
// reference (Strait sends its attempt id). Harnesses use it to prove that
// each confirmation reached the network exactly once.
func (s *Server) CardPaymentsByReference() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.st.cards))
	for _, rec := range s.st.cards {
		out[rec.MerchantReference]++
	}
	return out
}
