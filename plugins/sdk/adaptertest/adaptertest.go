package adaptertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Options describe how to drive the adapter under test.
type Options struct {
	// Config is a valid config block (a JSON object) for the adapter,
	// typically pointing it at its platform's emulator.
	Config []byte
	// Address is a chat the adapter can send to.
	Address sdk.Address
	// Inbound makes the platform send text as a consumer message to the
	// chat at Address. webhookURL is where the suite serves the adapter's
	// webhook (for adapters that poll, ignore it). nil skips inbound checks.
	Inbound func(ctx context.Context, webhookURL, text string) error
	// Timeout bounds each wait for an inbound event; default 15s.
	Timeout time.Duration
}

// unknownKey is a config key no adapter declares.
const unknownKey = "leconnect_conformance_unknown_key"

// Run checks the adapter made by newAdapter against the contract. Each
// subtest gets a fresh adapter.
func Run(t *testing.T, newAdapter func() sdk.Adapter, opts Options) {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 15 * time.Second
	}

	t.Run("Describe", func(t *testing.T) {
		a := newAdapter()
		if err := sdk.CheckDescription(a); err != nil {
			t.Fatal(err)
		}
		c := connect(t, a)
		d, err := c.Describe(context.Background())
		if err != nil {
			t.Fatalf("Describe: %v", err)
		}
		want := a.Describe()
		if d.Name != want.Name || d.Name == "" || d.Version == "" {
			t.Fatalf("Describe over gRPC = %q %q; want a non-empty name and version equal to %q %q", d.Name, d.Version, want.Name, want.Version)
		}
		if fmt.Sprint(d.Capabilities) != fmt.Sprint(want.Capabilities) {
			t.Fatalf("capabilities changed crossing the process boundary: got %+v, want %+v", d.Capabilities, want.Capabilities)
		}
	})

	t.Run("ConfigureAcceptsValidConfig", func(t *testing.T) {
		c := connect(t, newAdapter())
		fe, err := c.Configure(context.Background(), "conformance", opts.Config)
		if err != nil || len(fe) > 0 {
			t.Fatalf("Configure(valid config) = %v, %v; want no problems", fe, err)
		}
	})

	t.Run("ConfigureRejectsUnknownKeys", func(t *testing.T) {
		c := connect(t, newAdapter())
		fe, err := c.Configure(context.Background(), "conformance", withKey(t, opts.Config, unknownKey, 1))
		if err != nil {
			t.Fatalf("Configure returned a plain error %v; want field errors", err)
		}
		found := false
		for _, e := range fe {
			found = found || e.Field == unknownKey
			if e.Message == "" {
				t.Errorf("field error for %q has no message", e.Field)
			}
		}
		if !found {
			t.Fatalf("Configure accepted unknown key %q (field errors: %v); config must be strict", unknownKey, fe)
		}
	})

	t.Run("SendIsIdempotentAcrossInstances", func(t *testing.T) { testSendAcrossInstances(t, newAdapter, opts) })

	t.Run("Lifecycle", func(t *testing.T) {
		a := newAdapter()
		desc := a.Describe()
		c := connect(t, a)
		ctx := context.Background()
		if fe, err := c.Configure(ctx, "conformance", opts.Config); err != nil || len(fe) > 0 {
			t.Fatalf("Configure = %v, %v", fe, err)
		}
		host := &recordingHost{}
		hook := httptest.NewServer(forwarder(c))
		t.Cleanup(hook.Close)
		webhookURL := hook.URL + "/channels/conformance/webhook"
		stateDir := t.TempDir()
		if err := c.Start(ctx, sdk.HostOptions{Deliverer: host, WebhookURL: webhookURL, StateDir: stateDir}); err != nil {
			t.Fatalf("Start: %v", err)
		}
		closed := false
		t.Cleanup(func() {
			if closed {
				return
			}
			if err := c.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		if err := c.Health(ctx); err != nil {
			t.Fatalf("Health after Start: %v", err)
		}

		t.Run("Send", func(t *testing.T) {
			msg := sdk.OutboundMessage{IdempotencyKey: "conformance-1", To: opts.Address, Text: "conformance: hello ✓"}
			res, err := c.Send(ctx, msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			checkIDs(t, res)
			again, err := c.Send(ctx, msg)
			if err != nil {
				t.Fatalf("Send retried with the same idempotency key: %v", err)
			}
			if fmt.Sprint(again.MessageIDs) != fmt.Sprint(res.MessageIDs) {
				t.Fatalf("Send retried with the same idempotency key sent again: ids %v, then %v", res.MessageIDs, again.MessageIDs)
			}
		})
		if desc.Capabilities.QuickReplies {
			t.Run("SendQuickReplies", func(t *testing.T) {
				res, err := c.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "conformance-qr", To: opts.Address, Text: "pick one",
					QuickReplies: []sdk.Choice{{ID: "yes", Text: "Yes"}, {ID: "no", Text: "No"}}})
				if err != nil {
					t.Fatalf("Send with quick replies: %v", err)
				}
				checkIDs(t, res)
			})
		}
		for _, kind := range desc.Capabilities.MediaKinds {
			t.Run("SendMedia/"+kind.String(), func(t *testing.T) {
				res, err := c.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "conformance-media-" + kind.String(), To: opts.Address,
					Text: "a file", Media: sampleMedia(kind)})
				if err != nil {
					t.Fatalf("Send %s: %v", kind, err)
				}
				checkIDs(t, res)
			})
		}
		if desc.Capabilities.Typing {
			t.Run("SetTyping", func(t *testing.T) {
				for _, active := range []bool{true, false} {
					if err := c.SetTyping(ctx, opts.Address, active); err != nil {
						t.Fatalf("SetTyping(%v): %v", active, err)
					}
				}
			})
		}
		if desc.Capabilities.ReadReceipts {
			t.Run("MarkRead", func(t *testing.T) {
				if err := c.MarkRead(ctx, opts.Address, []string{"conformance-read"}); err != nil {
					t.Fatalf("MarkRead: %v", err)
				}
			})
		}
		t.Run("ConcurrentSends", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := c.Send(ctx, sdk.OutboundMessage{IdempotencyKey: fmt.Sprintf("conformance-c%d", i), To: opts.Address, Text: fmt.Sprintf("concurrent %d", i)})
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("concurrent Send: %v", err)
				}
			}
		})
		if desc.Capabilities.Webhooks {
			t.Run("UnauthenticatedWebhookIsRefused", func(t *testing.T) {
				before := host.count()
				resp, err := http.Post(webhookURL, "application/json", strings.NewReader(`{"update_id":1,"message":{"text":"forged"}}`))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode < 400 || resp.StatusCode >= 500 {
					t.Fatalf("unauthenticated webhook answered %d; want a 4xx", resp.StatusCode)
				}
				if host.count() != before {
					t.Fatalf("an unauthenticated webhook delivered events")
				}
			})
		}
		if opts.Inbound != nil {
			t.Run("Inbound", func(t *testing.T) {
				text := fmt.Sprintf("conformance inbound %d", time.Now().UnixNano())
				ictx, cancel := context.WithTimeout(ctx, opts.Timeout)
				defer cancel()
				if err := opts.Inbound(ictx, webhookURL, text); err != nil {
					t.Fatalf("Inbound: %v", err)
				}
				ev, ok := host.waitFor(ictx, func(e sdk.Event) bool { return e.Message != nil && e.Message.Text == text })
				if !ok {
					t.Fatalf("no message event with text %q delivered (got %d events)", text, host.count())
				}
				if err := ev.Validate(); err != nil {
					t.Fatal(err)
				}
				if ev.Message.ID == "" {
					t.Errorf("inbound message has no platform message id")
				}
			})
		}
		// Last, as it closes the adapter. The core repeats an unacknowledged
		// Send after a crash: a restarted adapter with the same state dir must
		// answer it without sending again.
		t.Run("SendIsIdempotentAcrossRestarts", func(t *testing.T) {
			msg := sdk.OutboundMessage{IdempotencyKey: "conformance-restart", To: opts.Address, Text: "sent once, whatever happens"}
			first, err := c.Send(ctx, msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			// The old process is closed first: only one holds the journal.
			closed = true
			if err := c.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			c2 := connect(t, newAdapter())
			if fe, err := c2.Configure(ctx, "conformance", opts.Config); err != nil || len(fe) > 0 {
				t.Fatalf("Configure = %v, %v", fe, err)
			}
			if err := c2.Start(ctx, sdk.HostOptions{Deliverer: &recordingHost{}, WebhookURL: webhookURL, StateDir: stateDir}); err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer c2.Close(ctx)
			again, err := c2.Send(ctx, msg)
			if err != nil {
				t.Fatalf("Send repeated after a restart: %v", err)
			}
			if fmt.Sprint(again.MessageIDs) != fmt.Sprint(first.MessageIDs) {
				t.Fatalf("Send repeated after a restart sent again: ids %v, then %v", first.MessageIDs, again.MessageIDs)
			}
		})
	})
}

