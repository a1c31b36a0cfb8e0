package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/store/storetest"
)

var straitBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strait-bin-")
	if err != nil {
		panic(err)
	}
	straitBin = filepath.Join(dir, "strait")
	out, err := exec.Command("go", "build", "-o", straitBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build strait: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// strait runs the binary to completion and returns its stdout.
func strait(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(straitBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("strait %v: %v\n%s", args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestBinaryServesAndShutsDownGracefully runs the real strait process on each
// database: keys and token from the CLI, migrations at start-up, health,
// readiness, metrics, an authenticated GraphQL mutation, then SIGTERM and a
// clean exit.
func TestBinaryServesAndShutsDownGracefully(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			data := t.TempDir()
			addr := freeAddr(t)
			env := []string{"STRAIT_DATA_DIR=" + data, "STRAIT_ADDR=" + addr, "STRAIT_DATABASE_URL=" + dbURL(t, dialect)}
			if out := strait(t, env, "keys"); !strings.Contains(out, "generated signing key") {
				t.Fatalf("keys: %q", out)
			}
			strait(t, env, "migrate")
			token := strait(t, env, "token", "--role", "operator")

			cmd, done, logs := startServe(t, env, addr)
			base := "http://" + addr

			if code, body := get(t, base+"/readyz"); code != 200 {
				t.Fatalf("readyz %d: %s", code, body)
			}
			gql := func(q string) map[string]any {
				resp := graphQL(t, base, token, q)
				defer resp.Body.Close()
				var out map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
					t.Fatal(err)
				}
				if resp.Header.Get("X-Request-Id") == "" {
					t.Fatal("no X-Request-Id")
				}
				return out
			}
			out := gql(`mutation { createMerchant(input: {legalName: "Proc Co", country: "JP", settlementCurrency: "JPY"}) { id settlementCurrency } }`)
			if out["errors"] != nil {
				t.Fatalf("createMerchant: %v", out)
			}
			if _, body := get(t, base+"/metrics"); !strings.Contains(body, `strait_graphql_operations_total{operation="mutation.createMerchant",outcome="ok"} 1`) ||
				!strings.Contains(body, `go_sql_max_open_connections{db_name="strait"}`) {
				t.Fatalf("metrics lack operation or pool series:\n%s", grepLines(body, "strait_"))
			}
			if !strings.Contains(logs.String(), `"request_id":"req_`) {
				t.Fatalf("logs carry no request IDs:\n%s", logs.String())
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
				}
			case <-time.After(15 * time.Second):
				t.Fatal("no exit 15 s after SIGTERM")
			}
			if !strings.Contains(logs.String(), "shutting down") {
				t.Fatalf("no graceful shutdown in logs:\n%s", logs.String())
			}
		})
	}
}

// TestDevModePrintsReadyMadeTokens starts dev mode on a fresh data directory:
// it makes its own key, a demo merchant, and prints tokens that work.
func TestDevModePrintsReadyMadeTokens(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(straitBin, "serve", "--dev")
	cmd.Env = append(os.Environ(), "STRAIT_DATA_DIR="+data, "STRAIT_ADDR="+addr, "STRAIT_DATABASE_URL=")
	stdout, _ := cmd.StdoutPipe()
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	var admin string
	re := regexp.MustCompile(`merchant admin:\s+(\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for admin == "" && time.Now().Before(deadline) && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			admin = m[1]
		}
	}
	if admin == "" {
		t.Fatalf("no merchant admin token printed; logs:\n%s", logs.String())
	}
	waitFor(t, "http://"+addr+"/healthz", nil, logs)
	resp := graphQL(t, "http://"+addr, admin, "{ viewer { principal merchant { legalName } } }")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"principal":"MERCHANT_ADMIN"`) || !strings.Contains(string(body), "Strait Demo Store") {
		t.Fatalf("dev token: %s", body)
	}
	if code, body := get(t, "http://"+addr+"/"); code != 200 || !strings.Contains(body, "GraphiQL") {
		t.Fatalf("GraphiQL page: %d", code)
	}
}

func dbURL(t *testing.T, dialect string) string {
	t.Helper()
	if dialect == "mysql" {
		return "mysql://" + dsnToURL(storetest.URL(t, "mysql"))
	}
	return storetest.URL(t, "sqlite")
}

// dsnToURL turns user:pass@tcp(host:port)/db?x into user:pass@host:port/db?x.
func dsnToURL(dsn string) string {
	dsn = strings.Replace(dsn, "@tcp(", "@", 1)
	return strings.Replace(dsn, ")/", "/", 1)
}

// startServe starts `strait serve` with env, listening on addr, and waits
// until it answers /healthz. done receives the process's exit; logs collects
// its stderr. The process is killed when the test ends.
func startServe(t *testing.T, env []string, addr string) (cmd *exec.Cmd, done chan error, logs *syncBuffer) {
	t.Helper()
	cmd = exec.Command(straitBin, "serve")
	cmd.Env = append(os.Environ(), env...)
	logs = &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, "http://"+addr+"/healthz", done, logs)
	return cmd, done, logs
}

// graphQL posts query to the server at base as the bearer of token. The
// caller closes the response body.
func graphQL(t *testing.T, base, token, query string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/graphql", strings.NewReader(`{"query":`+quote(query)+`}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func waitFor(t *testing.T, url string, done chan error, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if done != nil {
			select {
			case err := <-done:
				t.Fatalf("server exited: %v\n%s", err, logs.String())
			default:
			}
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not up after 20 s:\n%s", url, logs.String())
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSIGHUPReloadsSigningKeys: a key made with `strait keys` while the
// server runs signs tokens the server refuses until SIGHUP, and accepts
// after it; the tokens of the key it had keep working.
func TestSIGHUPReloadsSigningKeys(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	env := []string{"STRAIT_DATA_DIR=" + data, "STRAIT_ADDR=" + addr, "STRAIT_DATABASE_URL=" + dbURL(t, "sqlite")}
	strait(t, env, "keys")
	first := strait(t, env, "token", "--role", "operator")
	cmd, _, logs := startServe(t, env, addr)
	base := "http://" + addr
	works := func(token string) bool {
		resp := graphQL(t, base, token, `{ viewer { principal } }`)
		defer resp.Body.Close()
		var out struct{ Errors []any }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode == 200 && len(out.Errors) == 0
	}
	if !works(first) {
		t.Fatal("the first key's token is refused")
	}
	strait(t, env, "keys") // a new key, newest: it signs the next token
	second := strait(t, env, "token", "--role", "operator")
	if works(second) {
		t.Fatal("a key made after start-up was accepted before SIGHUP")
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !works(second) {
		if time.Now().After(deadline) {
			t.Fatalf("the new key's token is refused after SIGHUP:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !works(first) || !strings.Contains(logs.String(), "signing keys reloaded") {
		t.Fatalf("after SIGHUP: first token works %v; logs:\n%s", works(first), logs.String())
	}
}
