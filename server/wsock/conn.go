package wsock

import (
	"bytes"
	"context"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// frameKind is what a queued frame says; its bytes are built at write
// time, so a shared payload is queued once per socket as a slice header.
type frameKind uint8

const (
	frameAck frameKind = iota
	framePong
	frameNext
	frameError
	frameComplete
)

var frameTypes = [...]string{
	frameAck:      "connection_ack",
	framePong:     "pong",
	frameNext:     "next",
	frameError:    "error",
	frameComplete: "complete",
}

// frame is one queued server message: kind, the operation's JSON-quoted id
// (nil for connection-level messages) and the payload (shared between the
// sockets of a shared execution, never written to).
type frame struct {
	kind    frameKind
	id      []byte
	payload []byte
}

// operation is one subscribe of a socket, until it completes, fails or the
// client completes it.
type operation struct {
	id  string
	qid []byte // id as a JSON string
	// cancel ends a standalone execution; group is set instead for a shared one.
	cancel context.CancelFunc
	group  *group
	joined uint64 // its place in group's join order (under group.mu)
	// started: a result was sent (guarded by the conn's mu). The first
	// result decides between next and error.
	started bool
}

// Conn is one websocket. Strait closes it with Close (a credential's end,
// a slow consumer); OnClose hooks run once when it closes, however.
type Conn struct {
	t      *Transport
	nc     net.Conn        // the hijacked connection; frames are written whole
	raw    syscall.RawConn // nc's descriptor, for writes that never wait
	ctx    context.Context // the socket's operations run under it (after init)
	cancel context.CancelFunc

	// wmu serialises writes to nc, so that frames never interleave: the
	// writer's batches, the reader's control replies and the close frame.
	wmu       sync.Mutex
	closeSent bool // a close frame went out: nothing may follow it (under wmu)

	mu      sync.Mutex
	ops     map[string]*operation
	queue   []frame // waiting for the writer
	spare   []frame // the writer's last batch, reused
	pending int     // queued or being written
	writing bool    // a writer goroutine is draining the queue
	closed  bool
	code    int // the close code Strait chose (0: the peer left, or a write failed)
	onClose []func()
}

// Close closes the socket with code and reason (a close handshake, without
// waiting for it) and ends its operations. It is safe to call from any
// goroutine, more than once: the first close wins.
func (c *Conn) Close(code int, reason string) { c.shutdown(code, reason, true) }

// OnClose runs f once the socket closes (at once if it has).
func (c *Conn) OnClose(f func()) {
	c.mu.Lock()
	if !c.closed {
		c.onClose = append(c.onClose, f)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f()
}

// Closed reports whether the socket has closed or is closing.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// shutdown closes the socket once: its operations end, hooks run, and the
// close frame goes out (handshake) or the TCP connection just closes (the
// peer is gone or misbehaving).
func (c *Conn) shutdown(code int, reason string, handshake bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.code = true, code
	ops, hooks := c.ops, c.onClose
	c.ops, c.onClose, c.queue, c.spare = nil, nil, nil, nil
	c.mu.Unlock()
	c.cancel()
	for _, op := range ops {
		c.stop(op)
	}
	for _, f := range hooks {
		f()
	}
	if handshake {
		go c.sendClose(code, reason)
	} else {
		_ = c.nc.Close()
	}
}

// closeWait is how long a close frame may take to write, and how long the
// peer has to answer it before the connection is dropped.
const closeWait = 5 * time.Second

// sendClose writes the close frame, then gives the peer closeWait to
// answer it: the reader, which reads the answer, closes the connection
// when it comes; the timer closes it if it does not.
func (c *Conn) sendClose(code int, reason string) {
	if len(reason) > ws.MaxControlFramePayloadSize-2 {
		reason = reason[:ws.MaxControlFramePayloadSize-2]
	}
	f := ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason))
	_ = c.writeControl(ws.MustCompileFrame(f))
	time.AfterFunc(closeWait, func() { _ = c.nc.Close() })
}