// connect serves a over real gRPC (with the broker) and returns the client
// the core would use.
func connect(t *testing.T, a sdk.Adapter) *sdk.AdapterClient {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, sdk.Plugins(a))
	// Close asks the server to shut down (go-plugin's Shutdown RPC stops it);
	// stopping it here as well would race with that.
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	return raw.(*sdk.AdapterClient)
}

// forwarder plays the core's /channels/{name}/webhook endpoint.
func forwarder(c *sdk.AdapterClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res, err := c.HandleWebhook(r.Context(), r, body, "http://"+r.Host+r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, vs := range res.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(res.Body)
	})
}

func withKey(t *testing.T, config []byte, key string, value any) []byte {
	t.Helper()
	m := map[string]any{}
	if len(bytes.TrimSpace(config)) > 0 {
		if err := json.Unmarshal(config, &m); err != nil {
			t.Fatalf("Options.Config is not a JSON object: %v", err)
		}
	}
	m[key] = value
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func checkIDs(t *testing.T, res sdk.SendResult) {
	t.Helper()
	if len(res.MessageIDs) == 0 {
		t.Fatalf("Send returned no message ids")
	}
	for _, id := range res.MessageIDs {
		if id == "" {
			t.Fatalf("Send returned an empty message id in %v", res.MessageIDs)
		}
	}
}

// sampleMedia returns a small valid file of the kind.
func sampleMedia(kind sdk.MediaKind) *sdk.Media {
	switch kind {
	case sdk.MediaImage:
		// A 1x1 PNG.
		png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
		return &sdk.Media{Kind: kind, ContentType: "image/png", FileName: "pixel.png", Data: png}
	case sdk.MediaAudio:
		return &sdk.Media{Kind: kind, ContentType: "audio/ogg", FileName: "sound.ogg", Data: []byte("OggS\x00conformance")}
	case sdk.MediaVideo:
		return &sdk.Media{Kind: kind, ContentType: "video/mp4", FileName: "clip.mp4", Data: []byte("\x00\x00\x00\x18ftypmp42conformance")}
	}
	return &sdk.Media{Kind: sdk.MediaFile, ContentType: "text/plain", FileName: "note.txt", Data: []byte("conformance file\n")}
}

// recordingHost plays Host.Deliver: it accepts and keeps every event.
type recordingHost struct {
	mu     sync.Mutex
	events []sdk.Event
	notify chan struct{}
}

func (h *recordingHost) Deliver(_ context.Context, events []sdk.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, events...)
	if h.notify != nil {
		close(h.notify)
		h.notify = nil
	}
	return nil
}

func (h *recordingHost) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events)
}

func (h *recordingHost) waitFor(ctx context.Context, match func(sdk.Event) bool) (sdk.Event, bool) {
	for {
		h.mu.Lock()
		for _, e := range h.events {
			if match(e) {
				h.mu.Unlock()
				return e, true
			}
		}
		if h.notify == nil {
			h.notify = make(chan struct{})
		}
		ch := h.notify
		h.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return sdk.Event{}, false
		}
	}
}
