package host_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/host"
)

var testPlugin, testHost string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strait-host-test")
	if err != nil {
		panic(err)
	}
	testPlugin = filepath.Join(dir, "testplugin")
	testHost = filepath.Join(dir, "testhost")
	for bin, pkg := range map[string]string{testPlugin: "./internal/testplugin", testHost: "./internal/testhost"} {
		out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// plugin describes one manifest entry of a test: the test plugin copied
// under file, with a checksum taken before tamper runs.
type plugin struct {
	name, file string
	config     map[string]string
	badSum     bool
	tamper     bool
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// installPlugins copies the test plugin into a fresh plugin directory and
// writes its manifest.
func installPlugins(t *testing.T, plugins ...plugin) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	var entries []host.Entry
	for _, p := range plugins {
		file := p.file
		if file == "" {
			file = p.name
		}
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, src, 0o755); err != nil {
			t.Fatal(err)
		}
		sum := sha(t, path)
		if p.badSum {
			sum = strings.Repeat("ab", 32)
		}
		if p.tamper {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("tampered"))
			f.Close()
		}
		entries = append(entries, host.Entry{Name: p.name, Binary: file, SHA256: sum, Config: p.config})
	}
	b, _ := json.Marshal(entries)
	if err := os.WriteFile(filepath.Join(dir, host.ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startHost starts a manager on dir and closes it when the test ends.
func startHost(t *testing.T, dir string, tweak func(*host.Config)) *host.Manager {
	t.Helper()
	cfg := host.Config{Dir: dir, Logger: testLogger(t), CallTimeout: 2 * time.Second, StartTimeout: 3 * time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	m, err := host.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

func status(t *testing.T, m *host.Manager, name string) host.Status {
	t.Helper()
	s, ok := m.Status(name)
	if !ok {
		t.Fatalf("no connector %q", name)
	}
	return s
}

func get(t *testing.T, m *host.Manager, name string) connectors.Connector {
	t.Helper()
	c, ok := m.Get(name)
	if !ok {
		t.Fatalf("no connector %q", name)
	}
	return c
}

// n numbers the test payments; tests call authorize from several goroutines.
var n atomic.Int64

func authorize(description string) connectors.AuthorizeRequest {
	n := n.Add(1)
	return connectors.AuthorizeRequest{
		IdempotencyKey: fmt.Sprintf("idem-%d", n), Reference: fmt.Sprintf("pay_%d", n),
		Amount: connectors.Money{Minor: 1050, Currency: "USD"}, Capture: true, PaymentMethod: "card",
		Card:        &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, CVC: "123"},
		Description: description,
	}
}

func httpGet(t *testing.T, c connectors.Connector, path, query string) string {
	t.Helper()
	resp, err := c.HandleHTTP(context.Background(), connectors.HTTPRequest{
		Method: "GET", Path: path, Query: query, Headers: map[string][]string{"X-Signature": {"v1=good"}}})
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return string(resp.Body)
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, within)
	return 0
}

func TestConnectorServesCallsWithNormalizedOutcomes(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), nil)
	c := get(t, m, "tp")
	d, err := c.Describe(context.Background())
	if err != nil || d.Name != "testplugin" || d.Kind != connectors.KindCardScheme {
		t.Fatalf("describe = %+v, %v", d, err)
	}
	cases := []struct {
		description string
		want        connectors.Outcome
	}{
		{"", connectors.OutcomeApproved},
		{"decline", connectors.OutcomeDeclined},
		{"error", connectors.OutcomeError},
	}
	for _, tc := range cases {
		resp, err := c.Authorize(context.Background(), authorize(tc.description))
		if err != nil || resp.Result.Outcome != tc.want {
			t.Errorf("authorize %q = %v, %v; want %v", tc.description, resp.Result.Outcome, err, tc.want)
		}
	}
	s := status(t, m, "tp")
	if s.Health != host.HealthUp || s.Circuit != host.CircuitClosed || s.Calls != 4 || s.P50 <= 0 || s.PID == 0 || !s.Routable() {
		t.Fatalf("status = %+v", s)
	}
}

func TestInvalidRequestIsRefusedWithoutReachingTheChannel(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), nil)
	req := authorize("")
	req.Amount.Minor = -5
	resp, err := get(t, m, "tp").Authorize(context.Background(), req)
	if connectors.ErrorCode(err) != connectors.EINVALID || resp.Result.Outcome != connectors.OutcomeError {
		t.Fatalf("authorize(-5) = %+v, %v", resp.Result, err)
	}
	if strings.Contains(err.Error(), "4242424242424242") {
		t.Fatalf("card number in error: %v", err)
	}
}

