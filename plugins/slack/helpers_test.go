package slack

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	emu "github.com/leconnect/leconnect/emulator/slack"
	"github.com/leconnect/leconnect/plugins/sdk"
)

const testUser = "U0TESTUSER"

// newEmulator serves a Slack emulator with fast clocks and no post limit
// unless opts says otherwise; it knows the test user.
func newEmulator(t *testing.T, opts emu.Options) (*emu.Emulator, string) {
	t.Helper()
	if opts.TimeScale == 0 {
		opts.TimeScale = 0.001
	}
	if opts.PostRate == 0 {
		opts.PostRate = -1
	}
	e, err := emu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(func() { e.Close(); srv.Close() })
	e.SetPublicURL(srv.URL)
	if err := e.AddUser(emu.User{ID: testUser, Name: "ann", RealName: "Ann Example"}); err != nil {
		t.Fatal(err)
	}
	return e, srv.URL
}

// config builds a config block for the emulator at base; extra keys
// override the defaults.
func config(e *emu.Emulator, base, mode string, extra map[string]any) []byte {
	m := map[string]any{
		"bot_token":         e.BotToken(),
		"signing_secret":    e.SigningSecret(),
		"mode":              mode,
		"api_base_url":      base + "/api",
		"rate_scale":        1000,
		"reconnect_backoff": "10ms",
	}
	if mode == "socket" {
		m["app_token"] = e.AppToken()
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// host records delivered events; fail makes Deliver fail.
type host struct {
	mu      sync.Mutex
	events  []sdk.Event
	fail    error
	changed chan struct{}
}

func newHost() *host { return &host{changed: make(chan struct{})} }

func (h *host) Deliver(_ context.Context, events ...sdk.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return h.fail
	}
	h.events = append(h.events, events...)
	close(h.changed)
	h.changed = make(chan struct{})
	return nil
}
func (h *host) WebhookURL() string { return "http://127.0.0.1/channels/slack/webhook" }
func (h *host) StateDir() string   { return "" }

func (h *host) setFail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = err
}

func (h *host) all() []sdk.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Event(nil), h.events...)
}

// wait waits until n events were delivered; the bound only stops a broken test.
func (h *host) wait(t *testing.T, n int) []sdk.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		evs, ch := append([]sdk.Event(nil), h.events...), h.changed
		h.mu.Unlock()
		if len(evs) >= n {
			return evs
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("waited for %d events, got %d: %+v", n, len(evs), evs)
		}
	}
}

// started is a running adapter in events or socket mode, wired to the
// emulator (events mode: the emulator's Request URL is the adapter).
type started struct {
	a    *Adapter
	h    *host
	e    *emu.Emulator
	base string
}

func start(t *testing.T, opts emu.Options, mode string, extra map[string]any) started {
	t.Helper()
	opts.SocketMode = mode == "socket"
	e, base := newEmulator(t, opts)
	a := New()
	if err := a.Configure(context.Background(), sdk.Setup{Channel: "slack", Config: sdk.NewConfig(config(e, base, mode, extra))}); err != nil {
		t.Fatal(err)
	}
	if mode == "events" {
		srv := httptest.NewServer(a)
		t.Cleanup(srv.Close)
		e.SetRequestURL(srv.URL)
	}
	h := newHost()
	if err := a.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return started{a: a, h: h, e: e, base: base}
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
