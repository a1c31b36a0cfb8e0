package app_test

import (
	"context"
	"database/sql"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/sandbox"
	"github.com/straitpay/strait/server/app"
)

// TestADatabaseThatStopsAnsweringLosesNothing runs Strait on MySQL through
// a TCP proxy that can stop forwarding, as a database whose host hangs or
// whose network drops packets: connections stay open and nothing comes
// back. With the batch timeout at one second (STRAIT_DB_BATCH_TIMEOUT) and
// the request timeout at four (STRAIT_REQUEST_TIMEOUT):
//
//   - a confirm arriving while the database is silent is answered
//     UNAVAILABLE within seconds, nothing of it is written and nothing is
//     charged; the same request with the same key succeeds once the
//     database answers again, charged once;
//   - a confirm whose channel approves while the database is silent (the
//     attempt was committed before the call) is answered UNAVAILABLE
//     within seconds, and the charge is not lost: the janitor asks the
//     network and records it once, with its ledger entry, when the
//     database is back; the buyer's retries with the same key are refused
//     (in progress, then the session is complete) and charge nothing;
//   - Strait serves other checkouts afterwards.
func TestADatabaseThatStopsAnsweringLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	direct := storetest.URL(t, "mysql") // skips without MySQL
	cfg, err := mysql.ParseDSN(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallingProxy(t, cfg.Addr)
	cfg.Addr = proxy.addr()
	ctx := context.Background()
	db, err := store.Open(ctx, cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.resume(); db.Close() })
	if err := store.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	x := newE2E(t, db, e2eSpec{
		connectors: []string{"cardnet"},
		configure: func(c *app.Config) {
			c.DBBatchTimeout = time.Second
			c.RequestTimeout = 4 * time.Second
		},
		// The timeout card's answer comes this long after the network
		// recorded the authorization: the window to silence the database.
		sandbox: func(c *sandbox.Config) { c.TimeoutHold = 2 * time.Second },
	})
	network := x.sb.URL()
	sys := viewer.SystemContext(ctx)

	t.Run("a confirm while the database is silent writes nothing", func(t *testing.T) {
		s := x.open(t, map[string]any{"amount": amountOf(2500, "SGD"), "allowedMethods": []string{"CARD"}})
		tok := x.tokenize(t, s, "4242424242424242", cvc3)
		before := x.counts(t)
		in := map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": "hang-before-" + tok}

		proxy.stall()
		start := time.Now()
		r := x.gql(s.Cashier, confirmMutation, map[string]any{"in": in})
		took := time.Since(start)
		proxy.resume()
		if r.code() != "UNAVAILABLE" || took > 10*time.Second {
			t.Fatalf("after %s: %s", took, r.Raw)
		}
		if after := x.counts(t); after.Payments != before.Payments || after.Attempts != before.Attempts ||
			after.Postings != before.Postings || after.Settled != before.Settled {
			t.Fatalf("money moved: before %+v, after %+v", before, after)
		}

		// The buyer's retry, same key, same request, once the database answers.
		p := x.confirm(t, s, in)
		if p.Status != "SUCCEEDED" {
			t.Fatalf("retry: %+v", p)
		}
		a := x.payment(t, p.ID).attempts()
		if len(a) != 1 || len(cardPaymentsAt(t, network, a[0].ID)) != 1 {
			t.Fatalf("attempts %+v", a)
		}
	})

	t.Run("a charge approved while the database is silent is recorded once", func(t *testing.T) {
		s := x.open(t, map[string]any{"amount": amountOf(4300, "SGD"), "allowedMethods": []string{"CARD"}})
		tok := x.tokenize(t, s, "4000000000000085", cvc3)
		in := map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": "hang-after-" + tok}

		type answer struct {
			r    gqlResponse
			took time.Duration
		}
		answered := make(chan answer, 1)
		start := time.Now()
		go func() {
			r := x.do(s.Cashier, confirmMutation, map[string]any{"in": in})
			answered <- answer{r, time.Since(start)}
		}()
		// The attempt is committed, then the network records the
		// authorization and holds its answer: silence the database then.
		raw, err := sql.Open("mysql", direct)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		var attemptID, pid string
		waitFor(t, "the attempt committed and at the network", func() bool {
			err := raw.QueryRow(`SELECT a.id, a.payment_id FROM payment_attempts a JOIN payments p ON p.id = a.payment_id
				WHERE p.checkout_session_id = ?`, s.ID).Scan(&attemptID, &pid)
			return err == nil && len(cardPaymentsAt(t, network, attemptID)) == 1
		})
		proxy.stall()
		var got answer
		select {
		case got = <-answered:
		case <-time.After(20 * time.Second):
			proxy.resume()
			t.Fatal("the confirm was not answered within 20 s of the database going silent")
		}
		proxy.resume()
		if got.took > 15*time.Second {
			t.Fatalf("answered after %s: %s", got.took, got.r.Raw)
		}
		if c := got.r.code(); c != "UNAVAILABLE" {
			t.Fatalf("answered after %s: %s", got.took, got.r.Raw)
		}

		// The janitor finds the attempt due, asks the network, and records
		// the capture once.
		x.clock.Advance(time.Minute)
		if _, err := x.app.Cashier.Sweep(sys); err != nil {
			t.Fatal(err)
		}
		p := x.waitStatus(t, pid, "SUCCEEDED")
		if p.AmountCaptured.Amount != "4300" {
			t.Fatalf("payment %+v", p)
		}
		if at := cardPaymentsAt(t, network, attemptID); len(at) != 1 || at[0].CapturedAmount != 4300 {
			t.Fatalf("the network holds %+v for %s", at, attemptID)
		}
		if got := x.sessionStatus(t, s); got != "COMPLETE" {
			t.Fatalf("session %s", got)
		}
		// The first request could not release its key while the database
		// was silent: a retry within the key's lease is refused as in
		// progress (CONFLICT after the idempotency wait, or UNAVAILABLE when
		// the request's own deadline comes first), and charges nothing.
		r := x.gql(s.Cashier, confirmMutation, map[string]any{"in": in})
		if c := r.code(); c != "CONFLICT" && c != "UNAVAILABLE" {
			t.Fatalf("retry within the lease: %s", r.Raw)
		}
		// After the lease the retry runs again: the session is paid, a
		// CONFLICT that the buyer's app answers by reading the session.
		x.clock.Advance(3 * time.Minute)
		if r = x.gql(s.Cashier, confirmMutation, map[string]any{"in": in}); r.code() != "CONFLICT" {
			t.Fatalf("retry after the lease: %s", r.Raw)
		}
		if at := cardPaymentsAt(t, network, attemptID); len(at) != 1 {
			t.Fatalf("the network holds %+v after the retries", at)
		}
	})

	t.Run("Strait serves checkouts afterwards", func(t *testing.T) {
		s := x.open(t, map[string]any{"amount": amountOf(1200, "SGD"), "allowedMethods": []string{"CARD"}})
		if p := x.payCard(t, s, "4242424242424242", cvc3); p.Status != "SUCCEEDED" {
			t.Fatalf("payment %+v", p)
		}
	})

	x.balanced(t)
	x.noCardData(t)
}