func TestTamperedBinaryAndWrongChecksumAreRefusedAndOthersLoad(t *testing.T) {
	m := startHost(t, installPlugins(t,
		plugin{name: "good"},
		plugin{name: "tampered", tamper: true},
		plugin{name: "wrongsum", badSum: true},
	), nil)
	if s := status(t, m, "good"); s.Health != host.HealthUp {
		t.Fatalf("good: %+v", s)
	}
	for _, name := range []string{"tampered", "wrongsum"} {
		s := status(t, m, name)
		if s.Health != host.HealthDown || !strings.Contains(s.LastError, "checksum") {
			t.Errorf("%s: health %s, last error %q", name, s.Health, s.LastError)
		}
		_, err := get(t, m, name).Describe(context.Background())
		if connectors.ErrorCode(err) != connectors.EUNAVAILABLE {
			t.Errorf("%s: describe err = %v", name, err)
		}
	}
}

func TestIncompatibleProtocolIsRefusedNamingBothVersions(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "old", file: "tp-v99"}), nil)
	s := status(t, m, "old")
	if s.Health != host.HealthDown || !strings.Contains(s.LastError, "host speaks version 1") ||
		!strings.Contains(s.LastError, "Plugin version: 99") {
		t.Fatalf("health %s, last error %q", s.Health, s.LastError)
	}
}

func TestPluginThatNeverHandshakesTimesOutAndStraitKeepsServing(t *testing.T) {
	start := time.Now()
	m := startHost(t, installPlugins(t, plugin{name: "good"}, plugin{name: "mute", file: "tp-nohandshake"}),
		func(c *host.Config) { c.StartTimeout = 500 * time.Millisecond })
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Start took %s", d)
	}
	s := status(t, m, "mute")
	if s.Health != host.HealthRestarting || !strings.Contains(s.LastError, "timeout") {
		t.Fatalf("mute: %+v", s)
	}
	if _, err := get(t, m, "good").Authorize(context.Background(), authorize("")); err != nil {
		t.Fatal(err)
	}
}

func TestGarbageHandshakeIsRefused(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "good"}, plugin{name: "noise", file: "tp-garbage"}), nil)
	s := status(t, m, "noise")
	if s.Health == host.HealthUp || !strings.Contains(s.LastError, "Unrecognized remote plugin message") {
		t.Fatalf("noise: %+v", s)
	}
	if status(t, m, "good").Health != host.HealthUp {
		t.Fatal("good plugin not up")
	}
}

func TestOversizedMessageIsRefusedAndPluginKeepsServing(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), nil)
	c := get(t, m, "tp")
	_, err := c.HandleHTTP(context.Background(), connectors.HTTPRequest{Method: "GET", Path: "/big"})
	if err == nil || !strings.Contains(err.Error(), "size limit") {
		t.Fatalf("oversized answer: err = %v", err)
	}
	if _, err := c.Describe(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCallPastDeadlineIsUnknownAndNotRetried(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), func(c *host.Config) { c.CallTimeout = 300 * time.Millisecond })
	c := get(t, m, "tp")
	start := time.Now()
	resp, err := c.Authorize(context.Background(), authorize("hang"))
	if resp.Result.Outcome != connectors.OutcomeUnknown || connectors.ErrorCode(err) != connectors.EUNKNOWN {
		t.Fatalf("hang: %+v, %v", resp.Result, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("deadline not enforced: %s", d)
	}
	if _, err := c.Describe(context.Background()); err != nil {
		t.Fatalf("plugin should still serve: %v", err)
	}
}

func TestPanicInConnectorIsUnknown(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), nil)
	resp, err := get(t, m, "tp").Authorize(context.Background(), authorize("panic"))
	if resp.Result.Outcome != connectors.OutcomeUnknown || connectors.ErrorCode(err) != connectors.EUNKNOWN {
		t.Fatalf("panic: %+v, %v", resp.Result, err)
	}
}

func TestKillMidCallIsUnknownAndPluginIsBackWithinTwoSeconds(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), nil)
	c := get(t, m, "tp")
	oldPID := status(t, m, "tp").PID
	type result struct {
		resp connectors.AuthorizeResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Authorize(context.Background(), authorize("slow"))
		done <- result{resp, err}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	r := <-done
	if r.resp.Result.Outcome != connectors.OutcomeUnknown || connectors.ErrorCode(r.err) != connectors.EUNKNOWN {
		t.Fatalf("killed mid-call: %+v, %v", r.resp.Result, r.err)
	}
	waitFor(t, 2*time.Second-time.Since(killedAt), "plugin back up", func() bool {
		s := status(t, m, "tp")
		return s.Health == host.HealthUp && s.PID != 0 && s.PID != oldPID
	})
	t.Logf("plugin back %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	if _, err := c.Authorize(context.Background(), authorize("")); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if s := status(t, m, "tp"); s.Restarts != 1 {
		t.Fatalf("restarts = %d", s.Restarts)
	}
}

