package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	emu "github.com/leconnect/leconnect/emulator/telegram"
	"github.com/leconnect/leconnect/plugins/sdk"
)

const (
	testChat   = int64(1111111)
	testChatID = "1111111"
	testSecret = "s3cr3t_Token-123"
)

// newEmulator serves a Telegram emulator with fast clocks and generous
// limits unless opts says otherwise; it knows the test user.
func newEmulator(t *testing.T, opts emu.Options) (*emu.Emulator, string) {
	t.Helper()
	if opts.TimeScale == 0 {
		opts.TimeScale = 0.001
	}
	if opts.ChatRate == 0 {
		opts.ChatRate, opts.ChatBurst = 10000, 1000
	}
	if opts.GlobalRate == 0 {
		opts.GlobalRate, opts.GlobalBurst = 10000, 1000
	}
	e, err := emu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(func() { e.Close(); srv.Close() }) // Close ends long polls first
	if err := e.AddUser(emu.User{ID: testChat, FirstName: "Test Firstname", LastName: "Test Lastname", Username: "Testusername", LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
	return e, srv.URL
}

// config builds a config block for the emulator at base; extra keys
// override the defaults.
func config(e *emu.Emulator, base, mode string, extra map[string]any) []byte {
	m := map[string]any{
		"bot_token":       e.Token(),
		"mode":            mode,
		"api_base_url":    base,
		"per_chat_rate":   10000,
		"per_chat_burst":  1000,
		"global_rate":     10000,
		"poll_timeout":    1,
		"typing_interval": "20ms",
	}
	if mode == "webhook" {
		m["secret_token"] = testSecret
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	out, _ := json.Marshal(m)
	return out
}

// fakeHost plays the core: it keeps delivered events (dropping repeated
// ids, as the core's dedupe does) and can be told to fail.
type fakeHost struct {
	url string

	mu       sync.Mutex
	events   []sdk.Event
	seen     map[string]bool
	calls    int
	failNext int   // fail this many Deliver calls with failErr
	failErr  error // default: a transient error
	changed  chan struct{}
}

func newFakeHost(url string) *fakeHost {
	return &fakeHost{url: url, seen: map[string]bool{}, changed: make(chan struct{})}
}

func (h *fakeHost) WebhookURL() string { return h.url }

func (h *fakeHost) StateDir() string { return "" }

func (h *fakeHost) Deliver(_ context.Context, events ...sdk.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	for _, e := range events {
		if err := e.Validate(); err != nil {
			return sdk.Permanent(err)
		}
	}
	if h.failNext > 0 {
		h.failNext--
		if h.failErr != nil {
			return h.failErr
		}
		return sdk.NotConnected(errors.New("core is restarting"))
	}
	for _, e := range events {
		if !h.seen[e.ID] {
			h.seen[e.ID] = true
			h.events = append(h.events, e)
		}
	}
	close(h.changed)
	h.changed = make(chan struct{})
	return nil
}

func (h *fakeHost) snapshot() ([]sdk.Event, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Event(nil), h.events...), h.calls
}

// waitEvent waits for an event matching ok.
func (h *fakeHost) waitEvent(t *testing.T, ok func(sdk.Event) bool) sdk.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		h.mu.Lock()
		for _, e := range h.events {
			if ok(e) {
				h.mu.Unlock()
				return e
			}
		}
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			evs, _ := h.snapshot()
			t.Fatalf("no matching event delivered; got %s", describe(evs))
		}
	}
}

func describe(evs []sdk.Event) string {
	var b strings.Builder
	for _, e := range evs {
		switch {
		case e.Message != nil:
			fmt.Fprintf(&b, "[%s message %q media=%d] ", e.ID, e.Message.Text, len(e.Message.Media))
		case e.End != nil:
			fmt.Fprintf(&b, "[%s end %q] ", e.ID, e.End.Reason)
		default:
			fmt.Fprintf(&b, "[%s other] ", e.ID)
		}
	}
	return b.String()
}

// startAdapter configures and starts an adapter in-process against host.
func startAdapter(t *testing.T, cfg []byte, host sdk.Host) *Adapter {
	t.Helper()
	a := New()
	setup := sdk.Setup{Channel: "tg", Config: sdk.NewConfig(cfg), Logger: hclog.NewNullLogger()}
	if err := a.Configure(context.Background(), setup); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := a.Start(ctx, host); err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		cancel()
	})
	return a
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
