package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/reports"
)

// replicaName names this process: host and a unique suffix, so two
// replicas on one host differ.
func replicaName() string {
	host, _ := os.Hostname()
	if len(host) > 30 {
		host = host[:30]
	}
	return fmt.Sprintf("%s-%s", host, pulid.New("r")[len("r_")+10:])
}

// StartEvents connects the event bus (NATS JetStream when STRAIT_NATS_URL
// is set, in-process otherwise), subscribes the hub to it, and starts the
// outbox relay, the webhook sender, the report rollups and the closing of revoked
// credentials' sockets, until ctx ends. Start calls it; tests without
// connectors may call it alone.
func (a *App) StartEvents(ctx context.Context) error {
	if a.Config.NATSURL != "" {
		b, err := events.DialNATS(ctx, events.NATSConfig{URL: a.Config.NATSURL, Stream: a.Config.NATSStream, Subject: a.Config.NATSSubject})
		if err != nil {
			return err
		}
		a.Bus = b
		a.Log.Info("event bus: NATS JetStream", "url", a.Config.NATSURL)
		// The relay's lease holder may be another replica: each commit's
		// nudge wakes every relay, so an event waits for no poll.
		if err := b.OnNudge(ctx, a.relayWake.Wake); err != nil {
			return err
		}
		a.goBackground(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-a.nudges:
					b.Nudge()
				}
			}
		})
	} else {
		a.Bus = events.NewInProcess()
	}
	if err := a.Hub.Start(ctx, a.Bus); err != nil {
		return err
	}
	// Secrets stored in clear (before sealing) or under a retired KEK are
	// sealed under the active one; a failure is logged, never fatal: the
	// secrets that open still sign.
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	res, err := a.Webhooks.SealSecrets(sctx)
	cancel()
	if err != nil {
		a.Log.Error("webhook secrets not all sealed under the active key", "err", err, "sealed", res.Sealed, "rewrapped", res.Rewrapped)
	} else if res.Sealed+res.Rewrapped > 0 {
		a.Log.Info("webhook secrets sealed", "sealed", res.Sealed, "rewrapped", res.Rewrapped)
	}
	a.Relay = events.NewRelay(events.RelayConfig{Client: a.DB.Client, Bus: a.Bus, Log: a.Log, Now: a.now,
		Holder: a.Replica, OnAssign: a.Webhooks.Enqueue, StepTimeout: a.Config.DBBatchTimeout, Poll: a.Config.RelayPoll, Wake: a.relayWake})
	a.goBackground(func() { a.Relay.Run(ctx) })
	a.goBackground(func() { a.Webhooks.Run(ctx) })
	// The report rollups follow the outbox; every event the bus carries
	// wakes them, so reports trail payments by one short step.
	a.Rollups = reports.NewRollup(reports.RollupConfig{Client: a.DB.Client, Log: a.Log, StepTimeout: a.Config.DBBatchTimeout})
	if err := a.Bus.Subscribe(ctx, func(events.Message) { a.Rollups.Wake() }); err != nil {
		return err
	}
	a.goBackground(func() { a.Rollups.Run(ctx) })
	return a.closeRevokedSockets(ctx)
}

// healthEvery is how often this replica compares its connectors' health
// with what it last reported.
const healthEvery = time.Second

// watchConnectorHealth writes a connector.health_changed event whenever a
// connector's supervision state changes on this replica.
func (a *App) watchConnectorHealth(ctx context.Context) {
	// The state found at start is this replica's baseline, not a change
	// (the connectors query shows it); only what changes after is written.
	seen := map[string]string{}
	for _, st := range a.Connectors.List() {
		seen[st.Name] = string(st.Health)
	}
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, st := range a.Connectors.List() {
			if seen[st.Name] == string(st.Health) {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, a.Config.DBBatchTimeout)
			err := events.RecordConnectorHealth(rctx, a.DB.Client, events.ConnectorHealthData{
				Connector: st.Name, Health: string(st.Health), Replica: a.Replica, LastError: st.LastError,
			}, a.now())
			cancel()
			if err != nil {
				a.Log.Warn("connector health event not written", "connector", st.Name, "err", err)
				continue
			}
			seen[st.Name] = string(st.Health)
		}
	}
}
