// Package app wires the strait server: configuration, the database, the domain
// services, the GraphQL handler, HTTP routes, auth, metrics and logs.
package app

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/straitpay/strait/graph"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/events"
)

// Config is the server's configuration. Every field has a flag and a STRAIT_*
// environment variable; a flag given on the command line wins over the
// environment, which wins over the default.
type Config struct {
	Addr        string        // STRAIT_ADDR
	DataDir     string        // STRAIT_DATA_DIR: SQLite file, signing keys, uploads
	DatabaseURL string        // STRAIT_DATABASE_URL: default SQLite in DataDir
	KeysDir     string        // STRAIT_KEYS_DIR: default DataDir/keys
	PluginDir   string        // STRAIT_PLUGIN_DIR
	Dev         bool          // STRAIT_DEV
	TLSCert     string        // STRAIT_TLS_CERT
	TLSKey      string        // STRAIT_TLS_KEY
	LogLevel    string        // STRAIT_LOG_LEVEL: debug, info, warn, error
	ShutdownIn  time.Duration // STRAIT_SHUTDOWN_TIMEOUT
	CORSOrigins []string      // STRAIT_CORS_ORIGINS: comma-separated origins allowed for browsers and websockets
	// TrustedProxies are the load balancers and proxies in front of Strait
	// (STRAIT_TRUSTED_PROXIES: comma-separated addresses or CIDR prefixes):
	// a request from one of them is from the rightmost untrusted address of
	// its X-Forwarded-For (clientAddr). None by default: the TCP peer.
	TrustedProxies []netip.Prefix
	// CORSHeaders are the request headers browsers from CORSOrigins may send
	// besides Strait's own (Authorization, Content-Type, Idempotency-Key,
	// X-Request-Id), from STRAIT_CORS_HEADERS; by default the tracing and
	// Apollo client headers (DefaultCORSHeaders).
	CORSHeaders []string
	// PersistedOperations is an allow-list file (STRAIT_PERSISTED_OPERATIONS):
	// when set, only the operations it lists are served (docs/api.md).
	PersistedOperations string
	// APQCacheSize bounds the automatic persisted queries each replica
	// remembers (STRAIT_APQ_CACHE_SIZE, default 1000; 0 turns APQ off).
	APQCacheSize int
	// IdempotencyTTL is how long idempotency records are kept before the
	// janitor sweeps them (STRAIT_IDEMPOTENCY_TTL); zero means 24h.
	IdempotencyTTL time.Duration
	// DBBatchTimeout bounds each group-committed batch of database work (the
	// payment pipeline's steps, idempotency claims and answers, ledger
	// posts), fallbacks and retries included (STRAIT_DB_BATCH_TIMEOUT,
	// default 30s): a database that stops answering fails the batch's
	// requests with UNAVAILABLE instead of holding them and every later
	// batch.
	DBBatchTimeout time.Duration
	// RelayPoll is how often the outbox relay's lease holder looks for
	// events nobody woke it for (STRAIT_RELAY_POLL, default 10ms; one
	// indexed query each): a commit on this replica wakes it at once, one
	// on another replica through a NATS nudge; an event whose nudge was
	// lost, or written by another process, waits up to this long.
	RelayPoll time.Duration
	// CloseTimezone is the IANA timezone whose days the scheduled day-end
	// close cuts (STRAIT_CLOSE_TIMEZONE); empty: no scheduled close, days
	// close only through closeDay (docs/settlement.md#day-end-close).
	CloseTimezone string
	// RequestTimeout bounds the work a request does on its own context
	// (STRAIT_REQUEST_TIMEOUT, default 60s; zero: none): a request whose
	// database or dependency stops answering is answered UNAVAILABLE
	// instead of holding its connection. Money-moving steps that must finish
	// once begun (the connector call and the recording of its answer) run
	// on their own bounds, not this one. Websocket subscriptions have none.
	RequestTimeout time.Duration
	// NATSURL, when set, carries events between replicas over NATS
	// JetStream (STRAIT_NATS_URL); empty keeps them in this process.
	NATSURL string
	// NATSStream and NATSSubject name the stream and its subjects' root
	// (STRAIT_NATS_STREAM, default STRAIT_EVENTS; STRAIT_NATS_SUBJECT,
	// default strait.events): deployments sharing one NATS, and tests,
	// give each its own.
	NATSStream, NATSSubject string
	// WebhookAllowPrivate lets merchant webhooks reach private, loopback
	// and link-local addresses and plain http (STRAIT_WEBHOOK_ALLOW_PRIVATE):
	// development only, it opens the server's network to merchants.
	WebhookAllowPrivate bool
	// WSMaxSockets caps the open websockets of one principal on one replica
	// (STRAIT_WS_MAX_SOCKETS, default 16); WSMaxSubscriptions caps the
	// subscriptions of one socket (STRAIT_WS_MAX_SUBSCRIPTIONS, default 32).
	WSMaxSockets       int
	WSMaxSubscriptions int
	// WSInitTimeout is how long a websocket may wait before its
	// connection_init (default 10s; closed with 4408 after).
	WSInitTimeout time.Duration
	// The card vault's keys come from the environment only, never flags: a
	// flag shows in every process listing.
	VaultKeys           string // STRAIT_VAULT_KEYS: "id:base64,…", active first
	VaultFingerprintKey string // STRAIT_VAULT_FINGERPRINT_KEY: base64, ≥ 32 bytes
}

