// Package serve runs an emulator's HTTP handler for its `leconnect emulator`
// command: serve until ctx ends, then stop the emulator's long-lived streams
// (long polls, WebSockets, SSE) so that a graceful shutdown does not wait
// on them.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Run serves h on ln until ctx ends or serving fails. stop is called before
// the server shuts down (or when serving failed); name prefixes errors.
func Run(ctx context.Context, name string, ln net.Listener, h http.Handler, stop func()) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stop()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("%s: serve: %w", name, err)
	case <-ctx.Done():
	}
	stop()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("%s: shutdown: %w", name, err)
	}
	return nil
}

// HoldAnswer waits d before an answer is written, as a hold fault asks (the
// call was carried out, its answer is late). It reports false when the
// client went away or the emulator closed meanwhile: write nothing then.
func HoldAnswer(r *http.Request, closed <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-closed:
	}
	return false
}
