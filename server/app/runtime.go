package app

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent is the garbage collector's target when GOGC is not set:
// a request allocates mostly short-lived objects (GraphQL documents, rows,
// JSON), so letting the heap grow to five times the live set before a
// collection trades a little memory for less collector CPU (about a tenth
// of Strait's CPU at the Go default of 100, under the confirm benchmark).
// Set GOGC (and GOMEMLIMIT, to bound the heap in a container) to override.
const DefaultGCPercent = 400

// TuneRuntime applies Strait's runtime defaults where the environment sets
// none. strait serve calls it at start, and so do the benchmarks, so that
// they measure what runs in production.
func TuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
}
