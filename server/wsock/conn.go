package wsock

import (
	"context"
	"sync"
	"time"

	"github.com/coder/websocket"
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
	// started: a result was sent (guarded by the conn's mu). The first
	// result decides between next and error.
	started bool
}

// Conn is one websocket. Strait closes it with Close (a credential's end,
// a slow consumer); OnClose hooks run once when it closes, however.
type Conn struct {
	t      *Transport
	ws     *websocket.Conn
	ctx    context.Context // the socket's operations run under it (after init)
	cancel context.CancelFunc

	mu      sync.Mutex
	ops     map[string]*operation
	queue   []frame // waiting for the writer
	spare   []frame // the writer's last batch, reused
	pending int     // queued or being written
	writing bool    // a writer goroutine is draining the queue
	closed  bool
	code    int // the close code Strait chose (0: the peer left, or a write failed)
	onClose []func()
	wtimer  *time.Timer // closes a write that takes longer than WriteTimeout
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
		// The handshake waits up to 5 s for the peer's answer, read by the
		// reader goroutine; nobody needs to wait for it.
		go func() { _ = c.ws.Close(websocket.StatusCode(code), reason) }()
	} else {
		_ = c.ws.CloseNow()
	}
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
	slow := c.enqueueLocked(frame{kind: kind, id: op.qid, payload: payload})
	c.mu.Unlock()
	if slow {
		c.slow()
	}
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
	slow := c.enqueueLocked(f)
	c.mu.Unlock()
	if slow {
		c.slow()
	}
}

// refuse answers a subscribe that never became an operation with an error.
func (c *Conn) refuse(qid, errs []byte) {
	c.send(frame{kind: frameError, id: qid, payload: errs})
}

// send queues a message of the connection (ack, pong, a refusal).
func (c *Conn) send(f frame) {
	c.mu.Lock()
	slow := !c.closed && c.enqueueLocked(f)
	c.mu.Unlock()
	if slow {
		c.slow()
	}
}

func (c *Conn) slow() {
	c.Close(CloseTryAgainLater, "slow consumer: resume from your last cursor")
}

// enqueueLocked queues f and starts a writer if none runs; it reports true
// (and queues nothing) when the socket is QueueLimit messages behind.
func (c *Conn) enqueueLocked(f frame) (slow bool) {
	if c.closed {
		return false
	}
	if c.pending >= c.t.opts.QueueLimit {
		return true
	}
	c.queue = append(c.queue, f)
	c.pending++
	if !c.writing {
		c.writing = true
		go c.drain()
	}
	return false
}

// drain writes the queue until it is empty, then ends: an idle socket has
// no writer goroutine. Each write is bounded by WriteTimeout.
func (c *Conn) drain() {
	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	for {
		c.mu.Lock()
		if c.closed || len(c.queue) == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue, c.spare = c.spare, nil
		if c.wtimer == nil {
			c.wtimer = time.AfterFunc(time.Hour, func() { c.shutdown(0, "", false) })
		}
		c.mu.Unlock()
		for i := range batch {
			*bufp = appendFrame((*bufp)[:0], batch[i])
			c.wtimer.Reset(c.t.opts.WriteTimeout)
			err := c.ws.Write(context.Background(), websocket.MessageText, *bufp)
			c.wtimer.Stop()
			if err != nil {
				c.shutdown(0, "", false)
				return
			}
		}
		clear(batch)
		c.mu.Lock()
		c.pending -= len(batch)
		if c.spare == nil && cap(batch) <= 16 {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
	}
}

// bufPool holds the buffers frames are built in, one per busy writer.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

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