func TestPluginEnvironmentHoldsNoHostSecrets(t *testing.T) {
	t.Setenv("STRAIT_SECRET_TEST", "x-secret-value")
	m := startHost(t, installPlugins(t, plugin{name: "tp", config: map[string]string{"api_key": "${STRAIT_SECRET_TEST}"}}), nil)
	c := get(t, m, "tp")
	env := httpGet(t, c, "/env", "")
	if strings.Contains(env, "STRAIT_SECRET_TEST") || strings.Contains(env, "x-secret-value") {
		t.Fatalf("host secret in plugin environment:\n%s", env)
	}
	if strings.Contains(env, "PATH=") || strings.Contains(env, "HOME=") {
		t.Fatalf("host environment leaked:\n%s", env)
	}
	var cfg map[string]string
	if err := json.Unmarshal([]byte(httpGet(t, c, "/config", "")), &cfg); err != nil || cfg["api_key"] != "x-secret-value" {
		t.Fatalf("config through Configure = %v, %v", cfg, err)
	}
}

func TestUnsetConfigVariableRefusesTheConnector(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp", config: map[string]string{"api_key": "${STRAIT_NOT_SET_ANYWHERE}"}}), nil)
	if s := status(t, m, "tp"); s.Health != host.HealthDown || !strings.Contains(s.LastError, "STRAIT_NOT_SET_ANYWHERE") {
		t.Fatalf("%+v", s)
	}
}

func TestEventIsKeptByThePluginUntilTheHostAcks(t *testing.T) {
	fail := make(chan bool, 1)
	fail <- true // the first delivery fails
	got := make(chan connectors.Event, 10)
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), func(c *host.Config) {
		c.EventSink = func(_ context.Context, ev connectors.Event) error {
			select {
			case <-fail:
				return errors.New("database down")
			default:
			}
			got <- ev
			return nil
		}
	})
	c := get(t, m, "tp")
	httpGet(t, c, "/emit", "id=evt-1")
	select {
	case ev := <-got:
		if ev.ID != "evt-1" || ev.Connector != "tp" || ev.Type != connectors.EventPaymentResult {
			t.Fatalf("event = %+v", ev)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("event not redelivered after a failed delivery")
	}
	waitFor(t, 2*time.Second, "plugin drops the acked event", func() bool { return httpGet(t, c, "/pending", "") == "0" })
}

func TestEventsSurviveAPluginRestart(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), nil)
	c := get(t, m, "tp")
	syscall.Kill(status(t, m, "tp").PID, syscall.SIGKILL)
	waitFor(t, 2*time.Second, "restart", func() bool {
		s := status(t, m, "tp")
		return s.Health == host.HealthUp && s.Restarts == 1
	})
	httpGet(t, c, "/emit", "id=after-restart")
	select {
	case ev := <-m.Events():
		if ev.ID != "after-restart" {
			t.Fatalf("event = %+v", ev)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no event after restart: stream not re-established")
	}
}

