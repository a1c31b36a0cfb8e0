package app_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/server/app"
)

// cuttableE2E is an e2e environment with the cardnet connector on a fresh
// MySQL database reached through a cuttingProxy. It skips without MySQL.
func cuttableE2E(t *testing.T) (*e2e, *cuttingProxy) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	direct := storetest.URL(t, "mysql")
	cfg, err := mysql.ParseDSN(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCuttingProxy(t, cfg.Addr)
	cfg.Addr = proxy.addr()
	ctx := context.Background()
	db, err := store.Open(ctx, cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.up(); db.Close() })
	if err := store.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	x := newE2E(t, db, e2eSpec{
		connectors: []string{"cardnet"},
		configure:  func(c *app.Config) { c.RequestTimeout = 4 * time.Second },
	})
	return x, proxy
}

// cuttingProxy forwards TCP connections to a server, and cuts them as a
// database that restarts or a network that drops does: down closes every
// connection and refuses new ones (each is closed as it is accepted) until
// up; loseAnswerOnce lets one request reach the server and drops its
// answer, closing the client's connection: the client cannot know whether
// the server did the work.
type cuttingProxy struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	isUp  bool
	conns map[net.Conn]bool
	lose  [][]byte // armed: the next client chunk holding all of these loses its answer
}

func newCuttingProxy(t *testing.T, upstream string) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, upstream: upstream, isUp: true, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close() })
	go p.accept()
	return p
}

func (p *cuttingProxy) addr() string { return p.ln.Addr().String() }

// down closes every connection and refuses new ones until up.
func (p *cuttingProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isUp = false
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *cuttingProxy) up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isUp = true
}

// loseAnswerOnce arms the proxy: the next chunk a client sends that holds
// every marker goes to the server, and the server's answer is dropped with
// both connections.
func (p *cuttingProxy) loseAnswerOnce(markers ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lose = nil
	for _, m := range markers {
		p.lose = append(p.lose, []byte(m))
	}
}

// armed reports whether loseAnswerOnce has not tripped yet.
func (p *cuttingProxy) armed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lose != nil
}

// trips reports whether chunk trips the armed loss, disarming it.
func (p *cuttingProxy) trips(chunk []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lose == nil {
		return false
	}
	for _, m := range p.lose {
		if !bytes.Contains(chunk, m) {
			return false
		}
	}
	p.lose = nil
	return true
}

func (p *cuttingProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.isUp {
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *cuttingProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			s, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				return
			}
			if !p.track(c, s) {
				c.Close()
				s.Close()
				return
			}
			lost := make(chan struct{})
			var once sync.Once
			go p.pipe(c, s, false, lost, &once)
			go p.pipe(s, c, true, lost, &once)
		}()
	}
}

// pipe copies src to dst. up is the client's direction: a chunk that trips
// the armed loss goes to the server, and closes lost. The server's
// direction then closes the client's connection and drops everything the
// server sends, still reading it, so that the server runs the whole request
// (a multi-statement round trip answers statement by statement, and a
// server whose connection closes mid-way stops there); the server's
// connection is closed a while after the client's.
func (p *cuttingProxy) pipe(dst, src net.Conn, up bool, lost chan struct{}, once *sync.Once) {
	isLost := func() bool {
		select {
		case <-lost:
			return true
		default:
			return false
		}
	}
	defer func() {
		src.Close()
		if up && isLost() {
			time.AfterFunc(2*time.Second, func() { dst.Close() })
			return
		}
		dst.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if up && p.trips(buf[:n]) {
				once.Do(func() { close(lost) })
			}
			switch {
			case !up && isLost():
				dst.Close() // the answer is dropped, with the client's connection
			default:
				if _, werr := dst.Write(buf[:n]); werr != nil && !isLost() {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
