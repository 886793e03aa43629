package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/leconnect/leconnect/plugins/sdk"
)

type fakeChannel struct {
	gotBody      string
	gotPublicURL string
	res          sdk.WebhookResponse
	err          error
}

func (f *fakeChannel) HandleWebhook(_ context.Context, _ *http.Request, body []byte, publicURL string) (sdk.WebhookResponse, error) {
	f.gotBody, f.gotPublicURL = string(body), publicURL
	return f.res, f.err
}

type channelMap map[string]*fakeChannel

func (m channelMap) Channel(name string) (Channel, bool) {
	c, ok := m[name]
	return c, ok
}

func start(t *testing.T, opts Options) string {
	t.Helper()
	opts.Listen = "127.0.0.1:0"
	opts.PublicURL = "https://connector.example.com"
	opts.MaxBodyBytes = 64
	s := New(opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return "http://" + s.Addr()
}

func do(t *testing.T, method, url, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func TestRoutes(t *testing.T) {
	ok := &fakeChannel{res: sdk.WebhookResponse{StatusCode: 200, Header: http.Header{"X-Adapter": {"yes"}}, Body: []byte("adapter says hi")}}
	down := &fakeChannel{err: sdk.NotConnected(errors.New("restarting"))}
	hung := &fakeChannel{err: fmt.Errorf("adapter did not answer HandleWebhook within 10s: %w", context.DeadlineExceeded)}
	broken := &fakeChannel{err: errors.New("boom")}
	le := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	base := start(t, Options{
		Channels:   channelMap{"tg": ok, "down": down, "hung": hung, "broken": broken},
		LiveEngage: le,
		Metrics:    http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metric 1\n") }),
	})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string
		wantRetryAfter           string
	}{
		{"healthz", "GET", "/healthz", "", 200, "ok\n", ""},
		{"metrics", "GET", "/metrics", "", 200, "metric 1\n", ""},
		{"forwarded", "POST", "/channels/tg/webhook?x=1", `{"update_id":1}`, 200, "adapter says hi", ""},
		{"unknown channel", "POST", "/channels/nope/webhook", "{}", 404, "no such channel\n", ""},
		{"adapter not ready", "POST", "/channels/down/webhook", "{}", 503, "channel unavailable\n", "5"},
		{"adapter past its deadline", "POST", "/channels/hung/webhook", "{}", 503, "channel unavailable\n", "5"},
		{"adapter error", "POST", "/channels/broken/webhook", "{}", 502, "channel unavailable\n", ""},
		{"channel body too large", "POST", "/channels/tg/webhook", strings.Repeat("x", 65), 413, "request body too large\n", ""},
		{"liveengage", "POST", "/webhooks/liveperson", "{}", 204, "", ""},
		{"liveengage body too large", "POST", "/webhooks/liveperson", strings.Repeat("x", 65), 413, "too large\n", ""},
		{"liveengage wrong method", "GET", "/webhooks/liveperson", "", 405, "Method Not Allowed\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, h := do(t, tt.method, base+tt.path, tt.body)
			if status != tt.wantStatus || body != tt.wantBody || h.Get("Retry-After") != tt.wantRetryAfter {
				t.Fatalf("%s %s = %d %q Retry-After %q; want %d %q Retry-After %q", tt.method, tt.path,
					status, body, h.Get("Retry-After"), tt.wantStatus, tt.wantBody, tt.wantRetryAfter)
			}
		})
	}
	if ok.gotBody != `{"update_id":1}` || ok.gotPublicURL != "https://connector.example.com/channels/tg/webhook?x=1" {
		t.Fatalf("adapter got body %q public url %q", ok.gotBody, ok.gotPublicURL)
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name       string
		checks     map[string]Check
		wantStatus int
		wantBody   string
	}{
		{"all ok", map[string]Check{"store": func(context.Context) error { return nil }}, 200, `{"checks":{"store":"ok"},"ready":true}` + "\n"},
		{"one failing", map[string]Check{
			"store":      func(context.Context) error { return nil },
			"channel:tg": func(context.Context) error { return errors.New("adapter crashed 6 times") },
		}, 503, `{"checks":{"channel:tg":"adapter crashed 6 times","store":"ok"},"ready":false}` + "\n"},
		{"check bounded by timeout", map[string]Check{"slow": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}, 503,
			`{"checks":{"slow":"context deadline exceeded"},"ready":false}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := start(t, Options{Channels: channelMap{}, Checks: tt.checks, CheckTimeout: 50 * 1e6})
			status, body, h := do(t, "GET", base+"/readyz", "")
			if status != tt.wantStatus || body != tt.wantBody || h.Get("Content-Type") != "application/json" {
				t.Fatalf("readyz = %d %q; want %d %q", status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}
