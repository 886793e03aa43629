package pluginhost

import (
	"bytes"
	"context"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"
)

// adapterLogs mirrors one adapter's output into the core's log at a bounded
// rate. An adapter writes in two places: its stderr file (hclog JSON, which
// go-plugin reads line by line and re-logs through a Named child of the
// logger it is given) and, once go-plugin serves, Go's os.Stdout/os.Stderr,
// which go-plugin streams over gRPC to the SyncStdout/SyncStderr writers.
// Every line of either waits for a token of one limiter, so an adapter that
// floods is read no faster than linesPerSecond: its writes then block, and
// it floods neither the core's log nor its CPU.
type adapterLogs struct {
	base hclog.Logger
	lim  *rate.Limiter
}

func newAdapterLogs(l hclog.Logger, linesPerSecond int) *adapterLogs {
	if linesPerSecond <= 0 {
		linesPerSecond = DefaultLimits.LogLinesPerSecond
	}
	return &adapterLogs{base: l, lim: rate.NewLimiter(rate.Limit(linesPerSecond), linesPerSecond)}
}

// unlimit lets the rest of the output through at once (the process is
// being killed; what is left in its pipes is bounded by their size).
func (a *adapterLogs) unlimit() { a.lim.SetLimit(rate.Inf) }

// pluginLogger is the logger for go-plugin: its own messages (process
// started, exited) pass freely; the stderr mirror it derives is limited.
func (a *adapterLogs) pluginLogger() hclog.Logger { return &unlimitedParent{Logger: a.base, logs: a} }

// stream is a writer for one of the adapter's Go standard streams.
func (a *adapterLogs) stream(name string) *streamWriter {
	return &streamWriter{log: &limitedLogger{Logger: a.base.Named(name), lim: a.lim}}
}

type unlimitedParent struct {
	hclog.Logger
	logs *adapterLogs
}

func (p *unlimitedParent) Named(name string) hclog.Logger {
	return &limitedLogger{Logger: p.Logger.Named(name), lim: p.logs.lim}
}

// limitedLogger waits for a token before each line, whatever its level:
// filtering costs the core too.
type limitedLogger struct {
	hclog.Logger
	lim *rate.Limiter
}

func (l *limitedLogger) Log(level hclog.Level, msg string, args ...any) {
	_ = l.lim.Wait(context.Background())
	l.Logger.Log(level, msg, args...)
}

func (l *limitedLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *limitedLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *limitedLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *limitedLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *limitedLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l *limitedLogger) Named(name string) hclog.Logger {
	return &limitedLogger{Logger: l.Logger.Named(name), lim: l.lim}
}

func (l *limitedLogger) With(args ...any) hclog.Logger {
	return &limitedLogger{Logger: l.Logger.With(args...), lim: l.lim}
}

// maxStreamLine bounds a partial line kept between writes.
const maxStreamLine = 64 << 10

// streamWriter logs what an adapter writes to a standard stream, a line at
// a time, at debug level (as go-plugin does for stderr lines not in JSON).
type streamWriter struct {
	log  *limitedLogger
	part []byte
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.part = append(w.part, p...)
			if len(w.part) >= maxStreamLine {
				w.flush()
			}
			break
		}
		w.part = append(w.part, p[:i]...)
		w.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (w *streamWriter) flush() {
	w.log.Debug(string(w.part))
	w.part = w.part[:0]
}
