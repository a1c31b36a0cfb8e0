package faults

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql" // the test database's own connections (KILL, I8)
	_ "modernc.org/sqlite"

	"github.com/straitpay/strait/payments/vault"
)

// Bins are the built binaries the harness runs.
type Bins struct {
	Strait, Sandbox string
	PluginDir       string // the four plugins; the manifest is written into it
	RepoRoot        string // for plugins/manifest.sh
}

// Build compiles strait, the sandbox and the reference plugins into dir, as
// `make build` does, and returns where they are.
func Build(ctx context.Context, repoRoot, dir string) (Bins, error) {
	b := Bins{Strait: filepath.Join(dir, "strait"), Sandbox: filepath.Join(dir, "sandbox"),
		PluginDir: filepath.Join(dir, "plugins"), RepoRoot: repoRoot}
	steps := [][]string{
		{"go", "build", "-o", b.Strait, "./server"},
		{"go", "build", "-o", b.Sandbox, "./sandbox/cmd/sandbox"},
		{"go", "build", "-o", b.PluginDir + "/", "./plugins/cardnet", "./plugins/bank", "./plugins/wallet", "./plugins/fx"},
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("%s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return b, nil
}

// FindRepoRoot walks up from the working directory to the directory with go.mod.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// MySQLAdminDSN is where the harness makes its per-seed databases, and the
// prefix of their names: STRAIT_FAULTS_MYSQL (a DSN ending in "/"), else
// the server of STRAIT_TEST_MYSQL_DSN with names under its database's (so
// CI's cleanup of "<its database>_*" drops what a crash left), else root on
// 127.0.0.1:3306.
func MySQLAdminDSN() (dsn, prefix string) {
	if v := os.Getenv("STRAIT_FAULTS_MYSQL"); v != "" {
		return v, "strait_faults"
	}
	if v := os.Getenv("STRAIT_TEST_MYSQL_DSN"); v != "" {
		if i := strings.LastIndex(v, "/"); i >= 0 {
			db, _, _ := strings.Cut(v[i+1:], "?")
			if db != "" {
				return v[:i+1], db + "_faults"
			}
		}
	}
	return "root:@tcp(127.0.0.1:3306)/", "strait_faults"
}

// rig is one seed's processes.
type rig struct {
	bins       Bins
	dir        string
	straitAddr string
	sbAddr     string
	env        []string

	dialect  string // mysql or sqlite
	dbName   string // mysql: the seed's database
	adminDSN string
	admin    *sql.DB
	sqlite   string // sqlite: the file

	mu       sync.Mutex
	sandbox  *exec.Cmd
	sbDone   chan struct{}
	strait   *exec.Cmd
	stDone   chan struct{}
	stLogs   *lockedBuffer // every strait run's stderr
	sbLogs   *lockedBuffer
	restarts int
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startRig makes the seed's database, writes the manifest, and starts the
// sandbox and strait.
func startRig(ctx context.Context, bins Bins, dir string, seed int64, forceSQLite bool, extraEnv []string) (*rig, error) {
	r := &rig{bins: bins, dir: dir, stLogs: &lockedBuffer{}, sbLogs: &lockedBuffer{}}
	var err error
	if r.straitAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if r.sbAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	dbURL := ""
	adminDSN, prefix := MySQLAdminDSN()
	r.adminDSN = adminDSN
	if !forceSQLite {
		if admin, err := sql.Open("mysql", adminDSN); err == nil {
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			if admin.PingContext(pctx) == nil {
				r.admin, r.dialect = admin, "mysql"
			} else {
				admin.Close()
			}
			cancel()
		}
	}
	if r.dialect == "mysql" {
		r.dbName = fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), seed)
		if _, err := r.admin.ExecContext(ctx, "CREATE DATABASE `"+r.dbName+"`"); err != nil {
			return nil, fmt.Errorf("create database: %w", err)
		}
		dbURL = "mysql://" + strings.Replace(strings.Replace(adminDSN, "@tcp(", "@", 1), ")/", "/", 1) + r.dbName
	} else {
		r.dialect = "sqlite"
		r.sqlite = filepath.Join(dir, "strait.db")
		dbURL = "sqlite:" + r.sqlite
	}

	// The plugins directory is the seed's own, so the manifest names this
	// seed's sandbox and strait addresses.
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return nil, err
	}
	for _, p := range []string{"cardnet", "bank", "wallet", "fx"} {
		if err := copyFile(filepath.Join(bins.PluginDir, p), filepath.Join(plugins, p)); err != nil {
			return nil, err
		}
	}
	manifest := exec.CommandContext(ctx, "sh", filepath.Join(bins.RepoRoot, "plugins/manifest.sh"), plugins)
	manifest.Env = append(os.Environ(), "SANDBOX_URL=http://"+r.sbAddr, "STRAIT_PUBLIC_URL=http://"+r.straitAddr)
	if out, err := manifest.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("manifest.sh: %v\n%s", err, out)
	}

	r.env = append(os.Environ(),
		"STRAIT_ADDR="+r.straitAddr, "STRAIT_DATA_DIR="+filepath.Join(dir, "data"), "STRAIT_DATABASE_URL="+dbURL,
		"STRAIT_PLUGIN_DIR="+plugins, "STRAIT_DEV=false", "STRAIT_LOG_LEVEL=info",
		"STRAIT_PUBLIC_URL=http://"+r.straitAddr,
		"SANDBOX_API_KEY=sk_sandbox_test", "SANDBOX_WEBHOOK_SECRET=whsec_faults",
		"STRAIT_VAULT_KEYS=k1:"+vault.GenerateKey(), "STRAIT_VAULT_FINGERPRINT_KEY="+vault.GenerateKey(),
	)
	r.env = append(r.env, extraEnv...)
	if err := r.startSandbox(ctx, seed); err != nil {
		return nil, err
	}
	if out, err := r.straitCmd(ctx, "keys"); err != nil {
		return nil, fmt.Errorf("strait keys: %v\n%s", err, out)
	}
	if err := r.startStrait(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

func (r *rig) straitCmd(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, r.bins.Strait, args...)
	cmd.Env = r.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return strings.TrimSpace(out.String()), nil
}

