// Command testhost runs a connector host on a plugin directory and prints
// the pid of every plugin, so a test can SIGKILL it and look for orphans.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/straitpay/strait/connectors/host"
)

func main() {
	m, err := host.New(host.Config{Dir: os.Args[1], Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := m.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, s := range m.List() {
		fmt.Printf("PID %d\n", s.PID)
	}
	fmt.Println("READY")
	time.Sleep(time.Hour)
}