// writeControl writes one whole control frame (a close, or the reader's
// answer to a ping or to the peer's close). After a close frame nothing is
// written, as RFC 6455 requires.
func (c *Conn) writeControl(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if len(b) > 0 && ws.OpCode(b[0]&0x0f) == ws.OpClose {
		c.closeSent = true
	}
	return c.writeWithin(b, closeWait)
}

// writeChunk is how much of a write must go out within one deadline: a
// peer that takes less than that in d is cut off, however long the
// whole write.
const writeChunk = 64 << 10

// writeWithin writes b, waiting for the peer up to d for each writeChunk;
// wmu is held. The deadline is cleared afterwards: the fast path's raw
// writes would otherwise fail once it had passed.
func (c *Conn) writeWithin(b []byte, d time.Duration) error {
	var err error
	for len(b) > 0 && err == nil {
		n := min(len(b), writeChunk)
		if err = c.nc.SetWriteDeadline(time.Now().Add(d)); err == nil {
			_, err = c.nc.Write(b[:n])
		}
		b = b[n:]
	}
	if cerr := c.nc.SetWriteDeadline(time.Time{}); err == nil {
		err = cerr
	}
	return err
}

// controlWriter is where the reader's control handler writes its answers.
type controlWriter struct{ c *Conn }

func (w controlWriter) Write(b []byte) (int, error) {
	if err := w.c.writeControl(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// stop ends op's execution, or its share of a shared one.
func (c *Conn) stop(op *operation) {
	c.mu.Lock()
	g, cancel := op.group, op.cancel
	c.mu.Unlock()
	if g != nil {
		g.leave(op)
	} else if cancel != nil {
		cancel()
	}
}

// attach gives op its execution (a group or a cancel) and reports whether
// op already ended (the client completed it, the socket closed): then the
// caller stops what it attached, as stop could not.
func (c *Conn) attach(op *operation, g *group, cancel context.CancelFunc) (gone bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	op.group, op.cancel = g, cancel
	return c.ops[op.id] != op
}

// add registers op under its id; false if the id is active (4409) or the
// socket is full (with full true).
func (c *Conn) add(op *operation) (ok, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false, false
	}
	if _, dup := c.ops[op.id]; dup {
		return false, false
	}
	if len(c.ops) >= c.t.opts.MaxSubscriptions {
		return false, true
	}
	c.ops[op.id] = op
	return true, false
}

// active reports whether id names an active operation (4409 on reuse).
func (c *Conn) active(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ops[id]
	return ok
}

// remove forgets id (the client completed it) and returns its operation.
func (c *Conn) remove(id string) *operation {
	c.mu.Lock()
	defer c.mu.Unlock()
	op := c.ops[id]
	delete(c.ops, id)
	return op
}

// result queues one result of op: next, or error when op's first result
// has errors and no data (a subscription the caller may not see). It
// reports whether op ended (the error message ends it).
func (c *Conn) result(op *operation, payload []byte) (ended bool) {
	c.mu.Lock()
	if c.ops[op.id] != op {
		c.mu.Unlock()
		return true
	}
	kind := frameNext
	if !op.started {
		op.started = true
		if errs, ok := refusal(payload); ok {
			kind, payload, ended = frameError, errs, true
			delete(c.ops, op.id)
		}
	}
	next := c.enqueueLocked(frame{kind: kind, id: op.qid, payload: payload})
	c.mu.Unlock()
	c.then(next)
	return ended
}

// end queues op's last message, complete or error (errs, a JSON list), if
// op is still active: after the client's own complete nothing more is sent.
func (c *Conn) end(op *operation, errs []byte) {
	c.mu.Lock()
	if c.ops[op.id] != op {
		c.mu.Unlock()
		return
	}
	delete(c.ops, op.id)
	f := frame{kind: frameComplete, id: op.qid}
	if errs != nil {
		f = frame{kind: frameError, id: op.qid, payload: errs}
	}
	next := c.enqueueLocked(f)
	c.mu.Unlock()
	c.then(next)
}

// refuse answers a subscribe that never became an operation with an error.
func (c *Conn) refuse(qid, errs []byte) {
	c.send(frame{kind: frameError, id: qid, payload: errs})
}

// send queues a message of the connection (ack, pong, a refusal).
func (c *Conn) send(f frame) {
	c.mu.Lock()
	next := c.enqueueLocked(f)
	c.mu.Unlock()
	c.then(next)
}

func (c *Conn) slow() {
	c.Close(CloseTryAgainLater, "slow consumer: resume from your last cursor")
}

// afterQueue is what a caller does once it has queued a frame and let go
// of the socket's lock.
type afterQueue uint8

const (
	queued   afterQueue = iota // a writer runs, or the socket closed
	writeNow                   // the caller is the writer: flush
	tooSlow                    // QueueLimit behind: close the socket
)

// then does what enqueueLocked asked for.
func (c *Conn) then(next afterQueue) {
	switch next {
	case writeNow:
		c.flush()
	case tooSlow:
		c.slow()
	}
}

// enqueueLocked queues f. When no writer runs, the caller becomes it
// (writeNow); a socket QueueLimit messages behind queues nothing (tooSlow).
func (c *Conn) enqueueLocked(f frame) afterQueue {
	if c.closed {
		return queued
	}
	if c.pending >= c.t.opts.QueueLimit {
		return tooSlow
	}
	c.queue = append(c.queue, f)
	c.pending++
	if c.writing {
		return queued
	}
	c.writing = true
	return writeNow
}

// take hands the writer what is queued; false (and the writer role given
// up) when nothing is, or the socket closed.
func (c *Conn) take() ([]frame, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.queue) == 0 {
		c.writing = false
		return nil, false
	}
	batch := c.queue
	c.queue, c.spare = c.spare, nil
	return batch, true
}