// DefaultCORSHeaders are the request headers browsers may send by default
// besides Strait's own: W3C trace context and baggage, Sentry's trace header,
// and Apollo's client awareness headers.
var DefaultCORSHeaders = []string{"traceparent", "tracestate", "baggage", "sentry-trace", "apollographql-client-name", "apollographql-client-version"}

// minIdempotencyTTL is the floor for IdempotencyTTL: clients are promised,
// as by Stripe, that a key replays for at least a day.
const minIdempotencyTTL = 24 * time.Hour

// ParseConfig reads flags from args over STRAIT_* variables from getenv.
// Unknown flags are errors.
func ParseConfig(name string, args []string, getenv func(string) string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	devDefault, _ := strconv.ParseBool(env("STRAIT_DEV", "false"))
	// Durations from the environment, each the default of its flag; the
	// first that does not parse is the error.
	var envErr error
	duration := func(k, def string) time.Duration {
		d, err := time.ParseDuration(env(k, def))
		if err != nil && envErr == nil {
			envErr = fmt.Errorf("%s: %w", k, err)
		}
		return d
	}
	shutdown := duration("STRAIT_SHUTDOWN_TIMEOUT", "20s")
	idemTTL := duration("STRAIT_IDEMPOTENCY_TTL", "24h")
	batchTimeout := duration("STRAIT_DB_BATCH_TIMEOUT", batch.DefaultTimeout.String())
	requestTimeout := duration("STRAIT_REQUEST_TIMEOUT", "60s")
	relayPoll := duration("STRAIT_RELAY_POLL", events.DefaultRelayPoll.String())
	apqSize, err := strconv.Atoi(env("STRAIT_APQ_CACHE_SIZE", "1000"))
	if err != nil && envErr == nil {
		envErr = fmt.Errorf("STRAIT_APQ_CACHE_SIZE: %w", err)
	}
	if envErr != nil {
		return c, envErr
	}
	fs.StringVar(&c.Addr, "addr", env("STRAIT_ADDR", ":8080"), "listen address")
	fs.StringVar(&c.DataDir, "data-dir", env("STRAIT_DATA_DIR", "./data"), "data directory (SQLite file, signing keys, uploads)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("STRAIT_DATABASE_URL", ""), "database URL: sqlite:PATH or mysql://user:pass@host:port/db (default: SQLite in the data directory)")
	fs.StringVar(&c.KeysDir, "keys-dir", env("STRAIT_KEYS_DIR", ""), "JWT signing keys directory (default: DATA_DIR/keys)")
	fs.StringVar(&c.PluginDir, "plugin-dir", env("STRAIT_PLUGIN_DIR", "bin/plugins"), "connector plugins directory with manifest.json")
	fs.BoolVar(&c.Dev, "dev", devDefault, "dev mode: GraphiQL, introspection, a demo merchant and ready-made tokens")
	fs.StringVar(&c.TLSCert, "tls-cert", env("STRAIT_TLS_CERT", ""), "TLS certificate file (serve HTTPS when set)")
	fs.StringVar(&c.TLSKey, "tls-key", env("STRAIT_TLS_KEY", ""), "TLS key file")
	fs.StringVar(&c.LogLevel, "log-level", env("STRAIT_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	fs.DurationVar(&c.ShutdownIn, "shutdown-timeout", shutdown, "how long to drain requests on shutdown")
	fs.DurationVar(&c.IdempotencyTTL, "idempotency-ttl", idemTTL, "how long idempotency keys replay before the janitor sweeps them (at least 24h)")
	fs.DurationVar(&c.DBBatchTimeout, "db-batch-timeout", batchTimeout, "bound of each group-committed batch of database work; a database that stops answering fails it")
	fs.DurationVar(&c.RelayPoll, "relay-poll", relayPoll, "how often the outbox relay looks for events committed by another replica (one indexed query)")
	fs.StringVar(&c.CloseTimezone, "close-timezone", env("STRAIT_CLOSE_TIMEZONE", ""), "timezone whose days the scheduled day-end close cuts (empty: no scheduled close)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", requestTimeout, "bound of a request's own work (0: none); websocket subscriptions have none")
	fs.StringVar(&c.NATSURL, "nats-url", env("STRAIT_NATS_URL", ""), "NATS JetStream URL for the event bus between replicas (empty: in-process)")
	fs.StringVar(&c.NATSStream, "nats-stream", env("STRAIT_NATS_STREAM", "STRAIT_EVENTS"), "JetStream stream of the event bus")
	fs.StringVar(&c.NATSSubject, "nats-subject", env("STRAIT_NATS_SUBJECT", "strait.events"), "subject root of the event bus")
	allowPrivate, _ := strconv.ParseBool(env("STRAIT_WEBHOOK_ALLOW_PRIVATE", "false"))
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", allowPrivate, "let webhooks reach private, loopback and link-local addresses over http too (development only)")
	maxSockets, err1 := strconv.Atoi(env("STRAIT_WS_MAX_SOCKETS", "16"))
	maxSubs, err2 := strconv.Atoi(env("STRAIT_WS_MAX_SUBSCRIPTIONS", "32"))
	if err := errors.Join(err1, err2); err != nil {
		return c, fmt.Errorf("STRAIT_WS_MAX_SOCKETS / STRAIT_WS_MAX_SUBSCRIPTIONS: %w", err)
	}
	fs.IntVar(&c.WSMaxSockets, "ws-max-sockets", maxSockets, "open websockets allowed per principal on one replica")
	fs.IntVar(&c.WSMaxSubscriptions, "ws-max-subscriptions", maxSubs, "subscriptions allowed per websocket")
	origins := fs.String("cors-origins", env("STRAIT_CORS_ORIGINS", ""), "comma-separated browser origins allowed (websockets and CORS)")
	corsHeaders := fs.String("cors-headers", env("STRAIT_CORS_HEADERS", strings.Join(DefaultCORSHeaders, ",")), "comma-separated request headers browsers may send besides Authorization, Content-Type, Idempotency-Key and X-Request-Id")
	fs.StringVar(&c.PersistedOperations, "persisted-operations", env("STRAIT_PERSISTED_OPERATIONS", ""), "allow-list file: serve only the operations it lists (GraphQL Code Generator, Relay or Apollo manifest JSON)")
	fs.IntVar(&c.APQCacheSize, "apq-cache-size", apqSize, "automatic persisted queries remembered per replica (0: APQ off)")
	proxies := fs.String("trusted-proxies", env("STRAIT_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDR prefixes of the proxies in front of Strait, whose X-Forwarded-For is believed")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	for _, h := range strings.Split(*corsHeaders, ",") {
		if h = strings.TrimSpace(h); h != "" {
			c.CORSHeaders = append(c.CORSHeaders, h)
		}
	}
	if c.TrustedProxies, err = parseTrustedProxies(*proxies); err != nil {
		return c, err
	}
	if c.PersistedOperations != "" {
		// Loaded again by the GraphQL server; read here so a bad file stops
		// the start instead of refusing every request.
		if _, err := graph.LoadPersistedOperations(c.PersistedOperations); err != nil {
			return c, fmt.Errorf("STRAIT_PERSISTED_OPERATIONS: %w", err)
		}
	}
	if c.APQCacheSize < 0 {
		return c, fmt.Errorf("STRAIT_APQ_CACHE_SIZE is %d: it must not be negative", c.APQCacheSize)
	}
	c.VaultKeys, c.VaultFingerprintKey = getenv("STRAIT_VAULT_KEYS"), getenv("STRAIT_VAULT_FINGERPRINT_KEY")
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, "strait.db")
	}
	if c.KeysDir == "" {
		c.KeysDir = filepath.Join(c.DataDir, "keys")
	}
	if c.IdempotencyTTL < minIdempotencyTTL {
		return c, fmt.Errorf("STRAIT_IDEMPOTENCY_TTL is %s: keys must replay for at least %s", c.IdempotencyTTL, minIdempotencyTTL)
	}
	if c.DBBatchTimeout <= 0 {
		return c, fmt.Errorf("STRAIT_DB_BATCH_TIMEOUT is %s: it must be positive", c.DBBatchTimeout)
	}
	if c.RelayPoll <= 0 {
		return c, fmt.Errorf("STRAIT_RELAY_POLL is %s: it must be positive", c.RelayPoll)
	}
	if c.RequestTimeout < 0 {
		return c, fmt.Errorf("STRAIT_REQUEST_TIMEOUT is %s: it must not be negative", c.RequestTimeout)
	}
	c.WSInitTimeout = 10 * time.Second
	if c.WSMaxSockets < 1 || c.WSMaxSubscriptions < 1 {
		return c, errors.New("STRAIT_WS_MAX_SOCKETS and STRAIT_WS_MAX_SUBSCRIPTIONS must be at least 1")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return c, errors.New("TLS needs both STRAIT_TLS_CERT and STRAIT_TLS_KEY")
	}
	return c, nil
}

// EnvConfig is ParseConfig over the process environment.
func EnvConfig(name string, args []string) (Config, error) {
	return ParseConfig(name, args, os.Getenv)
}
