// Package sandbox is "the outside world" for Strait's development and tests:
// an HTTP server that simulates a card network with its acquirer, a bank, a
// wallet and an FX rate agency, each under its own path prefix (/card,
// /bank, /wallet, /fx), with persistent state.
//
// The reference connectors talk to it over HTTP exactly as a real connector
// talks to its channel, so the adapter stays stateless and the sandbox keeps
// the state. API.md, beside this file, is the wire contract: endpoints,
// JSON shapes, the webhook signature and the test cards.
//
// Tests elsewhere start it in-process:
//
//	sb, err := sandbox.Start(sandbox.Config{ChargebackDelay: 50 * time.Millisecond})
//	if err != nil { ... }
//	defer sb.Close()
//	// talk to sb.URL() with "Authorization: Bearer " + sandbox.DefaultAPIKey
//
// and drive time-dependent work with Config.Now and Server.RunDue, or force
// it with Server.CompletePayout and Server.TriggerChargeback.
package sandbox
