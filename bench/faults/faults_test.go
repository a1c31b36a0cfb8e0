package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The harness's CI run (docs/faults.md): STRAIT_FAULTS_SEEDS seeds (default
// 6) from STRAIT_FAULTS_FIRST_SEED (default 1), each STRAIT_FAULTS_DURATION
// (default 40s) of load and faults, two at a time, 0 violations.
//
// Before issue 13's point 1 was fixed, seed 5 at 30 s failed I7 here: a
// capture whose answer a sandbox-sigstop lost stayed REQUIRES_CAPTURE while
// the network had captured. An INTERNAL answer is counted as indeterminate
// and listed under "error codes" (point 3: a transient database error must
// be UNAVAILABLE), not failed on.
func TestFaultHarness(t *testing.T) {
	bins := buildOnce(t)
	first := envInt(t, "STRAIT_FAULTS_FIRST_SEED", 1)
	n := envInt(t, "STRAIT_FAULTS_SEEDS", 6)
	d := 40 * time.Second
	if v := os.Getenv("STRAIT_FAULTS_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var all []*Result
	t.Cleanup(func() {
		if len(all) > 0 {
			t.Log("\n" + Summary(all))
		}
	})
	for seed := int64(first); seed < int64(first+n); seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), Config{Seed: seed, Duration: d, Bins: bins, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			all = append(all, res)
			mu.Unlock()
			if res.Failed() {
				t.Errorf("\n%s", res.Report)
			} else {
				t.Logf("\n%s", res.Report)
			}
		})
	}
}

// The debug switch STRAIT_DEBUG_FAULT=janitor-skip-inflight stops the
// janitor: the timeout card's payment (worker 0's first order) then stays
// PROCESSING, and the harness must fail, printing the seed, the replay
// command and the payment's history.
func TestDebugSwitchJanitorSkipInflightIsCaught(t *testing.T) {
	bins := buildOnce(t)
	t.Parallel()
	const seed = 4242
	res, err := Run(context.Background(), Config{Seed: seed, Duration: 12 * time.Second, Settle: 45 * time.Second,
		Bins: bins, Dir: t.TempDir(), Env: []string{"STRAIT_DEBUG_FAULT=janitor-skip-inflight"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() {
		t.Fatalf("the harness passed with the janitor off:\n%s", res.Report)
	}
	stuck := false
	for _, v := range res.Violations {
		stuck = stuck || v.Invariant == "I6" && strings.Contains(v.What, "PROCESSING")
	}
	for _, want := range []string{"seed 4242: FAIL", "replay: make faults SEED=4242", "still in flight", "confirm key=cf-s4242-w0-0", "states seen: PROCESSING"} {
		if !strings.Contains(res.Report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if !stuck || t.Failed() {
		t.Fatalf("no readable I6 violation for a payment left PROCESSING:\n%s", res.Report)
	}
	t.Logf("\n%s", res.Report)
}

func TestScheduleIsTheSeeds(t *testing.T) {
	a, b := Schedule(7, time.Minute, true), Schedule(7, time.Minute, true)
	if !reflect.DeepEqual(a, b) || len(a) < 10 {
		t.Fatalf("seed 7 gave two schedules (or too few faults):\n%s\n%s", describe(a), describe(b))
	}
	if c := Schedule(8, time.Minute, true); reflect.DeepEqual(a, c) {
		t.Fatal("seeds 7 and 8 gave the same schedule")
	}
	kinds := map[string]bool{}
	for s := int64(1); s <= 10; s++ {
		for _, p := range Schedule(s, 40*time.Second, true) {
			kinds[p.Kind] = true
			if p.At+p.Hold > 40*time.Second {
				t.Fatalf("seed %d: %s ends after the load", s, p)
			}
		}
	}
	if len(kinds) != len(FaultKinds) {
		t.Fatalf("10 seeds drew only %v", kinds)
	}
	for _, p := range Schedule(3, time.Minute, false) {
		if p.Kind == FaultDBKill {
			t.Fatal("a MySQL fault planned on SQLite")
		}
	}
}

func TestScanPANsFindsCardNumbersOnly(t *testing.T) {
	text := `{"number":"4242424242424242"} pan=5105105105105100 id=pay_01j4242424242424242x ` +
		`fp=9c1e4111111111111111ab ts=1735776000 amount=123456789012 4000000000000069`
	got := ScanPANs("t", text, []string{"4242424242424242", "4000000000000069"})
	want := []string{"t: test card 424242…4242 at byte 11", "t: test card 400000…0069 at byte 139",
		"t: Luhn-valid number 510510…5100 at byte 34"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ScanPANs = %q, want %q", got, want)
	}
	if got := ScanPANs("t", "order 4242424242424241 and 12345678901234", nil); len(got) != 0 {
		t.Fatalf("numbers failing Luhn reported: %q", got)
	}
}

var (
	build     sync.Once
	builtBins Bins
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildOnce builds strait, the sandbox and the plugins once per test
// binary, or skips when the harness cannot run here (-short, no go tool).
func buildOnce(t *testing.T) Bins {
	t.Helper()
	if testing.Short() {
		t.Skip("runs every process for minutes")
	}
	build.Do(func() {
		root, err := FindRepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "strait-faults-bin-"); buildErr != nil {
			return
		}
		builtBins, buildErr = Build(context.Background(), root, filepath.Join(buildDir, "bin"))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBins
}

func envInt(t *testing.T, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return n
}
