package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// BenchmarkSocketSubscribers: STRAIT_BENCH_SOCKETS (default 10,000)
// graphql-transport-ws clients over real TCP sockets to one `strait serve`
// process (built here, SQLite), each subscribed to connectorHealth with the
// same document and the same operator token, so the server executes each
// event once and writes the same bytes to every socket
// (STRAIT_BENCH_DISTINCT=1 gives each client its own document: nothing
// shared). Each client is one goroutine reading into one reused buffer. The
// benchmark commits STRAIT_BENCH_ROUNDS (default 20) events, one every
// STRAIT_BENCH_GAP_MS (default 500 ms), to the server's database, as a replica does, and each client
// notes when it gets each one: the event-to-client latency (commit to
// receipt, through the relay, the bus, the hub and the websocket write),
// split at the relay's publish (published_at). Beside it, the same run's
// baseline on the same sockets: a graphql-transport-ws ping to every
// client at once and its pong (a socket echo round trip through the same
// server, no event path). Memory per subscriber is the server's RSS and Go
// heap+stacks after the clients subscribed, less before, over their count.
//
// Not run by `make test` (a benchmark); `make bench` runs it. Both
// processes need a file descriptor per socket: the benchmark raises its
// RLIMIT_NOFILE to the hard limit, and the server (Go does so at start)
// runs with the same; a hard limit below the count plus a margin lowers
// the count, reported as such.
func BenchmarkSocketSubscribers(b *testing.B) {
	want := envInt(b, "STRAIT_BENCH_SOCKETS", 10000)
	rounds := envInt(b, "STRAIT_BENCH_ROUNDS", 20)
	gap := time.Duration(envInt(b, "STRAIT_BENCH_GAP_MS", 500)) * time.Millisecond
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	n := want
	if max := int(lim.Max) - 200; n > max {
		n = max
	}
	distinct := os.Getenv("STRAIT_BENCH_DISTINCT") != ""
	fmt.Printf("sockets: RLIMIT_NOFILE %d (hard %d); %d clients (asked %d); distinct documents: %v; load average at start: %s\n",
		lim.Cur, lim.Max, n, want, distinct, loadavg())

	dir := b.TempDir()
	bin := filepath.Join(dir, "strait")
	if out, err := exec.Command("go", "build", "-o", bin, "../server").CombinedOutput(); err != nil {
		b.Fatalf("build strait: %v\n%s", err, out)
	}
	addr := envOr("STRAIT_BENCH_ADDR", "127.0.0.1:19701")
	env := append(os.Environ(), "STRAIT_DATA_DIR="+dir, "STRAIT_ADDR="+addr, "STRAIT_PLUGIN_DIR="+filepath.Join(dir, "plugins"),
		"STRAIT_WS_MAX_SOCKETS="+strconv.Itoa(n+10), "STRAIT_LOG_LEVEL=warn")
	// With NATS (STRAIT_BENCH_NATS, default nats://127.0.0.1:4222 when
	// it answers; "off" for none) the server's bus is JetStream and the
	// benchmark commits as another replica does: its commit's hook nudges
	// the relay over NATS. Without, the relay finds each event at its poll.
	natsURL := benchNATS()
	var natsCfg events.NATSConfig
	if natsURL != "" {
		id := strconv.FormatInt(time.Now().UnixNano(), 36)
		natsCfg = events.NATSConfig{URL: natsURL, Stream: "BENCH_" + strings.ToUpper(id), Subject: "bench." + id}
		env = append(env, "STRAIT_NATS_URL="+natsURL, "STRAIT_NATS_STREAM="+natsCfg.Stream, "STRAIT_NATS_SUBJECT="+natsCfg.Subject)
	}
	fmt.Printf("sockets: bus %s\n", map[bool]string{true: "NATS JetStream at " + natsURL + ", commits nudge the relay as another replica's do", false: "in-process, commits found by the relay's 10 ms poll"}[natsURL != ""])
	profDir := os.Getenv("STRAIT_BENCH_PROFILE") // CPU profiles of the measured rounds, server and clients
	pprofAddr := envOr("STRAIT_BENCH_PPROF_ADDR", "127.0.0.1:19702")
	if profDir != "" {
		env = append(env, "STRAIT_PPROF_ADDR="+pprofAddr)
	}
	run := func(args ...string) string {
		c := exec.Command(bin, args...)
		c.Env = env
		out, err := c.Output()
		if err != nil {
			b.Fatalf("strait %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	run("keys")
	token := run("token", "--role", "operator", "--subject", "bench")
	srv := exec.Command(bin, "serve")
	srv.Env = env
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	base := "http://" + addr
	waitUp(b, base+"/healthz")
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "strait.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if natsURL != "" {
		bus, err := events.DialNATS(context.Background(), natsCfg)
		if err != nil {
			b.Fatal(err)
		}
		defer bus.Close()
		defer deleteStream(natsURL, natsCfg.Stream)
		events.WakeOnCommit(db.Client, bus.Nudge)
	}

	time.Sleep(2 * time.Second) // the server's start-up work settles
	rssBefore, heapBefore := serverRSS(b, srv.Process.Pid), serverHeap(b, base)
	gBefore := serverMetric(b, base, "go_goroutines")

	// The clients: dial, init, subscribe, 64 at a time.
	cs := make([]*sockClient, n)
	var dialed atomic.Int64
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			query := "subscription { connectorHealth { connector } }"
			if distinct { // the same subscription, as a different document: nothing shared
				query += fmt.Sprintf(" # client %d", i)
			}
			c, err := dialSub(addr, token, query, rounds)
			if err != nil {
				errs <- err
				return
			}
			cs[i] = c
			dialed.Add(1)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("%d of %d clients up; first error: %v", dialed.Load(), n, err)
	}
	fmt.Printf("sockets: %d clients subscribed in %s\n", n, time.Since(start).Round(time.Millisecond))

	// A first event, not measured: every client has it once every
	// subscription is registered in the hub.
	send := func(i int) time.Time {
		at := time.Now()
		if err := events.RecordConnectorHealth(context.Background(), db.Client, events.ConnectorHealthData{
			Connector: fmt.Sprintf("bench-%d", i), Health: "up", Replica: "bench"}, at); err != nil {
			b.Fatal(err)
		}
		return at
	}
	send(0)
	waitAll(b, cs, 0)
	time.Sleep(time.Second)
	rssAfter, heapAfter := serverRSS(b, srv.Process.Pid), serverHeap(b, base)
	stacks := serverMetric(b, base, "go_memstats_stack_inuse_bytes")
	goroutines := serverMetric(b, base, "go_goroutines") - gBefore

	// The server's CPU with the subscribers idle (the relay's poll, the
	// schedulers), over 5 s: the per-delivery figure below subtracts it.
	idleFrom, idleAt := procTicks(srv.Process.Pid), time.Now()
	time.Sleep(5 * time.Second)
	idleTicksPerSec := float64(procTicks(srv.Process.Pid)-idleFrom) / time.Since(idleAt).Seconds()

	b.ResetTimer()
	roundsAt := time.Now()
	stopProfiles := startProfiles(b, profDir, pprofAddr, time.Duration(rounds)*gap)
	serverTicks, clientTicks := procTicks(srv.Process.Pid), procTicks(os.Getpid())
	sent := runRounds(b, cs, rounds, gap, send)
	serverTicks, clientTicks = procTicks(srv.Process.Pid)-serverTicks, procTicks(os.Getpid())-clientTicks
	roundsTook := time.Since(roundsAt)
	stopProfiles()
	b.StopTimer()
	published := publishedAt(b, db.Client, rounds)
	var lat, hop []time.Duration
	for _, c := range cs {
		for r := 1; r <= rounds; r++ {
			got := time.Unix(0, c.got[r].Load())
			lat = append(lat, got.Sub(sent[r]))
			if p, ok := published[r]; ok {
				hop = append(hop, got.Sub(p))
			}
		}
	}
	var perRound []string // each event's own p50/p99/max: is the tail every event's, or a few events'?
	for r := 1; r <= rounds; r++ {
		var one []time.Duration
		for _, c := range cs {
			one = append(one, time.Unix(0, c.got[r].Load()).Sub(sent[r]))
		}
		q50, q99 := percentiles(one)
		slices.Sort(one)
		perRound = append(perRound, fmt.Sprintf("%.0f/%.0f/%.0f", float64(q50.Microseconds())/1000, float64(q99.Microseconds())/1000, float64(one[len(one)-1].Microseconds())/1000))
	}
	relay := make([]time.Duration, 0, rounds)
	for r := 1; r <= rounds; r++ {
		relay = append(relay, published[r].Sub(sent[r]))
	}

	// Baseline: a ping to every socket at once, each pong's round trip.
	var echo []time.Duration
	for r := 0; r < 5; r++ {
		at := time.Now()
		for _, c := range cs {
			c.pinged.Store(at.UnixNano())
			if err := c.write([]byte(`{"type":"ping"}`)); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range cs {
			select {
			case d := <-c.pong:
				echo = append(echo, d)
			case <-time.After(30 * time.Second):
				b.Fatal("a pong did not come in 30 s")
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Memory again after the events and the pings: garbage collections
	// have run since, which the first reading (just after the clients
	// subscribed) may not have seen.
	rssEnd, heapEnd := serverRSS(b, srv.Process.Pid), serverHeap(b, base)
	stacksEnd := serverMetric(b, base, "go_memstats_stack_inuse_bytes")
	for _, c := range cs {
		c.conn.Close()
	}
	// The floor, with the same clients: a bare Go server writing the same
	// frame to every socket (bench/barefanout).
	bare, bareServerCPU, bareClientCPU := bareFanout(b, dir, n, rounds, gap)

	p50, p99 := percentiles(lat)
	h50, h99 := percentiles(hop)
	r50, r99 := percentiles(relay)
	e50, e99 := percentiles(echo)
	rssPer := float64(rssAfter-rssBefore) / float64(n)
	heapPer := float64(heapAfter-heapBefore) / float64(n)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
	b.ReportMetric(rssPer/1024, "rss_KiB/sub")
	b.ReportMetric(heapPer/1024, "heap_KiB/sub")
	b.ReportMetric(float64(e99.Microseconds())/1000, "echo_p99_ms")
	fmt.Printf("sockets: %d subscribers, %d events: commit to client p50 %s, p99 %s (goal p99 ≤ 100 ms); of which relay (commit to publish) p50 %s, p99 %s; publish to client p50 %s, p99 %s\n",
		n, rounds, ms(p50), ms(p99), ms(r50), ms(r99), ms(h50), ms(h99))
	deliveries := float64(rounds * n)
	serverCPU, clientCPU := float64(serverTicks)*1e4/deliveries, float64(clientTicks)*1e4/deliveries // µs
	serverBusyCPU := (float64(serverTicks) - idleTicksPerSec*roundsTook.Seconds()) * 1e4 / deliveries
	b.ReportMetric(serverCPU, "server_µs/delivery")
	fmt.Printf("sockets: CPU per delivered event (user+system, over the measured rounds): server %.1f µs (%.1f µs less its idle %.1f%% of a core), clients %.1f µs; one event to all %d costs %.0f ms of CPU, %.0f ms on %d cores\n",
		serverCPU, serverBusyCPU, idleTicksPerSec, clientCPU, n, (serverCPU+clientCPU)*float64(n)/1000, (serverCPU+clientCPU)*float64(n)/1000/float64(runtime.NumCPU()), runtime.NumCPU())
	fmt.Printf("sockets: each event, p50/p99/max ms: %s\n", strings.Join(perRound, " "))
	fmt.Printf("sockets: server memory per subscriber: RSS %.1f KiB, Go heap+stacks %.1f KiB (goal ≤ 50 KB); RSS %d → %d MiB; %.1f goroutines per subscriber, stacks %.1f KiB per subscriber\n",
		rssPer/1024, heapPer/1024, rssBefore>>20, rssAfter>>20, goroutines/float64(n), stacks/float64(n)/1024)
	fmt.Printf("sockets: the same at the end of the run: RSS %.1f KiB, Go heap+stacks %.1f KiB, stacks %.1f KiB per subscriber\n",
		float64(rssEnd-rssBefore)/float64(n)/1024, float64(heapEnd-heapBefore)/float64(n)/1024, stacksEnd/float64(n)/1024)
	fmt.Printf("sockets: baseline, ping to all %d sockets at once, pong round trip p50 %s, p99 %s; ratio p99 %.2f\n",
		n, ms(e50), ms(e99), float64(p99)/float64(e99))
	b50, b99 := percentiles(bare)
	b.ReportMetric(float64(b99.Microseconds())/1000, "bare_p99_ms")
	fmt.Printf("sockets: floor, a bare Go server (no handshake, no GraphQL, no event path) writing the same frame to %d sockets read by the same clients: request to client p50 %s, p99 %s; CPU per delivery server %.1f µs, clients %.1f µs; Strait's publish to client p99 over the floor's: %.2f\n",
		n, ms(b50), ms(b99), bareServerCPU, bareClientCPU, float64(h99)/float64(b99))
	fmt.Printf("sockets: load average at the end: %s\n", loadavg())
}

// startProfiles, when dir is set (STRAIT_BENCH_PROFILE), records the
// clients' CPU profile (this process) and the server's (its pprof
// listener, for d) during the measured rounds, into dir/client.cpu and
// dir/server.cpu; the returned func ends both.
func startProfiles(b *testing.B, dir, pprofAddr string, d time.Duration) func() {
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "client.cpu"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(d.Seconds()+0.5)))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		out, err := os.Create(filepath.Join(dir, "server.cpu"))
		if err == nil {
			_, err = io.Copy(out, resp.Body)
			out.Close()
		}
		done <- err
	}()
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		if err := <-done; err != nil {
			b.Errorf("server profile: %v", err)
		}
	}
}

// benchNATS is the NATS server the benchmark uses, or "".
func benchNATS() string {
	url := os.Getenv("STRAIT_BENCH_NATS")
	switch url {
	case "off":
		return ""
	case "":
		c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
		if err != nil {
			return ""
		}
		c.Close()
		return "nats://127.0.0.1:4222"
	}
	return url
}

// deleteStream removes the benchmark's JetStream stream.
func deleteStream(url, stream string) {
	nc, err := nats.Connect(url)
	if err != nil {
		return
	}
	defer nc.Close()
	if js, err := jetstream.New(nc); err == nil {
		_ = js.DeleteStream(context.Background(), stream)
	}
}

// bareFanout runs bench/barefanout with n clients for rounds events, one
// every gap: each client's latency from the fan-out request to its read,
// and the CPU per delivery of the server and of the clients.
func bareFanout(b *testing.B, dir string, n, rounds int, gap time.Duration) (lat []time.Duration, serverCPU, clientCPU float64) {
	bin := filepath.Join(dir, "barefanout")
	if out, err := exec.Command("go", "build", "-o", bin, "./barefanout").CombinedOutput(); err != nil {
		b.Fatalf("build barefanout: %v\n%s", err, out)
	}
	addr, control := envOr("STRAIT_BENCH_BARE_ADDR", "127.0.0.1:19703"), envOr("STRAIT_BENCH_BARE_CONTROL", "127.0.0.1:19704")
	srv := exec.Command(bin, "-listen", addr, "-control", control)
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	count := func() int {
		resp, err := http.Get("http://" + control + "/count")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		got, _ := strconv.Atoi(string(body))
		return got
	}
	for i := 0; count() < 0; i++ {
		if i == 300 {
			b.Fatal("barefanout not up in 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cs := make([]*sockClient, n)
	for i := range cs {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatalf("barefanout client %d: %v", i, err)
		}
		cs[i] = newSockClient(conn, nil, rounds)
		go cs[i].read()
	}
	defer func() {
		for _, c := range cs {
			c.conn.Close()
		}
	}()
	for count() < n {
		time.Sleep(10 * time.Millisecond)
	}
	send := func(r int) time.Time {
		at := time.Now()
		resp, err := http.Post(fmt.Sprintf("http://%s/fanout?r=%d", control, r), "", nil)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		return at
	}
	send(0)
	waitAll(b, cs, 0)
	serverTicks, clientTicks := procTicks(srv.Process.Pid), procTicks(os.Getpid())
	sent := runRounds(b, cs, rounds, gap, send)
	deliveries := float64(rounds * n)
	serverCPU = float64(procTicks(srv.Process.Pid)-serverTicks) * 1e4 / deliveries
	clientCPU = float64(procTicks(os.Getpid())-clientTicks) * 1e4 / deliveries
	for _, c := range cs {
		for r := 1; r <= rounds; r++ {
			lat = append(lat, time.Unix(0, c.got[r].Load()).Sub(sent[r]))
		}
	}
	return lat, serverCPU, clientCPU
}

// sockClient is one subscriber: got[r] is when it received event r
// (UnixNano), pong its pongs' round trips. It speaks graphql-transport-ws
// over github.com/gobwas/ws frames read straight off its connection: on
// two cores shared with the server, the clients' own cost is part of the
// latency measured, so they are kept as lean as a websocket client can be
// (the baseline below is measured with the same clients).
type sockClient struct {
	conn   net.Conn
	in     *bufio.Reader
	wmu    sync.Mutex // the pings (the benchmark) and the pongs (read) both write
	got    []atomic.Int64
	pinged atomic.Int64
	pong   chan time.Duration
}

func dialSub(addr, token, query string, rounds int) (*sockClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{Protocols: []string{"graphql-transport-ws"}}.Dial(ctx, "ws://"+addr+"/graphql")
	if err != nil {
		return nil, err
	}
	c := newSockClient(conn, br, rounds)
	init, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	if err := c.write(init); err != nil {
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	ack, err := c.readMessage(nil)
	if err != nil || !bytes.Equal(ack, []byte(`{"type":"connection_ack"}`)) {
		return nil, fmt.Errorf("init: %v %q", err, ack)
	}
	_ = conn.SetReadDeadline(time.Time{})
	sub, _ := json.Marshal(map[string]any{"id": "h", "type": "subscribe", "payload": map[string]any{"query": query}})
	if err := c.write(sub); err != nil {
		return nil, err
	}
	go c.read()
	return c, nil
}

// newSockClient reads conn, after br's bytes if the dial left some (what
// the server wrote before the handshake was read).
func newSockClient(conn net.Conn, br *bufio.Reader, rounds int) *sockClient {
	in := bufio.NewReaderSize(conn, 512)
	if br != nil {
		in = bufio.NewReaderSize(io.MultiReader(br, conn), 512)
	}
	return &sockClient{conn: conn, in: in, got: make([]atomic.Int64, rounds+1), pong: make(chan time.Duration, 1)}
}

// write sends one text message, masked as a client's frames must be.
func (c *sockClient) write(msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return wsutil.WriteClientText(c.conn, msg)
}

// readMessage reads the next text message into buf (grown if need be):
// the server's frames are whole and unmasked; a close frame ends the read.
func (c *sockClient) readMessage(buf []byte) ([]byte, error) {
	for {
		h, err := ws.ReadHeader(c.in)
		if err != nil {
			return nil, err
		}
		if int64(cap(buf)) < h.Length {
			buf = make([]byte, h.Length)
		}
		buf = buf[:h.Length]
		if _, err := io.ReadFull(c.in, buf); err != nil {
			return nil, err
		}
		switch {
		case h.OpCode == ws.OpClose:
			return nil, io.EOF
		case h.OpCode == ws.OpText && h.Fin:
			return buf, nil
		}
	}
}

// read is the client's only goroutine: each message is read into one
// reused buffer and recognised by its bytes, not decoded.
func (c *sockClient) read() {
	buf := make([]byte, 0, 512)
	for {
		msg, err := c.readMessage(buf)
		if err != nil {
			return
		}
		buf = msg[:0]
		now := time.Now()
		switch {
		case bytes.HasPrefix(msg, []byte(`{"id":"h","type":"next"`)):
			if i := bytes.Index(msg, []byte(`"bench-`)); i >= 0 {
				r := 0
				for _, d := range msg[i+len(`"bench-`):] {
					if d < '0' || d > '9' {
						break
					}
					r = r*10 + int(d-'0')
				}
				if r < len(c.got) {
					c.got[r].Store(now.UnixNano())
				}
			}
		case bytes.Equal(msg, []byte(`{"type":"pong"}`)):
			c.pong <- now.Sub(time.Unix(0, c.pinged.Load()))
		case bytes.Equal(msg, []byte(`{"type":"ping"}`)):
			_ = c.write([]byte(`{"type":"pong"}`))
		}
	}
}

// runRounds sends events 1 to rounds with send, one every gap, and waits
// until every client has each; sent[r] is when event r was sent.
func runRounds(b *testing.B, cs []*sockClient, rounds int, gap time.Duration, send func(int) time.Time) []time.Time {
	sent := make([]time.Time, rounds+1)
	for r := 1; r <= rounds; r++ {
		sent[r] = send(r)
		time.Sleep(gap)
	}
	for r := 1; r <= rounds; r++ {
		waitAll(b, cs, r)
	}
	return sent
}

// waitAll waits until every client has event r.
func waitAll(b *testing.B, cs []*sockClient, r int) {
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range cs {
		for c.got[r].Load() == 0 {
			if time.Now().After(deadline) {
				b.Fatalf("event %d missing after 60 s", r)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func publishedAt(b *testing.B, client *ent.Client, rounds int) map[int]time.Time {
	evs, err := client.Event.Query().Where(event.Type(events.TypeConnectorHealth), event.PublishedAtNotNil()).
		All(viewer.SystemContext(context.Background()))
	if err != nil {
		b.Fatal(err)
	}
	out := map[int]time.Time{}
	for _, e := range evs {
		if r, err := strconv.Atoi(strings.TrimPrefix(e.ObjectID, "bench-")); err == nil && r <= rounds {
			out[r] = *e.PublishedAt
		}
	}
	return out
}

func waitUp(b *testing.B, url string) {
	for i := 0; i < 300; i++ {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("%s not up in 30 s", url)
}

// serverRSS is the process's resident set, in bytes.
func serverRSS(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// serverHeap is the server's Go heap and stacks in use, from /metrics.
func serverHeap(b *testing.B, base string) int64 {
	return int64(serverMetric(b, base, "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes"))
}

// serverMetric sums the named gauges of the server's /metrics.
func serverMetric(b *testing.B, base string, names ...string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		for _, name := range names {
			if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				total += v
			}
		}
	}
	return total
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
