package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Strait's log states durations with their unit: an access log line's
// "duration" reads "1.5ms", not 1500000.
func TestLogDurationsAreReadable(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("request", "duration", 1500*time.Microsecond, "nested", map[string]any{"n": 1})
	log.WithGroup("db").Info("batch", "wait", 2*time.Minute)
	out := buf.String()
	for _, want := range []string{`"duration":"1.5ms"`, `"wait":"2m0s"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
}
