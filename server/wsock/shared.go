package wsock

import (
	"cmp"
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// registry holds the shared executions running now, by key.
type registry struct {
	mu     sync.Mutex
	groups map[string]*group
}

// group is one shared execution and the operations (of any sockets) it
// serves. Lock order: registry.mu, then group.mu, then a Conn's mu.
type group struct {
	reg    *registry
	key    string
	cancel context.CancelFunc // ends the execution

	mu      sync.Mutex
	members map[*operation]*Conn
	joins   uint64   // members that joined so far: each one's order (operation.joined)
	list    []member // a snapshot of members in join order, replaced (never edited) when dirty
	dirty   bool
	ended   bool
}

type member struct {
	op *operation
	c  *Conn
}

// shareKey identifies what a shared execution computes: the same scope,
// document, operation name and (coerced) variables give the same bytes.
// Lengths prefix each part, so no two different tuples give one key.
func shareKey(rc *graphql.OperationContext, scope string) (string, bool) {
	if rc.RawQuery == "" {
		return "", false
	}
	vars, err := json.Marshal(rc.Variables) // a map: keys in order
	if err != nil {
		return "", false
	}
	b := make([]byte, 0, len(scope)+len(rc.OperationName)+len(rc.RawQuery)+len(vars)+24)
	for _, part := range []string{scope, rc.OperationName, rc.RawQuery} {
		b = strconv.AppendInt(b, int64(len(part)), 10)
		b = append(b, ':')
		b = append(b, part...)
	}
	return string(append(b, vars...)), true
}

// join adds c's op to the shared execution of its key, starting it if
// none runs (ctx, the first subscriber's, gives it its values, not its
// lifetime). If no key can be formed, op runs alone.
func (r *registry) join(ctx context.Context, c *Conn, op *operation, exec graphql.GraphExecutor, rc *graphql.OperationContext, scope string) {
	key, ok := shareKey(rc, scope)
	if !ok || c.t.opts.SharedContext == nil {
		runAloneAttached(ctx, c, op, exec, rc)
		return
	}
	r.mu.Lock()
	g := r.groups[key]
	var gctx context.Context
	if g == nil {
		g = &group{reg: r, key: key, members: map[*operation]*Conn{}}
		gctx, g.cancel = context.WithCancel(c.t.opts.SharedContext(context.WithoutCancel(ctx), g.closeAll))
		r.groups[key] = g
	}
	g.mu.Lock()
	g.members[op] = c
	g.joins++
	op.joined = g.joins
	g.dirty = true
	g.mu.Unlock()
	r.mu.Unlock()
	if gctx != nil {
		go g.run(gctx, exec, rc)
	}
	// The socket may have closed (or the client completed op) between
	// op's registration and op.group being set: nobody else will leave.
	if c.attach(op, g, nil) {
		g.leave(op)
	}
}

// leave removes op; the last one out ends the execution.
func (g *group) leave(op *operation) {
	g.reg.mu.Lock()
	g.mu.Lock()
	if _, ok := g.members[op]; !ok {
		g.mu.Unlock()
		g.reg.mu.Unlock()
		return
	}
	delete(g.members, op)
	g.dirty = true
	last := len(g.members) == 0 && !g.ended
	if last {
		g.ended = true
		if g.reg.groups[g.key] == g {
			delete(g.reg.groups, g.key)
		}
	}
	g.mu.Unlock()
	g.reg.mu.Unlock()
	if last {
		g.cancel()
	}
}

// snapshot returns the members now, in the order they joined (a fan-out
// then walks the sockets in the order their memory was allocated, not in
// a map's random order); the slice is never written after.
func (g *group) snapshot() []member {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dirty {
		list := make([]member, 0, len(g.members))
		for op, c := range g.members {
			list = append(list, member{op, c})
		}
		slices.SortFunc(list, func(a, b member) int { return cmp.Compare(a.op.joined, b.op.joined) })
		g.list, g.dirty = list, false
	}
	return g.list
}

// run executes the subscription once for every member: each result is
// marshalled once and its bytes queued on every member's socket.
func (g *group) run(ctx context.Context, exec graphql.GraphExecutor, rc *graphql.OperationContext) {
	defer g.cancel()
	var errs []byte
	func() {
		defer func() {
			if p := recover(); p != nil {
				errs = errorList(recovered(ctx, rc, p))
			}
		}()
		results(ctx, exec, rc, func(b []byte) bool {
			for _, op := range fanOut(g.snapshot(), b) {
				g.leave(op)
			}
			return true
		})
	}()
	g.finish(errs)
}

// fanOutChunk is how many sockets one goroutine writes a result to: below
// it, one goroutine writes to all; above, the sockets are split over as
// many goroutines as there are cores (each write is a system call that
// costs several microseconds, most of it in the kernel).
const fanOutChunk = 256

// fanOut queues (and, where the socket takes it at once, writes) result b
// on every member, and returns the operations it ended. Each member's
// results keep their order: the next result's fan-out starts after this
// one's ends.
func fanOut(members []member, b []byte) []*operation {
	parts := min(runtime.GOMAXPROCS(0), (len(members)+fanOutChunk-1)/fanOutChunk)
	if parts <= 1 {
		return deliver(members, b, nil)
	}
	var wg sync.WaitGroup
	ended := make([][]*operation, parts)
	size := (len(members) + parts - 1) / parts
	for i := range parts {
		part := members[i*size : min((i+1)*size, len(members))]
		wg.Go(func() { ended[i] = deliver(part, b, nil) })
	}
	wg.Wait()
	var out []*operation
	for _, e := range ended {
		out = append(out, e...)
	}
	return out
}

// deliver queues b on members and appends the operations it ended to out.
func deliver(members []member, b []byte, out []*operation) []*operation {
	for _, m := range members {
		if m.c.result(m.op, b) {
			out = append(out, m.op)
		}
	}
	return out
}

// finish ends every member's operation: complete, or error with errs.
func (g *group) finish(errs []byte) {
	g.reg.mu.Lock()
	g.mu.Lock()
	g.ended = true
	if g.reg.groups[g.key] == g {
		delete(g.reg.groups, g.key)
	}
	g.mu.Unlock()
	g.reg.mu.Unlock()
	for _, m := range g.snapshot() {
		m.c.end(m.op, errs)
	}
}

// closeAll closes every member's socket (a shared execution cut off for
// falling behind: each client resumes from its own last cursor).
func (g *group) closeAll(code int, reason string) {
	for _, m := range g.snapshot() {
		m.c.Close(code, reason)
	}
}
