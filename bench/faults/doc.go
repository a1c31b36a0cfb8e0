// Package faults is Strait's fault harness (docs/faults.md): it runs the
// real processes — `strait serve`, the four reference connector plugins
// from their manifest, the sandbox, MariaDB (SQLite when no MySQL is
// reachable) — drives merchant and cashier load through the public GraphQL
// API, injects faults on a schedule drawn from a seed (plugin SIGKILLs, a
// SIGSTOPped sandbox, strait SIGKILLed and restarted, killed MySQL
// connections, webhooks redelivered and duplicated), then lets the janitor
// settle and checks the invariants I1–I8 against Strait's API, its
// database and the sandbox's own records (GET /records).
//
// A failing seed replays the same fault schedule: `make faults SEED=n`.
package faults
