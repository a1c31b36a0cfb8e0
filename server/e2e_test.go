package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeRunsTheReferenceConnectorsAndLeavesNoOrphans is `make run` as a
// test: the real sandbox and strait processes with the four reference
// connectors built and checksummed into a plugin directory. Every connector
// reports UP over GraphQL; after strait is SIGKILLed no plugin process
// survives it.
func TestServeRunsTheReferenceConnectorsAndLeavesNoOrphans(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every binary")
	}
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	build := exec.Command("go", "build", "-o", plugins+"/", "../plugins/cardnet", "../plugins/bank", "../plugins/wallet", "../plugins/fx")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build plugins: %v\n%s", err, out)
	}
	sandboxBin := filepath.Join(dir, "sandbox")
	if out, err := exec.Command("go", "build", "-o", sandboxBin, "../sandbox/cmd/sandbox").CombinedOutput(); err != nil {
		t.Fatalf("build sandbox: %v\n%s", err, out)
	}
	sandboxAddr, straitAddr := freeAddr(t), freeAddr(t)
	manifest := exec.Command("sh", "../plugins/manifest.sh", plugins)
	manifest.Env = append(os.Environ(), "SANDBOX_URL=http://"+sandboxAddr, "STRAIT_PUBLIC_URL=http://"+straitAddr)
	if out, err := manifest.CombinedOutput(); err != nil {
		t.Fatalf("manifest.sh: %v\n%s", err, out)
	}

	sbLogs := &syncBuffer{}
	sb := exec.Command(sandboxBin, "-addr", sandboxAddr, "-data", filepath.Join(dir, "sandbox-data"), "-fx-drift")
	sb.Stderr = sbLogs
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Process.Signal(syscall.SIGTERM); _ = sb.Wait() })
	waitFor(t, "http://"+sandboxAddr+"/healthz", nil, sbLogs)

	env := []string{"STRAIT_DATA_DIR=" + filepath.Join(dir, "data"), "STRAIT_ADDR=" + straitAddr, "STRAIT_DATABASE_URL=",
		"STRAIT_PLUGIN_DIR=" + plugins, "SANDBOX_API_KEY=sk_sandbox_test", "SANDBOX_WEBHOOK_SECRET=whsec_e2e"}
	strait(t, env, "keys")
	token := strait(t, env, "token", "--role", "operator")
	cmd, done, logs := startServe(t, env, straitAddr)

	resp := graphQL(t, "http://"+straitAddr, token, "{ connectors { name health kind } }")
	var out struct {
		Data struct {
			Connectors []struct{ Name, Health, Kind string }
		}
	}
	err := json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range out.Data.Connectors {
		got = append(got, c.Name+":"+c.Health)
	}
	if want := "bank:UP cardnet:UP fx:UP wallet:UP"; strings.Join(got, " ") != want {
		t.Fatalf("connectors = %v, want %s\n%s", got, want, logs.String())
	}

	children := childrenOf(t, cmd.Process.Pid)
	if len(children) != 4 {
		t.Fatalf("strait has %d child processes, want the 4 plugins: %v", len(children), children)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	deadline := time.Now().Add(5 * time.Second)
	for {
		var alive []int
		for _, pid := range children {
			if running(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin processes %v outlived a SIGKILLed strait", alive)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(child); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	_, state, ok := procStat(pid)
	return ok && state != "Z"
}

// procStat reads the parent pid and state of pid from /proc/pid/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	// "pid (comm) state ppid …"; comm may hold spaces, so cut at the last ')'.
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
