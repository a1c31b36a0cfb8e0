package host

import (
	"context"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// slogLogger is an hclog.Logger that writes to a slog.Logger. go-plugin
// logs through hclog, and parses the plugin's stderr lines into hclog
// calls; this bridge puts both into Strait's log with the right levels.
type slogLogger struct {
	l     *slog.Logger
	name  string
	level hclog.Level
	args  []any
}

func newHCLog(l *slog.Logger, name string) hclog.Logger {
	return &slogLogger{l: l, name: name, level: hclog.Debug}
}

func (s *slogLogger) Log(level hclog.Level, msg string, args ...any) {
	if level < s.level || level == hclog.Off {
		return
	}
	var lv slog.Level
	switch level {
	case hclog.Trace, hclog.Debug:
		lv = slog.LevelDebug
	case hclog.Warn:
		lv = slog.LevelWarn
	case hclog.Error:
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	all := append(append([]any{"logger", s.name}, s.args...), args...)
	s.l.Log(context.Background(), lv, msg, all...)
}

func (s *slogLogger) Trace(msg string, args ...any) { s.Log(hclog.Trace, msg, args...) }
func (s *slogLogger) Debug(msg string, args ...any) { s.Log(hclog.Debug, msg, args...) }
func (s *slogLogger) Info(msg string, args ...any)  { s.Log(hclog.Info, msg, args...) }
func (s *slogLogger) Warn(msg string, args ...any)  { s.Log(hclog.Warn, msg, args...) }
func (s *slogLogger) Error(msg string, args ...any) { s.Log(hclog.Error, msg, args...) }
func (s *slogLogger) IsTrace() bool                 { return s.level <= hclog.Trace }
func (s *slogLogger) IsDebug() bool                 { return s.level <= hclog.Debug }
func (s *slogLogger) IsInfo() bool                  { return s.level <= hclog.Info }
func (s *slogLogger) IsWarn() bool                  { return s.level <= hclog.Warn }
func (s *slogLogger) IsError() bool                 { return s.level <= hclog.Error }
func (s *slogLogger) ImpliedArgs() []any            { return s.args }
func (s *slogLogger) Name() string                  { return s.name }
func (s *slogLogger) SetLevel(level hclog.Level)    { s.level = level }
func (s *slogLogger) GetLevel() hclog.Level         { return s.level }

func (s *slogLogger) With(args ...any) hclog.Logger {
	n := *s
	n.args = append(append([]any(nil), s.args...), args...)
	return &n
}

func (s *slogLogger) Named(name string) hclog.Logger {
	n := *s
	if n.name != "" {
		name = n.name + "." + name
	}
	n.name = name
	return &n
}

func (s *slogLogger) ResetNamed(name string) hclog.Logger {
	n := *s
	n.name = name
	return &n
}

func (s *slogLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(s.StandardWriter(opts), "", 0)
}

func (s *slogLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		s.Info(string(p))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