// nextBatch takes what is queued and builds its frames into *bufp (kept
// for the next batch); false when nothing is (see take).
func (c *Conn) nextBatch(bufp *[]byte) (batch []frame, buf []byte, ok bool) {
	if batch, ok = c.take(); !ok {
		return nil, nil, false
	}
	buf = (*bufp)[:0]
	for i := range batch {
		buf = appendMessage(buf, batch[i])
	}
	*bufp = buf
	return batch, buf, true
}

// written accounts for a batch the writer is done with.
func (c *Conn) written(batch []frame) {
	clear(batch)
	c.mu.Lock()
	c.pending -= len(batch)
	if c.spare == nil && cap(batch) <= 16 {
		c.spare = batch[:0]
	}
	c.mu.Unlock()
}

// flush writes the queue on the caller's goroutine without ever waiting:
// a socket whose peer keeps up takes each batch at once, in one system
// call, with no goroutine started and no deadline set. What the socket
// does not take at once goes to a drain goroutine, with the write lock.
// A shared execution fans each result out this way to every subscriber.
func (c *Conn) flush() {
	if c.raw == nil { // not a socket (a TLS connection): the writer may wait
		c.wmu.Lock()
		go c.drain(nil)
		return
	}
	if rest := c.writeQueue(c.writeSome); rest != nil {
		go c.drain(rest)
	}
}

// writeQueue writes the queue, batch by batch, with write until it is
// empty or a write fails (the socket then closes). When write takes less
// than a whole batch it stops and returns the rest, which must follow
// before anything else (write then still holds wmu).
func (c *Conn) writeQueue(write func([]byte) (int, error)) (rest []byte) {
	bufp := bufPool.Get().(*[]byte)
	defer putBuffer(bufp)
	for {
		batch, buf, ok := c.nextBatch(bufp)
		if !ok {
			return nil
		}
		n, err := write(buf)
		c.written(batch)
		if err != nil {
			c.shutdown(0, "", false)
			return nil
		}
		if n < len(buf) {
			return bytes.Clone(buf[n:])
		}
	}
}

