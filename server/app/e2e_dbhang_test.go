package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
//     while the key is in progress, then answer that payment, and charge
//     nothing;
//   - Strait serves other checkouts afterwards.
func TestADatabaseThatStopsAnsweringLosesNothing(t *testing.T) {
	x, proxy, direct := proxiedE2E(t, nil)
	network := x.sb.URL()
	sys := viewer.SystemContext(context.Background())

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
		// A retry within the key's lease is refused as in progress when the
		// first request could not release its key while the database was
		// silent (CONFLICT after the idempotency wait, or UNAVAILABLE when
		// the request's own deadline comes first); when the key is free, it
		// runs and finds the payment its first run made. It charges nothing.
		r := x.gql(s.Cashier, confirmMutation, map[string]any{"in": in})
		if c := r.code(); c != "CONFLICT" && c != "UNAVAILABLE" && (c != "" || !strings.Contains(r.Raw, pid)) {
			t.Fatalf("retry within the lease: %s", r.Raw)
		}
		// After the lease the retry runs again: it finds the payment its
		// first run made, paid by now.
		x.clock.Advance(3 * time.Minute)
		if r = x.gql(s.Cashier, confirmMutation, map[string]any{"in": in}); r.code() != "" || !strings.Contains(r.Raw, pid) || !strings.Contains(r.Raw, `"SUCCEEDED"`) {
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

// proxiedE2E is an e2e environment with the cardnet connector on a fresh
// MySQL database reached through a stallingProxy, with params added to the
// DSN, the batch timeout at one second and the request timeout at four. It
// returns the proxy and the database's own DSN. It skips without MySQL.
func proxiedE2E(t *testing.T, params map[string]string) (*e2e, *stallingProxy, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	direct := storetest.URL(t, "mysql")
	cfg, err := mysql.ParseDSN(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallingProxy(t, cfg.Addr)
	cfg.Addr = proxy.addr()
	for k, v := range params {
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params[k] = v
	}
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
		sandbox: func(c *sandbox.Config) { c.TimeoutHold = 3 * time.Second },
	})
	return x, proxy, direct
}

// TestATransactionCutOffMidCommitReleasesItsLocks cuts the connection of a
// payment's record transaction after it locked the payment and the ledger
// accounts, before its writes and COMMIT reach MySQL: a partition, so MySQL
// keeps the transaction and its locks until it drops the connection itself
// (wait_timeout: store.DefaultWaitTimeout by default, eight seconds here).
// The payment is answered at its batch's deadline, before MySQL drops the
// connection, and nothing of its record is written; once MySQL has dropped the connection, captures posting to the
// same ledger accounts go through again, and the janitor records the cut
// payment's capture once.
func TestATransactionCutOffMidCommitReleasesItsLocks(t *testing.T) {
	const waitTimeout = 8 * time.Second
	x, proxy, direct := proxiedE2E(t, map[string]string{"wait_timeout": strconv.Itoa(int(waitTimeout / time.Second))})
	network := x.sb.URL()
	raw, err := sql.Open("mysql", direct)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	s := x.open(t, map[string]any{"amount": amountOf(3100, "SGD"), "allowedMethods": []string{"CARD"}})
	tok := x.tokenize(t, s, "4242424242424242", cvc3)
	proxy.cutOnce("UPDATE ledger_accounts") // the record transaction's writes, with its COMMIT
	start := time.Now()
	r := x.gql(s.Cashier, confirmMutation, map[string]any{"in": map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": "cut-" + tok}})
	// Answered at the record batch's deadline (one second), well before
	// MySQL drops the connection: the COMMIT that never returns is bounded.
	if took := time.Since(start); r.code() != "UNAVAILABLE" || took > waitTimeout-2*time.Second {
		t.Fatalf("after %s: %s", took, r.Raw)
	}
	var attemptID, pid, status string
	if err := raw.QueryRow(`SELECT a.id, a.payment_id, p.status FROM payment_attempts a JOIN payments p ON p.id = a.payment_id
		WHERE p.checkout_session_id = ?`, s.ID).Scan(&attemptID, &pid, &status); err != nil {
		t.Fatal(err)
	}
	if status != "PROCESSING" || len(cardPaymentsAt(t, network, attemptID)) != 1 {
		t.Fatalf("payment %s is %s; the network holds %+v", pid, status, cardPaymentsAt(t, network, attemptID))
	}

	// MySQL drops the cut connection after wait_timeout, rolling its
	// transaction back; then a capture to the same accounts goes through.
	time.Sleep(time.Until(start.Add(waitTimeout + 2*time.Second)))
	next := x.open(t, map[string]any{"amount": amountOf(3200, "SGD"), "allowedMethods": []string{"CARD"}})
	if p := x.payCard(t, next, "4242424242424242", cvc3); p.Status != "SUCCEEDED" {
		t.Fatalf("the next payment: %+v", p)
	}

	x.clock.Advance(time.Minute)
	if _, err := x.app.Cashier.Sweep(viewer.SystemContext(context.Background())); err != nil {
		t.Fatal(err)
	}
	if p := x.waitStatus(t, pid, "SUCCEEDED"); p.AmountCaptured.Amount != "3100" {
		t.Fatalf("payment %+v", p)
	}
	var entries int
	if err := raw.QueryRow("SELECT COUNT(*) FROM journal_entries WHERE source_id = ?", pid).Scan(&entries); err != nil || entries != 1 {
		t.Fatalf("%d journal entries for %s (%v), want 1", entries, pid, err)
	}
	if at := cardPaymentsAt(t, network, attemptID); len(at) != 1 {
		t.Fatalf("the network holds %+v", at)
	}
	x.balanced(t)
}

// stallingProxy forwards TCP connections to a server until stall, then
// holds every byte in both directions, without closing anything, until
// resume: what a client sees of a server whose host hangs. A side that
// closes its connection closes the other, so the server's transactions of
// a connection the client gave up on roll back; except on a connection cut
// (cutOnce), which the server keeps, silent, until it drops it itself: a
// partition between the two.
type stallingProxy struct {
	ln       net.Listener
	upstream string

	mu      sync.Mutex
	resumed chan struct{} // closed while forwarding
	cut     []byte        // armed: the next client chunk holding it cuts its connection
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

// cutOnce arms a cut: the next chunk a client sends that holds marker is
// dropped, with everything after it on that connection in both directions,
// and the client's close does not reach the server.
func (p *stallingProxy) cutOnce(marker string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = []byte(marker)
}

// cuts reports whether chunk trips the armed cut, disarming it.
func (p *stallingProxy) cuts(chunk []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut == nil || !bytes.Contains(chunk, p.cut) {
		return false
	}
	p.cut = nil
	return true
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
			var cut atomic.Bool
			go p.pipe(s, c, &cut, true)
			go p.pipe(c, s, &cut, false)
		}()
	}
}

// pipe copies src to dst, holding each chunk while the proxy is stalled
// and dropping every chunk once the connection is cut. up is the client's
// direction.
func (p *stallingProxy) pipe(dst, src net.Conn, cut *atomic.Bool, up bool) {
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && up && p.cuts(buf[:n]) {
			cut.Store(true)
		}
		if n > 0 && !cut.Load() {
			p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				dst.Close()
				return
			}
		}
		if err != nil { // EOF, or a side closed
			if !(up && cut.Load()) {
				dst.Close()
			}
			return
		}
	}
}
