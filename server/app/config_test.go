package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/server/app"
)

func TestTimeoutConfig(t *testing.T) {
	for _, tt := range []struct {
		name, env, flag string
		batch, request  time.Duration
		err             bool
	}{
		{name: "defaults", batch: 30 * time.Second, request: time.Minute},
		{name: "from the environment", env: "STRAIT_DB_BATCH_TIMEOUT=5s STRAIT_REQUEST_TIMEOUT=20s", batch: 5 * time.Second, request: 20 * time.Second},
		{name: "a flag wins", env: "STRAIT_REQUEST_TIMEOUT=20s", flag: "-request-timeout=0", batch: 30 * time.Second},
		{name: "no batch bound", env: "STRAIT_DB_BATCH_TIMEOUT=0s", err: true},
		{name: "a negative request bound", flag: "-request-timeout=-1s", err: true},
		{name: "not a duration", env: "STRAIT_REQUEST_TIMEOUT=soon", err: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			for _, kv := range strings.Fields(tt.env) {
				k, v, _ := strings.Cut(kv, "=")
				vars[k] = v
			}
			var args []string
			if tt.flag != "" {
				args = []string{tt.flag}
			}
			cfg, err := app.ParseConfig("test", args, func(k string) string { return vars[k] })
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want one: %v", err, tt.err)
			}
			if !tt.err && (cfg.DBBatchTimeout != tt.batch || cfg.RequestTimeout != tt.request) {
				t.Fatalf("batch %s, request %s; want %s, %s", cfg.DBBatchTimeout, cfg.RequestTimeout, tt.batch, tt.request)
			}
		})
	}
}

func TestTrustedProxiesConfig(t *testing.T) {
	get := oneVar("STRAIT_TRUSTED_PROXIES")
	cfg, err := app.ParseConfig("test", nil, get(" 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range cfg.TrustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.0.2.1/32 2001:db8::/32" {
		t.Fatalf("trusted proxies %v", got)
	}
	if _, err := app.ParseConfig("test", nil, get("10.0.0.0/8,proxy.internal")); err == nil || !strings.Contains(err.Error(), "proxy.internal") {
		t.Fatalf("a host name: %v", err)
	}
	if cfg, err := app.ParseConfig("test", nil, get("")); err != nil || len(cfg.TrustedProxies) != 0 {
		t.Fatalf("default: %v, %v", cfg.TrustedProxies, err)
	}
}

func TestRelayPollConfig(t *testing.T) {
	get := oneVar("STRAIT_RELAY_POLL")
	for v, want := range map[string]time.Duration{"": 10 * time.Millisecond, "50ms": 50 * time.Millisecond} {
		cfg, err := app.ParseConfig("test", nil, get(v))
		if err != nil || cfg.RelayPoll != want {
			t.Fatalf("STRAIT_RELAY_POLL=%q: %s, %v; want %s", v, cfg.RelayPoll, err, want)
		}
	}
	for _, v := range []string{"0s", "-1ms"} {
		if _, err := app.ParseConfig("test", nil, get(v)); err == nil || !strings.Contains(err.Error(), "STRAIT_RELAY_POLL") {
			t.Fatalf("STRAIT_RELAY_POLL=%s: %v, want an error naming it", v, err)
		}
	}
}

// oneVar returns getters of an environment with only name set, to v.
func oneVar(name string) func(v string) func(string) string {
	return func(v string) func(string) string {
		return func(k string) string {
			if k == name {
				return v
			}
			return ""
		}
	}
}
