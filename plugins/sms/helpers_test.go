package sms

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	emu "github.com/leconnect/leconnect/emulator/sms"
	"github.com/leconnect/leconnect/plugins/sdk"
)

const (
	testPhone   = "+14155552345" // the consumer
	twilioFrom  = "+14155550100"
	vonageFrom  = "+447700900000"
	vonageToken = "vonage-webhook-token-0123"
)

// newEmulator serves an SMS emulator with both providers' numbers.
func newEmulator(t *testing.T, opts emu.Options) (*emu.Emulator, string) {
	t.Helper()
	if opts.TimeScale == 0 {
		opts.TimeScale = 0.01
	}
	e, err := emu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(func() { srv.Close(); e.Close() })
	e.SetBaseURL(srv.URL)
	for _, n := range []emu.Number{{Provider: emu.Twilio, Number: twilioFrom}, {Provider: emu.Vonage, Number: vonageFrom}} {
		if err := e.AddNumber(n); err != nil {
			t.Fatal(err)
		}
	}
	return e, srv.URL
}

// config returns a valid config block for provider against the emulator.
func config(e *emu.Emulator, base, provider string, extra map[string]any) []byte {
	m := map[string]any{"provider": provider, "api_base_url": base, "request_timeout": "5s"}
	if provider == "twilio" {
		m["account_sid"], m["auth_token"], m["from"] = e.AccountSID(), e.AuthToken(), twilioFrom
	} else {
		m["api_key"], m["api_secret"], m["from"], m["webhook_token"] = e.VonageAPIKey(), e.VonageAPISecret(), vonageFrom, vonageToken
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// fakeHost plays the core: it keeps delivered events, or fails with err.
type fakeHost struct {
	hook, dir string
	mu        sync.Mutex
	events    []sdk.Event
	err       error
	// delivered, if set, runs after each Deliver is stored, before it
	// returns: the core answering at once.
	delivered func(sdk.Event)
}

func (h *fakeHost) Deliver(_ context.Context, events ...sdk.Event) error {
	h.mu.Lock()
	if h.err != nil {
		h.mu.Unlock()
		return h.err
	}
	for _, e := range events {
		if err := e.Validate(); err != nil {
			h.mu.Unlock()
			return err
		}
	}
	h.events = append(h.events, events...)
	then := h.delivered
	h.mu.Unlock()
	if then != nil {
		for _, e := range events {
			then(e)
		}
	}
	return nil
}
func (h *fakeHost) WebhookURL() string { return h.hook }
func (h *fakeHost) StateDir() string   { return h.dir }

func (h *fakeHost) setErr(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err = err
}

func (h *fakeHost) all() []sdk.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Event(nil), h.events...)
}

// started is an adapter started with a fake host whose webhook is served
// by an httptest server that rebuilds the public URL as the core does.
type started struct {
	a    *Adapter
	host *fakeHost
	srv  *httptest.Server
}

func startAdapter(t *testing.T, cfg []byte, dir string) *started {
	t.Helper()
	s := &started{a: New(), host: &fakeHost{dir: dir}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What sdk.webhookRequest gives the adapter: r.URL is the full public URL.
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		r.URL = &u
		s.a.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.host.hook = s.srv.URL + "/channels/sms/webhook"
	if err := s.a.Configure(context.Background(), sdk.Setup{Channel: "sms", Config: sdk.NewConfig(cfg)}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	if err := s.a.Start(context.Background(), s.host); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.a.Close(context.Background()) })
	return s
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
