// Package bench measures Strait against itself: what a hop costs.
package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/host"
	"github.com/straitpay/strait/connectors/hosttest"
)

func TestMain(m *testing.M) { hosttest.Main(m) }

// echoPayload is the size of the echo message: about the size of a
// Describe request and answer on the wire.
const echoPayload = 128

// BenchmarkConnectorRoundTrip compares, in one run, a Describe through the
// real host and the cardnet plugin process (gRPC over a unix socket with
// mutual TLS) against an in-process interface call and against a bare
// unix-socket echo of 128 bytes. It reports p50 and p99 of each and the
// ratio of the connector's p50 to the echo's (goal: at most 10×).
//
//	go test ./bench -run '^$' -bench ConnectorRoundTrip -benchtime 20000x
func BenchmarkConnectorRoundTrip(b *testing.B) {
	conn := startConnector(b)
	echo := startEcho(b)
	var local connectors.Connector = fake{}
	ctx := context.Background()

	lat := map[string][]time.Duration{}
	run := func(name string, op func() error) {
		b.Run(name, func(b *testing.B) {
			samples := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if err := op(); err != nil {
					b.Fatal(err)
				}
				samples[i] = time.Since(start)
			}
			b.StopTimer()
			p50, p99 := percentiles(samples)
			b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(p99.Nanoseconds()), "p99-ns")
			lat[name] = samples
		})
	}
	run("connector", func() error { _, err := conn.Describe(ctx); return err })
	run("inprocess", func() error { _, err := local.Describe(ctx); return err })
	run("echo", echo)

	b.Log(table(lat))
}

func percentiles(s []time.Duration) (p50, p99 time.Duration) {
	if len(s) == 0 {
		return 0, 0
	}
	s = append([]time.Duration(nil), s...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*50/100], s[(len(s)-1)*99/100]
}

// table formats the figures of one run, with the connector/echo ratio.
func table(lat map[string][]time.Duration) string {
	out := "\n| path | calls | p50 | p99 |\n| --- | --- | --- | --- |\n"
	for _, name := range []string{"connector", "inprocess", "echo"} {
		p50, p99 := percentiles(lat[name])
		out += fmt.Sprintf("| %s | %d | %s | %s |\n", name, len(lat[name]), p50, p99)
	}
	c, _ := percentiles(lat["connector"])
	e, _ := percentiles(lat["echo"])
	if e > 0 {
		out += fmt.Sprintf("connector p50 / echo p50 = %.1f× (goal ≤ 10×)\n", float64(c)/float64(e))
	}
	return out
}

// fake is the in-process baseline: the same interface, no process hop.
type fake struct{ connectors.Unimplemented }

func (fake) Describe(context.Context) (connectors.Descriptor, error) {
	return connectors.Descriptor{Name: "fake", Version: "1", Kind: connectors.KindCardScheme}, nil
}

// startConnector builds cardnet and runs it under the real host.
func startConnector(b *testing.B) connectors.Connector {
	b.Helper()
	dir := b.TempDir()
	// No channel behind it: Describe never leaves the plugin.
	hosttest.Install(b, dir, hosttest.Channel{BaseURL: "http://127.0.0.1:1", APIKey: "unused"}.Reference(b, "cardnet"))
	m := hosttest.Start(b, host.Config{Dir: dir})
	c, _ := m.Get("cardnet")
	if _, err := c.Describe(context.Background()); err != nil {
		b.Fatal(err)
	}
	return c
}

// startEcho runs a unix-socket echo server and returns one round trip.
func startEcho(b *testing.B) func() error {
	b.Helper()
	path := filepath.Join(b.TempDir(), "echo.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	msg, buf := make([]byte, echoPayload), make([]byte, echoPayload)
	return func() error {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_, err := io.ReadFull(c, buf)
		return err
	}
}