func (r *rig) startSandbox(ctx context.Context, seed int64) error {
	cmd := exec.Command(r.bins.Sandbox, "-addr", r.sbAddr, "-data", filepath.Join(r.dir, "sandbox"),
		"-webhook-chaos-seed", strconv.FormatInt(seed, 10), "-webhook-retry-base", "200ms", "-webhook-retry-max", "2s",
		"-timeout-hold", "35s")
	cmd.Env = append(os.Environ(), "SANDBOX_API_KEY=sk_sandbox_test")
	cmd.Stderr = r.sbLogs
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.sandbox, r.sbDone = cmd, done
	r.mu.Unlock()
	return waitHealthy(ctx, "http://"+r.sbAddr+"/healthz", done, r.sbLogs)
}

// startStrait starts `strait serve` and waits until it answers.
func (r *rig) startStrait(ctx context.Context) error {
	cmd := exec.Command(r.bins.Strait, "serve")
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = io.Discard, r.stLogs
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.strait, r.stDone = cmd, done
	r.mu.Unlock()
	return waitHealthy(ctx, "http://"+r.straitAddr+"/healthz", done, r.stLogs)
}

func waitHealthy(ctx context.Context, url string, done chan struct{}, logs *lockedBuffer) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s: the process exited:\n%s", url, tail(logs.String(), 3000))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within 60 s:\n%s", url, tail(logs.String(), 3000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// killStrait SIGKILLs strait (its plugins die with it) and starts it again.
func (r *rig) killStrait(ctx context.Context) error {
	r.mu.Lock()
	cmd, done := r.strait, r.stDone
	r.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	r.mu.Lock()
	r.restarts++
	r.mu.Unlock()
	return r.startStrait(ctx)
}

// pluginPIDs lists strait's child processes by plugin name.
func (r *rig) pluginPIDs() map[string]int {
	r.mu.Lock()
	pid := r.strait.Process.Pid
	r.mu.Unlock()
	out := map[string]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, ok := procStat(child); ok && ppid == pid && state != "Z" {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
			name := filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0])
			out[name] = child
		}
	}
	return out
}

// procStat reads the parent pid and state of pid from /proc/pid/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}

func (r *rig) signalSandbox(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sandbox.Process.Signal(sig)
}

// killDBConnections KILLs the seed database's connections (MySQL only) and
// returns how many.
func (r *rig) killDBConnections(ctx context.Context, fraction float64, pick func() float64) (int, error) {
	if r.dialect != "mysql" {
		return 0, nil
	}
	rows, err := r.admin.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE db = ?", r.dbName)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	n := 0
	for _, id := range ids {
		if pick() < fraction {
			if _, err := r.admin.ExecContext(ctx, fmt.Sprintf("KILL %d", id)); err == nil {
				n++
			}
		}
	}
	return n, nil
}

// db opens the seed's database for the checks that read it (I8).
func (r *rig) db() (*sql.DB, error) {
	if r.dialect == "mysql" {
		return sql.Open("mysql", r.adminDSN+r.dbName)
	}
	return sql.Open("sqlite", "file:"+r.sqlite+"?mode=ro&_pragma=busy_timeout(5000)")
}

// close stops everything and drops the seed's database unless keep.
func (r *rig) close(keep bool) {
	r.mu.Lock()
	st, stDone, sb, sbDone := r.strait, r.stDone, r.sandbox, r.sbDone
	r.mu.Unlock()
	if st != nil {
		_ = st.Process.Signal(syscall.SIGTERM)
		select {
		case <-stDone:
		case <-time.After(20 * time.Second):
			_ = st.Process.Signal(syscall.SIGKILL)
			<-stDone
		}
	}
	if sb != nil {
		_ = sb.Process.Signal(syscall.SIGCONT)
		_ = sb.Process.Signal(syscall.SIGTERM)
		select {
		case <-sbDone:
		case <-time.After(10 * time.Second):
			_ = sb.Process.Signal(syscall.SIGKILL)
			<-sbDone
		}
	}
	if r.admin != nil {
		if !keep {
			_, _ = r.admin.Exec("DROP DATABASE IF EXISTS `" + r.dbName + "`")
		}
		r.admin.Close()
	}
}