// writeSome writes what the socket takes of b without waiting. Unless all
// of b went out (or the write failed), it returns with wmu still held: the
// rest of a frame must follow before anything else, and the caller hands
// the lock to drain.
func (c *Conn) writeSome(b []byte) (int, error) {
	c.wmu.Lock()
	if c.closeSent {
		c.wmu.Unlock()
		return 0, net.ErrClosed
	}
	n, err := c.rawWrite(b)
	if err != nil || n == len(b) {
		c.wmu.Unlock()
	}
	return n, err
}

// rawWrite is one write(2) on the socket, which Go keeps non-blocking:
// EAGAIN (a full send buffer) is 0 bytes written, not an error.
func (c *Conn) rawWrite(b []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if werr != syscall.EINTR {
				break
			}
		}
		if werr == syscall.EAGAIN {
			n, werr = 0, nil
		}
		return true // never wait for the socket here
	})
	if err == nil {
		err = werr
	}
	return max(n, 0), err
}

// drain owns wmu on entry: it writes rest (what flush could not), lets go
// of the lock, then writes the queue until it is empty and ends. Its
// writes may wait for the peer to read, each 64 KiB up to WriteTimeout.
// An idle socket has no writer goroutine.
func (c *Conn) drain(rest []byte) {
	var err error
	if len(rest) > 0 {
		err = c.writeHeld(rest)
	}
	c.wmu.Unlock()
	if err != nil {
		c.shutdown(0, "", false)
		return
	}
	c.writeQueue(func(b []byte) (int, error) {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		if err := c.writeHeld(b); err != nil {
			return 0, err
		}
		return len(b), nil
	})
}

// writeHeld writes b, whole frames, within WriteTimeout; wmu is held.
func (c *Conn) writeHeld(b []byte) error {
	if c.closeSent {
		return net.ErrClosed
	}
	return c.writeWithin(b, c.t.opts.WriteTimeout)
}

// bufPool holds the buffers batches are built in, one per busy writer; one
// that grew past maxPooledBuffer (a long batch, a large result) is dropped.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooledBuffer = 64 << 10

func putBuffer(bufp *[]byte) {
	if cap(*bufp) <= maxPooledBuffer {
		bufPool.Put(bufp)
	}
}

// appendMessage appends f as one websocket text frame, unmasked as a
// server's frames are (RFC 6455 section 5.2): the header, then the message.
func appendMessage(b []byte, f frame) []byte {
	n := messageLen(f)
	b = appendTextHeader(b, n)
	start := len(b)
	b = appendFrame(b, f)
	if len(b)-start != n {
		panic("wsock: messageLen disagrees with appendFrame")
	}
	return b
}

// appendTextHeader appends the header of a final, unmasked text frame of n
// bytes: the length in 7 bits, or 126 and 16 bits, or 127 and 64 bits.
func appendTextHeader(b []byte, n int) []byte {
	b = append(b, 0x80|byte(ws.OpText)) // FIN, no extension bits
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// messageLen is the length of appendFrame's output for f.
func messageLen(f frame) int {
	n := len(`{"type":"`) + len(frameTypes[f.kind]) + len(`"}`)
	if f.id != nil {
		n += len(`"id":`) + len(f.id) + len(`,`)
	}
	if len(f.payload) > 0 {
		n += len(`,"payload":`) + len(f.payload)
	}
	return n
}

// appendFrame appends f as a graphql-transport-ws message.
func appendFrame(b []byte, f frame) []byte {
	if f.id != nil {
		b = append(b, `{"id":`...)
		b = append(b, f.id...)
		b = append(b, `,"type":"`...)
	} else {
		b = append(b, `{"type":"`...)
	}
	b = append(b, frameTypes[f.kind]...)
	b = append(b, '"')
	if len(f.payload) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, f.payload...)
	}
	return append(b, '}')
}
