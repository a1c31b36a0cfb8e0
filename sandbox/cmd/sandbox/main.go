// Command sandbox runs the Strait sandbox: a simulated card network,
// bank, wallet and FX rate agency for development and tests. See
// sandbox/API.md for the HTTP API.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/straitpay/strait/sandbox"
)

func main() {
	err := run(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

// env returns the environment variable or def.
func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// envDuration returns the environment variable as a duration, or def.
func envDuration(key string, def time.Duration) (time.Duration, error) {
	v, ok := os.LookupEnv(key)
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	var errs []error
	dur := func(name, key string, def time.Duration, usage string) *time.Duration {
		d, err := envDuration(key, def)
		errs = append(errs, err)
		return fs.Duration(name, d, usage+" (env "+key+")")
	}
	addr := fs.String("addr", env("SANDBOX_ADDR", "127.0.0.1:8090"), "listen address (env SANDBOX_ADDR)")
	dataDir := fs.String("data", env("SANDBOX_DATA_DIR", "./data/sandbox"), "state directory (env SANDBOX_DATA_DIR)")
	apiKeys := fs.String("api-key", env("SANDBOX_API_KEY", sandbox.DefaultAPIKey), "accepted API keys, comma separated (env SANDBOX_API_KEY)")
	publicURL := fs.String("public-url", env("SANDBOX_PUBLIC_URL", ""), "base of URLs handed to buyers; empty derives it from each request (env SANDBOX_PUBLIC_URL)")
	webhookURL := fs.String("webhook-url", env("SANDBOX_WEBHOOK_URL", ""), "register this webhook endpoint for all channels at start (env SANDBOX_WEBHOOK_URL)")
	webhookSecret := fs.String("webhook-secret", env("SANDBOX_WEBHOOK_SECRET", ""), "secret of -webhook-url (env SANDBOX_WEBHOOK_SECRET)")
	drift, err := strconv.ParseBool(env("SANDBOX_FX_DRIFT", "false"))
	errs = append(errs, err)
	fxDrift := fs.Bool("fx-drift", drift, "let FX rates drift by up to ±0.20 % a minute (env SANDBOX_FX_DRIFT)")
	timeoutHold := dur("timeout-hold", "SANDBOX_TIMEOUT_HOLD", 35*time.Second, "how long the timeout test card holds its answer")
	chargebackDelay := dur("chargeback-delay", "SANDBOX_CHARGEBACK_DELAY", 2*time.Second, "capture to chargeback for the chargeback test card")
	disputeResolve := dur("dispute-resolve-delay", "SANDBOX_DISPUTE_RESOLVE_DELAY", 2*time.Second, "dispute evidence submission to the issuer's decision")
	disputeWindow := dur("dispute-response-window", "SANDBOX_DISPUTE_RESPONSE_WINDOW", 7*24*time.Hour, "dispute opening to its due_by")
	payoutDelay := dur("payout-delay", "SANDBOX_PAYOUT_DELAY", 3*time.Second, "payout creation to outcome")
	retryBase := dur("webhook-retry-base", "SANDBOX_WEBHOOK_RETRY_BASE", time.Second, "first webhook retry delay")
	retryMax := dur("webhook-retry-max", "SANDBOX_WEBHOOK_RETRY_MAX", time.Minute, "webhook retry delay cap")
	chaosSeed, err := strconv.ParseInt(env("SANDBOX_WEBHOOK_CHAOS_SEED", "0"), 10, 64)
	errs = append(errs, err)
	webhookChaos := fs.Int64("webhook-chaos-seed", chaosSeed, "for fault tests: when non-zero, deliver webhooks shuffled and 1–3 times, from this seed (env SANDBOX_WEBHOOK_CHAOS_SEED)")
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var keys []string
	for k := range strings.SplitSeq(*apiKeys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	sb, err := sandbox.Start(sandbox.Config{
		DataDir: *dataDir, Addr: *addr, APIKeys: keys, PublicURL: *publicURL, Logger: log,
		TimeoutHold: *timeoutHold, ChargebackDelay: *chargebackDelay, PayoutDelay: *payoutDelay,
		WebhookRetryBase: *retryBase, WebhookRetryMax: *retryMax, FXDrift: *fxDrift,
		WebhookChaosSeed: *webhookChaos, DisputeResolveDelay: *disputeResolve, DisputeResponseWindow: *disputeWindow,
	})
	if err != nil {
		return err
	}
	if *webhookURL != "" {
		if _, err := sb.RegisterWebhook(*webhookURL, *webhookSecret); err != nil {
			sb.Close()
			return fmt.Errorf("register -webhook-url: %w", err)
		}
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	got := <-sig
	log.Info("shutting down", "signal", got.String())
	return sb.Close()
}
