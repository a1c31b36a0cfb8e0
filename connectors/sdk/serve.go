package sdk

import (
	"log/slog"
	"os"
	"runtime"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/internal/wire"
)

// Option configures Serve.
type Option func(*options)

type options struct {
	emitter     *Emitter
	logLevel    hclog.Level
	watchParent bool
	maxProcs    int
}

// DefaultMaxProcs is the GOMAXPROCS of a connector process. A connector is
// an I/O-bound adapter that spends its life waiting on its channel, and
// Strait runs one process per connector beside itself: one P per plugin
// keeps a dozen plugins from competing with Strait for every core, and
// spares the gRPC path its cross-thread wake-ups (on the two-core
// development VM it took the host-to-plugin round trip from about 11× to
// about 9× a bare unix-socket echo). Goroutines and blocking I/O are not
// limited by it.
const DefaultMaxProcs = 1

// WithMaxProcs sets the connector's GOMAXPROCS, for a connector that does
// real CPU work (heavy cryptography, large reports). Zero keeps Go's
// default of one per core.
func WithMaxProcs(n int) Option { return func(o *options) { o.maxProcs = n } }

// WithEmitter streams the events pushed to e to the host. Without it the
// connector has no Events stream (webhook events still flow through
// HandleHTTP's response).
func WithEmitter(e *Emitter) Option { return func(o *options) { o.emitter = e } }

// WithLogLevel sets the lowest level forwarded to Strait's log ("debug",
// "info", "warn", "error"; default "info").
func WithLogLevel(level string) Option {
	return func(o *options) { o.logLevel = hclog.LevelFromString(level) }
}

// WithoutParentWatch keeps the plugin alive when its parent dies. Only
// tests that run a plugin by hand need it.
func WithoutParentWatch() Option { return func(o *options) { o.watchParent = false } }

var logger = newLogger(hclog.Info)

// Logger returns the logger whose lines Strait receives in its own log,
// tagged with the connector's name. Write nothing to stdout: go-plugin
// owns it.
func Logger() *slog.Logger { return logger }

// Serve runs c as a connector plugin until Strait stops it. It does not
// return. Run by hand (without Strait), it prints a short explanation and
// exits with status 1.
func Serve(c connectors.Connector, opts ...Option) {
	o := options{logLevel: hclog.Info, watchParent: true, maxProcs: DefaultMaxProcs}
	for _, opt := range opts {
		opt(&o)
	}
	logger = newLogger(o.logLevel)
	if os.Getenv(wire.Handshake.MagicCookieKey) != wire.Handshake.MagicCookieValue {
		os.Stderr.WriteString("This binary is a Strait connector plugin. Strait starts it; see docs/connectors.md.\n")
		os.Exit(1)
	}
	if o.maxProcs > 0 {
		runtime.GOMAXPROCS(o.maxProcs)
	}
	if o.watchParent {
		watchParent(logger)
	}
	srv := newServer(c, o.emitter, logger)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.PluginSets(srv),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, wire.ServerOptions()...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: o.logLevel}),
	})
	os.Exit(0)
}
