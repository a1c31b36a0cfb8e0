package faults

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Fault kinds.
const (
	FaultPluginKill  = "plugin-sigkill"    // SIGKILL a connector plugin (a child of strait) mid-call
	FaultSandboxStop = "sandbox-sigstop"   // SIGSTOP the sandbox past a call's deadline, then SIGCONT: lost answers
	FaultStraitKill  = "strait-sigkill"    // SIGKILL strait and start it again
	FaultDBKill      = "mysql-kill"        // KILL the test database's MySQL connections
	FaultRedeliver   = "webhook-redeliver" // redeliver recent sandbox events 1–2 more times, shuffled
)

// FaultKinds lists every kind, for reports.
var FaultKinds = []string{FaultPluginKill, FaultSandboxStop, FaultStraitKill, FaultDBKill, FaultRedeliver}

// planned is one fault of the schedule.
type planned struct {
	At       time.Duration // from the start of the load
	Kind     string
	Target   string        // plugin name
	Hold     time.Duration // how long the sandbox stays stopped
	Fraction float64       // of connections killed, of events redelivered
	Pick     int64         // seeds the fault's own choices
}

func (p planned) String() string {
	s := fmt.Sprintf("%5.1fs %s", p.At.Seconds(), p.Kind)
	switch p.Kind {
	case FaultPluginKill:
		s += " " + p.Target
	case FaultSandboxStop:
		s += fmt.Sprintf(" for %.1fs", p.Hold.Seconds())
	case FaultDBKill, FaultRedeliver:
		s += fmt.Sprintf(" %.0f%%", p.Fraction*100)
	}
	return s
}

// Schedule draws the faults of a seed over d: one every 2–5 s, from 3 s
// in, none in the last 3 s (the sandbox's stop ends before d). The same
// seed and duration give the same schedule.
func Schedule(seed int64, d time.Duration, mysql bool) []planned {
	rng := rand.New(rand.NewSource(seed))
	var out []planned
	for at := 3 * time.Second; at < d-3*time.Second; at += time.Duration(2000+rng.Intn(3000)) * time.Millisecond {
		p := planned{At: at, Pick: rng.Int63()}
		switch x := rng.Intn(100); {
		case x < 30:
			p.Kind, p.Target = FaultPluginKill, []string{"cardnet", "cardnet", "wallet", "bank"}[rng.Intn(4)]
		case x < 50:
			p.Kind, p.Hold = FaultSandboxStop, time.Duration(16000+rng.Intn(5000))*time.Millisecond
			if p.At+p.Hold > d {
				// Too late for a stop past the deadline: a short one.
				p.Hold = time.Duration(500+rng.Intn(1500)) * time.Millisecond
			}
		case x < 62:
			p.Kind = FaultStraitKill
		case x < 80:
			p.Kind, p.Fraction = FaultDBKill, 0.3+rng.Float64()*0.7
			if !mysql {
				p.Kind, p.Fraction = FaultRedeliver, 0.2+rng.Float64()*0.3
			}
		default:
			p.Kind, p.Fraction = FaultRedeliver, 0.2+rng.Float64()*0.3
		}
		out = append(out, p)
	}
	return out
}

// inject runs the schedule until it ends or ctx ends. A sandbox stop runs
// beside the later faults (a plugin killed while its call hangs at the
// stopped sandbox is killed mid-call); a stop planned while another holds is
// left out. Every SIGSTOP gets its SIGCONT before inject returns.
func (r *rig) inject(ctx context.Context, h *History, c *client, plan []planned, start time.Time) {
	var stopped sync.WaitGroup
	defer stopped.Wait()
	var stopping atomic.Bool
	for _, p := range plan {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(p.At))):
		}
		rng := rand.New(rand.NewSource(p.Pick))
		switch p.Kind {
		case FaultPluginKill:
			pids := r.pluginPIDs()
			pid, ok := pids[p.Target]
			f := h.fault(p.Kind, fmt.Sprintf("%s pid %d", p.Target, pid))
			if ok {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			} else {
				f.Detail += " (not running)"
			}
			h.endFault(f, "")
		case FaultSandboxStop:
			if !stopping.CompareAndSwap(false, true) {
				continue
			}
			f := h.fault(p.Kind, fmt.Sprintf("for %.1fs", p.Hold.Seconds()))
			_ = r.signalSandbox(syscall.SIGSTOP)
			stopped.Add(1)
			go func() {
				defer stopped.Done()
				select {
				case <-ctx.Done():
				case <-time.After(p.Hold):
				}
				_ = r.signalSandbox(syscall.SIGCONT)
				h.endFault(f, "")
				stopping.Store(false)
			}()
		case FaultStraitKill:
			f := h.fault(p.Kind, "")
			err := r.killStrait(context.Background())
			if err != nil {
				h.endFault(f, "restart: "+err.Error())
			} else {
				h.endFault(f, "restarted")
			}
		case FaultDBKill:
			f := h.fault(p.Kind, fmt.Sprintf("%.0f%% of connections", p.Fraction*100))
			n, err := r.killDBConnections(ctx, p.Fraction, rng.Float64)
			detail := fmt.Sprintf("%d killed", n)
			if err != nil {
				detail += " (" + err.Error() + ")"
			}
			h.endFault(f, detail)
		case FaultRedeliver:
			f := h.fault(p.Kind, "")
			h.endFault(f, redeliver(ctx, c, p.Fraction, rng))
		}
	}
}

// redeliver asks the sandbox to send again a fraction of its 50 newest
// events, each 1–2 more times, in a shuffled order.
func redeliver(ctx context.Context, c *client, fraction float64, rng *rand.Rand) string {
	var list struct{ Data []struct{ ID string } }
	if err := c.sandboxJSON(ctx, "GET", "/webhooks/events", &list); err != nil {
		return err.Error()
	}
	ids := make([]string, 0, len(list.Data))
	for _, e := range list.Data {
		ids = append(ids, e.ID)
	}
	sort.Strings(ids) // the sandbox lists newest first; the draw must not depend on it
	slices.Reverse(ids)
	if len(ids) > 50 {
		ids = ids[:50]
	}
	var picked []string
	for _, id := range ids {
		if rng.Float64() < fraction {
			for range 1 + rng.Intn(2) {
				picked = append(picked, id)
			}
		}
	}
	rng.Shuffle(len(picked), func(i, j int) { picked[i], picked[j] = picked[j], picked[i] })
	n := 0
	for _, id := range picked {
		if c.sandboxJSON(ctx, "POST", "/webhooks/events/"+id+"/redeliver", nil) == nil {
			n++
		}
	}
	return fmt.Sprintf("%d redeliveries of %d events", n, len(uniq(picked)))
}

func uniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// describe prints a schedule, one fault a line.
func describe(plan []planned) string {
	var b strings.Builder
	for _, p := range plan {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}
