package sdk

import (
	"context"
	"log/slog"
	"os"

	"github.com/hashicorp/go-hclog"
)

// hclogHandler is a slog.Handler that writes hclog's JSON lines to stderr,
// the format go-plugin parses and forwards into the host's logger with
// the right level.
type hclogHandler struct {
	l     hclog.Logger
	attrs []any
	group string
}

func newLogger(level hclog.Level) *slog.Logger {
	l := hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: level})
	return slog.New(&hclogHandler{l: l})
}

func (h *hclogHandler) Enabled(_ context.Context, lv slog.Level) bool {
	return hclogLevel(lv) >= h.l.GetLevel()
}

func (h *hclogHandler) Handle(_ context.Context, r slog.Record) error {
	args := append([]any(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		args = append(args, h.key(a.Key), a.Value.Resolve().Any())
		return true
	})
	h.l.Log(hclogLevel(r.Level), r.Message, args...)
	return nil
}

func (h *hclogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]any(nil), h.attrs...)
	for _, a := range as {
		n.attrs = append(n.attrs, h.key(a.Key), a.Value.Resolve().Any())
	}
	return &n
}

func (h *hclogHandler) WithGroup(name string) slog.Handler {
	n := *h
	n.group = h.key(name)
	return &n
}

func (h *hclogHandler) key(k string) string {
	if h.group == "" {
		return k
	}
	return h.group + "." + k
}

func hclogLevel(lv slog.Level) hclog.Level {
	switch {
	case lv >= slog.LevelError:
		return hclog.Error
	case lv >= slog.LevelWarn:
		return hclog.Warn
	case lv >= slog.LevelInfo:
		return hclog.Info
	}
	return hclog.Debug
}
