// Package admin is the operator's interface to a store's dead-letter list:
// `leconnect dlq list | replay | drop`. A running daemon serves it on a Unix
// socket beside its store (the store file is locked while the daemon runs);
// with the daemon stopped, the command opens the store itself. Both paths
// share the DLQ interface, so the command does not care which it got.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

// DLQ is what the command needs: the store's dead-letter list.
type DLQ interface {
	List(ctx context.Context, after uint64, limit int) ([]store.DeadLetter, error)
	Replay(ctx context.Context, id uint64) (store.Item, error)
	Drop(ctx context.Context, id uint64) error
}

// SocketPath is where the daemon serves the admin API for a store file.
func SocketPath(storePath string) string { return storePath + ".sock" }

// Handler serves the dead-letter list:
//
//	GET    /dlq?after=ID&limit=N   entries, oldest first
//	POST   /dlq/{id}/replay        move an entry back to its queue
//	DELETE /dlq/{id}               drop an entry
//	GET    /debug/pprof/...        Go profiles
func Handler(d store.DeadLetters) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dlq", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		list, err := d.List(r.Context(), after, limit)
		reply(w, list, err)
	})
	mux.HandleFunc("POST /dlq/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "id must be a number", http.StatusBadRequest)
			return
		}
		item, err := d.Replay(r.Context(), id)
		reply(w, item, err)
	})
	mux.HandleFunc("DELETE /dlq/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "id must be a number", http.StatusBadRequest)
			return
		}
		reply(w, struct{}{}, d.Drop(r.Context(), id))
	})
	// Profiles, for operators only: the socket is private to the daemon's user.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

// Serve listens on the socket (replacing a stale one) until stop is called.
// The socket is private to the daemon's user.
func Serve(path string, h http.Handler) (stop func() error, err error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if _, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			return nil, fmt.Errorf("admin socket %s is in use: is another leconnect running on this store?", path)
		}
		_ = os.Remove(path) // left by a crashed daemon
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		_ = os.Remove(path)
		return err
	}, nil
}

// Client reaches a running daemon's admin socket; it implements DLQ.
type Client struct{ http *http.Client }

// Dial returns a client for the daemon serving socket, or an error if none
// answers there.
func Dial(socket string) (*Client, error) {
	c := &Client{http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
	conn, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return nil, err
	}
	conn.Close()
	return c, nil
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://leconnect"+path, nil)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	switch {
	case res.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w", string(body), store.ErrNotFound)
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("daemon answered %s: %s", res.Status, body)
	}
	return json.Unmarshal(body, out)
}

func (c *Client) List(ctx context.Context, after uint64, limit int) ([]store.DeadLetter, error) {
	var out []store.DeadLetter
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(limit)}}
	return out, c.do(ctx, http.MethodGet, "/dlq?"+q.Encode(), &out)
}

func (c *Client) Replay(ctx context.Context, id uint64) (store.Item, error) {
	var out store.Item
	return out, c.do(ctx, http.MethodPost, fmt.Sprintf("/dlq/%d/replay", id), &out)
}

func (c *Client) Drop(ctx context.Context, id uint64) error {
	var out struct{}
	return c.do(ctx, http.MethodDelete, fmt.Sprintf("/dlq/%d", id), &out)
}
