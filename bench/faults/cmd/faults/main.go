// Command faults runs Strait's fault harness (docs/faults.md) over one seed
// or a range of seeds and exits non-zero when any invariant broke.
//
//	go run ./bench/faults/cmd/faults -bin bin -seed 1 -seeds 8 -duration 40s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/straitpay/strait/bench/faults"
)

func main() {
	seed := flag.Int64("seed", 1, "first seed")
	seeds := flag.Int("seeds", 1, "how many seeds, from -seed on")
	duration := flag.Duration("duration", 30*time.Second, "load and faults per seed")
	workers := flag.Int("workers", 4, "concurrent buyers and merchants")
	settle := flag.Duration("settle", 100*time.Second, "bound on the wait for the janitor after the faults")
	bin := flag.String("bin", "bin", "directory of `make build`'s binaries (strait, sandbox, plugins/); empty builds them")
	work := flag.String("dir", "", "work directory (default a new temporary one)")
	sqlite := flag.Bool("sqlite", false, "use SQLite even when MySQL is reachable")
	keep := flag.Bool("keep", false, "keep the MySQL databases and the work directory")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *seed, *seeds, *duration, *workers, *settle, *bin, *work, *sqlite, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, seed int64, seeds int, duration time.Duration, workers int, settle time.Duration, bin, work string, sqlite, keep bool) error {
	root, err := faults.FindRepoRoot()
	if err != nil {
		return err
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "strait-faults-"); err != nil {
			return err
		}
		if !keep {
			defer os.RemoveAll(work)
		}
	}
	var bins faults.Bins
	if bin == "" {
		if bins, err = faults.Build(ctx, root, filepath.Join(work, "bin")); err != nil {
			return err
		}
	} else {
		abs, _ := filepath.Abs(bin)
		bins = faults.Bins{Strait: filepath.Join(abs, "strait"), Sandbox: filepath.Join(abs, "sandbox"),
			PluginDir: filepath.Join(abs, "plugins"), RepoRoot: root}
	}
	failed := 0
	var all []*faults.Result
	for s := seed; s < seed+int64(seeds); s++ {
		res, err := faults.Run(ctx, faults.Config{Seed: s, Duration: duration, Workers: workers, Settle: settle, Bins: bins,
			Dir: filepath.Join(work, fmt.Sprint("seed-", s)), SQLite: sqlite, Keep: keep, Log: os.Stderr})
		if err != nil {
			return fmt.Errorf("seed %d: %w", s, err)
		}
		fmt.Println(res.Report)
		all = append(all, res)
		if res.Failed() {
			failed++
		}
	}
	fmt.Println(faults.Summary(all))
	if failed > 0 {
		return fmt.Errorf("%d of %d seeds broke an invariant", failed, seeds)
	}
	return nil
}