func TestWebhookEventsAreDeliveredOnceEvenWhenDuplicated(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), nil)
	c := get(t, m, "tp")
	httpGet(t, c, "/webhook", "id=wh-1")
	httpGet(t, c, "/webhook", "id=wh-1")
	if ev := <-m.Events(); ev.ID != "wh-1" || ev.Type != connectors.EventRefundResult {
		t.Fatalf("event = %+v", ev)
	}
	select {
	case ev := <-m.Events():
		t.Fatalf("duplicate delivered: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestCallsCutByACrashDoNotOpenTheCircuit: more calls than the breaker's
// threshold are in flight when the plugin is SIGKILLed. Each is unknown to
// its caller, but none counts as a failure of the channel: the circuit
// stays closed, the error rate at zero, and the restarted plugin takes
// calls as soon as it is up.
func TestCallsCutByACrashDoNotOpenTheCircuit(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), func(c *host.Config) {
		c.BreakerFailures = 3
		c.BreakerCooldown = time.Hour
	})
	c := get(t, m, "tp")
	oldPID := status(t, m, "tp").PID
	const inFlight = 6
	done := make(chan error, inFlight)
	for range inFlight {
		go func() {
			_, err := c.Authorize(context.Background(), authorize("slow"))
			done <- err
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range inFlight {
		if err := <-done; connectors.ErrorCode(err) != connectors.EUNKNOWN {
			t.Fatalf("a call cut by the kill: %v, want EUNKNOWN", err)
		}
	}
	waitFor(t, 2*time.Second, "plugin back up", func() bool {
		s := status(t, m, "tp")
		return s.Health == host.HealthUp && s.PID != 0 && s.PID != oldPID
	})
	upAt := time.Now()
	if s := status(t, m, "tp"); s.Circuit != host.CircuitClosed || !s.Routable() || s.ErrorRate != 0 {
		t.Fatalf("after the crash: circuit %s, routable %v, error rate %v", s.Circuit, s.Routable(), s.ErrorRate)
	}
	resp, err := c.Authorize(context.Background(), authorize(""))
	if err != nil || resp.Result.Outcome != connectors.OutcomeApproved {
		t.Fatalf("after the restart: %+v, %v", resp.Result, err)
	}
	if d := time.Since(upAt); d > time.Second {
		t.Fatalf("first call after the restart took %s", d)
	}
	// Failures of the channel still open it.
	for range 3 {
		c.Authorize(context.Background(), authorize("error"))
	}
	if s := status(t, m, "tp"); s.Circuit != host.CircuitOpen {
		t.Fatalf("after three errors: circuit %s", s.Circuit)
	}
}

func TestCircuitOpensAfterConsecutiveFailures(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), func(c *host.Config) {
		c.BreakerFailures = 3
		c.BreakerCooldown = time.Hour
	})
	c := get(t, m, "tp")
	for range 3 {
		c.Authorize(context.Background(), authorize("error"))
	}
	if s := status(t, m, "tp"); s.Circuit != host.CircuitOpen || s.Routable() || s.ErrorRate != 1 {
		t.Fatalf("status = %+v", s)
	}
	resp, err := c.Authorize(context.Background(), authorize(""))
	if connectors.ErrorCode(err) != connectors.EUNAVAILABLE || resp.Result.Outcome != connectors.OutcomeError {
		t.Fatalf("call through open circuit: %+v, %v", resp.Result, err)
	}
}

func TestDisabledConnectorRefusesCalls(t *testing.T) {
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), nil)
	if err := m.SetEnabled("tp", false); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, m, "tp").Authorize(context.Background(), authorize("")); connectors.ErrorCode(err) != connectors.EUNAVAILABLE {
		t.Fatalf("err = %v", err)
	}
	if err := m.SetEnabled("nope", true); err == nil {
		t.Fatal("SetEnabled of an unknown connector succeeded")
	}
}

func TestMetricsAreRegisteredOnTheGivenRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := startHost(t, installPlugins(t, plugin{name: "tp"}), func(c *host.Config) { c.Registry = reg })
	get(t, m, "tp").Authorize(context.Background(), authorize(""))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, want := range []string{"strait_connector_up", "strait_connector_calls_total", "strait_connector_call_duration_seconds"} {
		if !names[want] {
			t.Errorf("metric %s missing (have %v)", want, names)
		}
	}
}

func TestManifestIsDecodedStrictly(t *testing.T) {
	_, err := host.DecodeManifest([]byte(`[{"name":"a","binary":"a","sha256":"` + strings.Repeat("0", 64) + `","colour":"red"}]`))
	if err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown field: err = %v", err)
	}
}

func TestNoPluginSurvivesTheHostBeingSIGKILLed(t *testing.T) {
	dir := installPlugins(t, plugin{name: "a"}, plugin{name: "b"})
	cmd := exec.Command(testHost, dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "READY" {
		if p, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ := strconv.Atoi(p)
			pids = append(pids, pid)
		}
	}
	if len(pids) != 2 || pids[0] == 0 || pids[1] == 0 {
		cmd.Process.Kill()
		t.Fatalf("plugin pids = %v", pids)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitFor(t, 3*time.Second, "plugins gone", func() bool {
		for _, pid := range pids {
			if alive(pid) {
				return false
			}
		}
		return true
	})
}

// alive reports whether pid runs; a zombie waiting for a reaper is dead.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPluginLogLinesReachStraitsLogger(t *testing.T) {
	var buf syncBuffer
	startHost(t, installPlugins(t, plugin{name: "tp"}), func(c *host.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	waitFor(t, 2*time.Second, "plugin log line", func() bool {
		out := buf.String()
		return strings.Contains(out, "testplugin configured") && strings.Contains(out, "connector=tp") && strings.Contains(out, "level=INFO")
	})
}