// stallingProxy forwards TCP connections to a server until stall, then
// holds every byte in both directions, without closing anything, until
// resume: what a client sees of a server whose host hangs. A side that
// closes its connection closes the other, so the server's transactions of
// a connection the client gave up on roll back.
type stallingProxy struct {
	ln       net.Listener
	upstream string

	mu      sync.Mutex
	resumed chan struct{} // closed while forwarding
}

func newStallingProxy(t *testing.T, upstream string) *stallingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallingProxy{ln: ln, upstream: upstream, resumed: make(chan struct{})}
	close(p.resumed)
	t.Cleanup(func() { ln.Close() })
	go p.accept()
	return p
}

func (p *stallingProxy) addr() string { return p.ln.Addr().String() }

func (p *stallingProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resumed:
		p.resumed = make(chan struct{})
	default: // already stalled
	}
}

func (p *stallingProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resumed:
	default:
		close(p.resumed)
	}
}

// gate waits while the proxy is stalled.
func (p *stallingProxy) gate() {
	p.mu.Lock()
	ch := p.resumed
	p.mu.Unlock()
	<-ch
}

func (p *stallingProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			p.gate() // a new connection gets no greeting while stalled
			s, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				return
			}
			go p.pipe(s, c)
			go p.pipe(c, s)
		}()
	}
}

// pipe copies src to dst, holding each chunk while the proxy is stalled.
func (p *stallingProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF, or a side closed
			return
		}
	}
}

func TestTimeoutConfig(t *testing.T) {
	for _, tt := range []struct {
		name, env, flag string
		batch, request  time.Duration
		err             bool
	}{
		{name: "defaults", batch: 30 * time.Second, request: time.Minute},
		{name: "from the environment", env: "STRAIT_DB_BATCH_TIMEOUT=5s STRAIT_REQUEST_TIMEOUT=20s", batch: 5 * time.Second, request: 20 * time.Second},
		{name: "a flag wins", env: "STRAIT_REQUEST_TIMEOUT=20s", flag: "-request-timeout=0", batch: 30 * time.Second},
		{name: "no batch bound", env: "STRAIT_DB_BATCH_TIMEOUT=0s", err: true},
		{name: "a negative request bound", flag: "-request-timeout=-1s", err: true},
		{name: "not a duration", env: "STRAIT_REQUEST_TIMEOUT=soon", err: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			for _, kv := range strings.Fields(tt.env) {
				k, v, _ := strings.Cut(kv, "=")
				vars[k] = v
			}
			var args []string
			if tt.flag != "" {
				args = []string{tt.flag}
			}
			cfg, err := app.ParseConfig("test", args, func(k string) string { return vars[k] })
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want one: %v", err, tt.err)
			}
			if !tt.err && (cfg.DBBatchTimeout != tt.batch || cfg.RequestTimeout != tt.request) {
				t.Fatalf("batch %s, request %s; want %s, %s", cfg.DBBatchTimeout, cfg.RequestTimeout, tt.batch, tt.request)
			}
		})
	}
}
