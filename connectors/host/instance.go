package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/internal/wire"
	pb "github.com/straitpay/strait/connectors/proto/connectorv1"
)

// instance supervises one connector plugin across its restarts.
type instance struct {
	m       *Manager
	entry   Entry
	binary  string
	log     *slog.Logger
	breaker *breaker
	window  window
	enabled atomic.Bool

	mu        sync.RWMutex
	client    *plugin.Client
	rpc       pb.ConnectorClient
	desc      connectors.Descriptor
	health    Health
	since     time.Time
	pid       int
	restarts  int
	lastError string
}

func newInstance(m *Manager, e Entry, binary string) *instance {
	in := &instance{
		m: m, entry: e, binary: binary,
		log:     m.log.With("connector", e.Name),
		breaker: newBreaker(m.cfg.BreakerFailures, m.cfg.BreakerCooldown, m.cfg.Now),
		health:  HealthStarting, since: m.cfg.Now(),
	}
	in.enabled.Store(e.Enabled == nil || *e.Enabled)
	return in
}

// errRefused marks a launch failure that a restart cannot fix: a checksum
// mismatch, an incompatible protocol, a config that does not resolve.
var errRefused = errors.New("refused")

// supervise launches the plugin and keeps it running until ctx ends.
// ready is closed after the first launch attempt.
func (in *instance) supervise(ctx context.Context, ready chan struct{}) {
	var once sync.Once
	started := func() { once.Do(func() { close(ready) }) }
	defer func() {
		if ctx.Err() != nil {
			in.setHealth(HealthDown, "")
		}
		started() // after the health of the first launch is known
	}()
	delay := in.m.cfg.RestartMin
	for {
		client, err := in.launch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errRefused) {
				in.log.Error("connector refused", "err", err)
				in.setHealth(HealthDown, err.Error())
				return
			}
			in.log.Error("connector failed to start", "err", err, "retry_in", delay)
			in.setHealth(HealthRestarting, err.Error())
			started()
		} else {
			started()
			upAt := in.m.cfg.Now()
			reason := in.watch(ctx, client)
			in.setHealth(HealthRestarting, reason)
			in.stop(client)
			if ctx.Err() != nil {
				return
			}
			if in.m.cfg.Now().Sub(upAt) > time.Minute {
				// It ran fine for a while: this crash starts a new series.
				delay = in.m.cfg.RestartMin
			}
			in.log.Error("connector crashed; restarting", "reason", reason, "retry_in", delay)
			in.mu.Lock()
			in.restarts++
			in.mu.Unlock()
			in.m.metrics.restarts.WithLabelValues(in.entry.Name).Inc()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, in.m.cfg.RestartMax)
	}
}

// launch starts the process, handshakes, configures it and reads its
// descriptor. On success the instance is up and serving calls.
func (in *instance) launch(ctx context.Context) (*plugin.Client, error) {
	cfg, err := resolveConfig(in.entry.Config, in.m.cfg.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRefused, err)
	}
	sum, _ := hex.DecodeString(in.entry.SHA256) // checked by DecodeManifest
	cmd := exec.Command(in.binary)
	setProcAttr(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.PluginSets(nil),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     in.m.cfg.StartTimeout,
		Logger:           newHCLog(in.log, "plugin"),
		Stderr:           discard{},
		GRPCDialOptions:  wire.DialOptions(),
	})
	rpcClient, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, classifyStartErr(err)
	}
	raw, err := rpcClient.Dispense(wire.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("dispense: %w", err)
	}
	rpc := raw.(pb.ConnectorClient)
	cctx, cancel := context.WithTimeout(ctx, in.m.cfg.CallTimeout)
	defer cancel()
	if _, err := rpc.Configure(cctx, &pb.ConfigureRequest{Config: cfg}); err != nil {
		client.Kill()
		_, cerr := wire.FromStatus("configure", err)
		if connectors.ErrorCode(cerr) == connectors.EINVALID {
			return nil, fmt.Errorf("%w: %w", errRefused, cerr)
		}
		return nil, cerr
	}
	d, err := rpc.Describe(cctx, &pb.DescribeRequest{})
	if err != nil {
		client.Kill()
		_, cerr := wire.FromStatus("describe", err)
		return nil, cerr
	}
	desc := wire.DescriptorFromPB(d)
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	in.mu.Lock()
	in.client, in.rpc, in.desc, in.pid = client, rpc, desc, pid
	in.mu.Unlock()
	in.setHealth(HealthUp, "")
	in.log.Info("connector up", "version", desc.Version, "kind", desc.Kind, "pid", pid,
		"protocol", client.NegotiatedVersion())
	return client, nil
}

