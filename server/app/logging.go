package app

import (
	"context"
	"log/slog"
)

// requestIDHandler adds the request ID to every record logged with a request's
// context, so a line from deep in a resolver can be matched to its request
// (and to the X-Request-Id the caller saw).
type requestIDHandler struct{ slog.Handler }

// WithRequestIDs wraps a logger so that records logged with a request context
// carry "request_id".
func WithRequestIDs(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(requestIDHandler); ok {
		return l
	}
	return slog.New(requestIDHandler{l.Handler()})
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// ReadableDurations is a slog ReplaceAttr that writes every duration as Go
// writes it ("1.234ms", "2m0s") instead of the JSON handler's bare count of
// nanoseconds, so that a person reading the log, or grepping it for "ms",
// sees the unit. Other values pass unchanged.
func ReadableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
