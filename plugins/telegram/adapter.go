package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Version is the adapter's version, reported by Describe.
const Version = "1.0.0"

// Adapter is the Telegram channel adapter. Create it with New; the SDK
// drives it (Describe, Configure, Start, then Send, SetTyping, ServeHTTP
// and Health concurrently, finally Close).
type Adapter struct {
	httpClient *http.Client

	mu       sync.Mutex
	cfg      *settings // nil until Configure succeeded
	api      *botAPI
	log      hclog.Logger
	host     sdk.Host        // nil until Start
	life     context.Context // Start's context: valid until Close
	stop     context.CancelFunc
	limiter  *limiter
	typing   map[string]*typingLoop // by chat/thread
	unhealth error                  // why the adapter cannot work right now
	closed   bool                   // Close was called: start no more goroutines

	sends   *sdk.PartLedger // idempotency keys of messages already sent
	choices *choiceStore    // long choice ids behind callback_data tokens
	wg      sync.WaitGroup
}

// New returns an unconfigured Telegram adapter.
func New() *Adapter {
	return &Adapter{
		// No client-wide timeout: each call has its own deadline, and long
		// polls last longer than any sensible fixed timeout.
		httpClient: &http.Client{},
		log:        hclog.NewNullLogger(),
		typing:     map[string]*typingLoop{},
		sends:      sdk.NewPartLedger(10000),
		choices:    newChoiceStore(10000),
	}
}

// Describe: Telegram bots can show "typing…" but get no read receipts and
// no delivery receipts, so the core never calls MarkRead. Texts of any
// length are accepted (Send splits them at 4096), hence MaxTextLength 0.
// Audio and video are sent as documents.
func (a *Adapter) Describe() sdk.Description {
	return sdk.Description{
		Name:    "telegram",
		Version: Version,
		Capabilities: sdk.Capabilities{
			Typing:           true,
			ReadReceipts:     false,
			DeliveryReceipts: false,
			MediaKinds:       []sdk.MediaKind{sdk.MediaImage, sdk.MediaAudio, sdk.MediaVideo, sdk.MediaFile},
			MaxTextLength:    0,
			QuickReplies:     true,
			Buttons:          true,
			Webhooks:         true,
		},
	}
}

// Configure validates the config block. It does not contact Telegram:
// a bad token is only found by Start.
func (a *Adapter) Configure(_ context.Context, setup sdk.Setup) error {
	s, err := parseConfig(setup.Config)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.host != nil {
		return errors.New("telegram: already started; the channel must be restarted to change its config")
	}
	a.cfg = &s
	if setup.Logger != nil {
		a.log = setup.Logger.With("channel", setup.Channel)
	}
	api, err := newBotAPI(s.apiBase, s.token, a.httpClient, s.requestTimeout)
	if err != nil {
		return fmt.Errorf("telegram: %w", err)
	}
	a.api = api
	a.limiter = newLimiter(s.perChatRate, s.perChatBurst, s.globalRate)
	mode := "webhook"
	if s.polling {
		mode = "polling"
	}
	a.log.Info("telegram adapter configured", "mode", mode, "api_base_url", s.apiBase)
	return nil
}

// Start registers the webhook (webhook mode) or starts long polling
// (polling mode). A token Telegram refuses fails Start.
func (a *Adapter) Start(ctx context.Context, host sdk.Host) error {
	a.mu.Lock()
	cfg, api := a.cfg, a.api
	if cfg == nil {
		a.mu.Unlock()
		return errors.New("telegram: Start before a successful Configure")
	}
	if a.host != nil || a.closed {
		a.mu.Unlock()
		return errors.New("telegram: already started or closed")
	}
	life, stop := context.WithCancel(ctx)
	a.host, a.life, a.stop = host, life, stop
	a.mu.Unlock()

	// A failed Start leaves the adapter startable again.
	failed := func(err error) error {
		a.mu.Lock()
		a.host, a.life, a.stop = nil, nil, nil
		a.mu.Unlock()
		stop()
		return err
	}
	if !cfg.polling {
		if host.WebhookURL() == "" {
			// setWebhook with an empty url would remove the webhook instead.
			return failed(sdk.Permanent(errors.New("telegram: webhook mode needs the core's public webhook URL (server.public_url); or use mode: polling")))
		}
		if err := a.setWebhook(ctx, api, cfg, host.WebhookURL()); err != nil {
			return failed(fmt.Errorf("telegram: register webhook: %w", err))
		}
		a.log.Info("telegram webhook registered")
		return nil
	}
	if err := api.call(ctx, "getMe", struct{}{}, nil); err != nil {
		return failed(fmt.Errorf("telegram: check bot token with getMe: %w", classify(err)))
	}
	if cfg.deleteWebhook {
		// A webhook left over from webhook mode makes getUpdates fail with 409.
		if err := api.call(ctx, "deleteWebhook", map[string]any{"drop_pending_updates": false}, nil); err != nil {
			return failed(fmt.Errorf("telegram: delete webhook before polling: %w", classify(err)))
		}
	}
	a.mu.Lock()
	if a.closed { // Close raced with Start
		a.mu.Unlock()
		return failed(errors.New("telegram: closed while starting"))
	}
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		a.pollExclusively(life, api, cfg, host)
	}()
	a.log.Info("telegram long polling started", "poll_timeout", cfg.pollTimeout)
	return nil
}

// setWebhook registers url, waiting out a 429 (Telegram refuses a second
// setWebhook within a second) a few times within ctx.
func (a *Adapter) setWebhook(ctx context.Context, api *botAPI, cfg *settings, url string) error {
	params := map[string]any{
		"url":             url,
		"secret_token":    cfg.secret,
		"allowed_updates": allowedUpdates,
		"max_connections": cfg.maxConnections,
	}
	var err error
	for range 3 {
		err = api.call(ctx, "setWebhook", params, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != http.StatusTooManyRequests {
			break
		}
		if werr := sleep(ctx, max(ae.RetryAfter, time.Second)); werr != nil {
			return werr
		}
	}
	return classify(err)
}

// Health reports a polling conflict (409) or a refused token.
func (a *Adapter) Health(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.unhealth
}

func (a *Adapter) setHealth(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unhealth = err
}

// Close stops polling and typing; a registered webhook stays registered,
// so Telegram keeps updates until the channel is back.
func (a *Adapter) Close(context.Context) error {
	a.mu.Lock()
	a.closed = true
	if a.stop != nil {
		a.stop()
	}
	for _, t := range a.typing {
		t.cancel() // the loops exit by themselves; wg waits for them
	}
	a.mu.Unlock()
	a.wg.Wait()
	return nil
}

// snapshot returns what a request needs, consistently.
func (a *Adapter) snapshot() (*settings, *botAPI, sdk.Host) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg, a.api, a.host
}

func (a *Adapter) rateLimiter() *limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limiter
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