// classifyStartErr marks the start failures a restart cannot fix.
func classifyStartErr(err error) error {
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("%w: binary checksum does not match the manifest (tampered or wrong sha256): %w", errRefused, err)
	case strings.Contains(err.Error(), "incompatible API version"):
		return fmt.Errorf("%w: incompatible connector protocol: host speaks version %d: %w", errRefused, wire.ProtocolVersion, err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", errRefused, err)
	}
	return fmt.Errorf("start: %w", err)
}

// watch returns when the plugin exits or stops answering pings.
func (in *instance) watch(ctx context.Context, client *plugin.Client) string {
	evctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go in.pumpEvents(evctx, client)
	// Exited() is a cheap flag read; 20 ms polling puts a crash's
	// detection well inside the 2 s recovery budget.
	exit := time.NewTicker(20 * time.Millisecond)
	defer exit.Stop()
	ping := time.NewTicker(in.m.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return "closed"
		case <-exit.C:
			if client.Exited() {
				return "process exited"
			}
		case <-ping.C:
			if err := in.ping(client); err != nil {
				return "ping failed: " + err.Error()
			}
		}
	}
}

func (in *instance) ping(client *plugin.Client) error {
	rpc, err := client.Client()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- rpc.Ping() }()
	select {
	case err := <-done:
		return err
	case <-time.After(in.m.cfg.PingInterval):
		return errors.New("no answer")
	}
}

// stop kills the process and forgets the client.
func (in *instance) stop(client *plugin.Client) {
	in.mu.Lock()
	in.client, in.rpc, in.pid = nil, nil, 0
	in.mu.Unlock()
	client.Kill()
}

// pumpEvents streams the plugin's events into the manager and acks each
// one after delivery. The stream is opened again after any break while
// the process lives; unacknowledged events are then sent again.
func (in *instance) pumpEvents(ctx context.Context, client *plugin.Client) {
	for ctx.Err() == nil && !client.Exited() {
		in.mu.RLock()
		rpc := in.rpc
		in.mu.RUnlock()
		if rpc == nil {
			return
		}
		err := in.streamOnce(ctx, rpc)
		if ctx.Err() != nil {
			return
		}
		in.log.Debug("event stream ended; reopening", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (in *instance) streamOnce(ctx context.Context, rpc pb.ConnectorClient) error {
	stream, err := rpc.Events(ctx, &pb.EventsRequest{})
	if err != nil {
		return err
	}
	for {
		e, err := stream.Recv()
		if err != nil {
			return err
		}
		ev := wire.EventFromPB(e)
		if err := in.m.deliver(ctx, in.entry.Name, ev); err != nil {
			return err // not acked: the plugin sends it again
		}
		actx, cancel := context.WithTimeout(ctx, in.m.cfg.CallTimeout)
		_, err = rpc.AckEvents(actx, &pb.AckEventsRequest{Ids: []string{ev.ID}})
		cancel()
		if err != nil {
			return fmt.Errorf("ack %s: %w", ev.ID, err)
		}
	}
}

func (in *instance) setHealth(h Health, lastError string) {
	in.mu.Lock()
	if in.health != h {
		in.since = in.m.cfg.Now()
	}
	in.health = h
	if lastError != "" {
		in.lastError = lastError
	}
	in.mu.Unlock()
	up := 0.0
	if h == HealthUp {
		up = 1
	}
	in.m.metrics.up.WithLabelValues(in.entry.Name).Set(up)
}

func (in *instance) status() Status {
	st := in.snapshot()
	st.P50, st.P99, st.ErrorRate, st.Calls = in.window.stats()
	return st
}

// snapshot is status without the latency window's figures. Reading the
// breaker may move it (open to half-open once it has cooled down), so the
// gauge follows.
func (in *instance) snapshot() Status {
	circuit := in.breaker.current()
	in.m.metrics.circuit.WithLabelValues(in.entry.Name).Set(circuitValue(circuit))
	in.mu.RLock()
	defer in.mu.RUnlock()
	return Status{
		Name: in.entry.Name, Kind: in.desc.Kind, Version: in.desc.Version,
		Capabilities: in.desc.Capabilities, PaymentMethods: in.desc.PaymentMethods,
		Currencies: in.desc.Currencies, Countries: in.desc.Countries,
		Health: in.health, Circuit: circuit, Enabled: in.enabled.Load(),
		PID: in.pid, Restarts: in.restarts, LastError: in.lastError, Since: in.since,
	}
}

// discard swallows go-plugin's raw copy of the plugin's stderr: the same
// lines reach Strait's log, parsed, through the hclog bridge.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
