// Command strait is the Strait payments server.
//
//	strait [serve] [flags]        serve GraphQL (the default)
//	strait migrate [flags]        apply database migrations and exit
//	strait keys [flags]           generate a JWT signing key (it becomes the signer)
//	strait token --role R [...]   mint a JWT from the configured keys
//
// Every flag also reads a STRAIT_* environment variable; see `strait serve -h`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
	"github.com/straitpay/strait/server/auth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "strait:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, stderr)
	case "keys":
		return keys(args, stdout)
	case "token":
		return token(args, stdout)
	}
	return fmt.Errorf("unknown command %q: want serve, migrate, keys or token", cmd)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: app.ReadableDurations})), nil
}

// openStore opens and migrates the configured database.
func openStore(ctx context.Context, cfg app.Config, log *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	log.Info("database ready", "dialect", db.Dialect, "url", store.Redact(cfg.DatabaseURL))
	return db, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	app.TuneRuntime()
	cfg, err := app.EnvConfig("strait serve", args)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	if addr := os.Getenv("STRAIT_PPROF_ADDR"); addr != "" {
		if err := servePprof(addr, log); err != nil {
			return err
		}
	}
	if cfg.Dev {
		if err := ensureKey(cfg.KeysDir, log); err != nil {
			return err
		}
	}
	tokens, err := auth.LoadKeySet(cfg.KeysDir, time.Now)
	if err != nil {
		return fmt.Errorf("%w (run `strait keys` to create one)", err)
	}
	db, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	a := app.New(cfg, db, tokens, app.Options{Log: log})
	if err := a.Start(ctx); err != nil {
		return err
	}
	defer a.Close() // stops every connector process
	if cfg.Dev {
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		host := cfg.Addr
		if strings.HasPrefix(host, ":") {
			host = "localhost" + host
		}
		if err := a.SeedDev(ctx, stdout, scheme+"://"+host); err != nil {
			return err
		}
	}
	go a.RunJanitors(ctx)
	go reloadKeys(ctx, tokens, log)
	return a.Serve(ctx)
}

// keysReloadEvery is how often a running server re-reads its signing keys
// by itself: a key staged on every replica (or retired) takes effect within
// this time without anyone signalling them.
const keysReloadEvery = time.Minute

// reloadKeys re-reads the signing keys on every SIGHUP and every
// keysReloadEvery until ctx ends, so a key made or retired with `strait
// keys` takes effect without a restart. A directory that cannot be read
// keeps the keys already loaded.
func reloadKeys(ctx context.Context, tokens *auth.KeySet, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(keysReloadEvery)
	defer tick.Stop()
	kids := func() string {
		var ids []string
		for _, k := range tokens.Keys() {
			ids = append(ids, k.Kid)
		}
		return strings.Join(ids, ",")
	}
	for {
		asked := false
		select {
		case <-ctx.Done():
			return
		case <-hup:
			asked = true
		case <-tick.C:
		}
		before := kids()
		if err := tokens.Reload(); err != nil {
			log.Error("signing keys not reloaded; keeping the keys loaded before", "err", err)
			continue
		}
		if after := kids(); asked || after != before {
			log.Info("signing keys reloaded", "keys", after)
		}
	}
}

// ensureKey creates a signing key in dev mode when there is none.
func ensureKey(dir string, log *slog.Logger) error {
	existing, err := auth.ListKeys(dir)
	if err == nil && len(existing) > 0 {
		return nil
	}
	kid, err := auth.GenerateKey(dir, time.Now())
	if err != nil {
		return err
	}
	log.Info("dev mode: generated a signing key", "kid", kid, "dir", dir)
	return nil
}

func migrate(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := app.EnvConfig("strait migrate", args)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	return db.Close()
}

func keys(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("strait keys", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("STRAIT_DATA_DIR", "./data"), "data directory")
	dir := fs.String("keys-dir", os.Getenv("STRAIT_KEYS_DIR"), "keys directory (default DATA_DIR/keys)")
	retire := fs.String("retire", "", "retire this kid instead of generating a key")
	retireAt := fs.Duration("retire-in", 0, "with -retire: keep verifying its tokens for this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		*dir = auth.DefaultDir(*dataDir)
	}
	if *retire != "" {
		if err := auth.RetireKey(*dir, *retire, time.Now().Add(*retireAt)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retired %s from %s\n", *retire, time.Now().Add(*retireAt).Format(time.RFC3339))
		return nil
	}
	kid, err := auth.GenerateKey(*dir, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated signing key %s in %s; it signs new tokens from now on\n", kid, *dir)
	return nil
}

func token(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("strait token", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("STRAIT_DATA_DIR", "./data"), "data directory")
	dir := fs.String("keys-dir", os.Getenv("STRAIT_KEYS_DIR"), "keys directory (default DATA_DIR/keys)")
	role := fs.String("role", "", "operator, admin, developer, analyst or cashier")
	merchantID := fs.String("merchant", "", "merchant ID (all roles but operator)")
	subject := fs.String("subject", "", "subject: operator name, merchant user ID, or checkout session ID for cashier")
	ttl := fs.Duration("ttl", time.Hour, "lifetime (cashier tokens are capped at 30m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		*dir = auth.DefaultDir(*dataDir)
	}
	v := viewer.Viewer{Subject: *subject, MerchantID: *merchantID}
	switch *role {
	case "operator":
		v.Kind = viewer.Operator
		if v.Subject == "" {
			v.Subject = "operator"
		}
	case "admin", "developer", "analyst":
		v.Kind, v.Role = viewer.MerchantUser, viewer.Role(*role)
		if v.Subject == "" {
			v.Subject = "cli"
		}
	case "cashier":
		v.Kind, v.SessionID = viewer.Cashier, *subject
	default:
		return fmt.Errorf("--role must be operator, admin, developer, analyst or cashier")
	}
	ks, err := auth.LoadKeySet(*dir, time.Now)
	if err != nil {
		return err
	}
	tok, err := ks.Mint(v, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// servePprof serves net/http/pprof on addr (STRAIT_PPROF_ADDR, for
// profiling a benchmark or an incident), on a listener of its own so the
// profiles are never reachable through the API's address. Only a loopback
// address is accepted: profiles show internals.
func servePprof(addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("STRAIT_PPROF_ADDR: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("STRAIT_PPROF_ADDR %q: want a loopback address (127.0.0.1:port)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("STRAIT_PPROF_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() { _ = http.Serve(ln, mux) }()
	log.Warn("pprof listening", "addr", ln.Addr().String())
	return nil
}
