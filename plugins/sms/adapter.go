package sms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// Version is the adapter's version, reported by Describe.
const Version = "1.0.0"

// Adapter is the SMS channel adapter for one provider account and sender.
// Create it with New; the SDK drives it (Describe, Configure, Start, then
// Send and ServeHTTP concurrently, finally Close).
type Adapter struct {
	httpClient *http.Client
	now        func() time.Time

	mu    sync.Mutex
	cfg   *settings // nil until Configure succeeded
	prov  provider
	log   hclog.Logger
	host  sdk.Host // nil until Start
	st    *state
	media *mediaStore
	// sendLocks serialises Sends to one number, so split texts and
	// choices keep their order and a retried Send sees its own progress.
	sendLocks map[string]*numberLock
	// statusMu serialises status callbacks, so two reports for one message
	// cannot both pass the "only forward" check.
	statusMu sync.Mutex
	closed   bool
}

// New returns an unconfigured SMS adapter.
func New() *Adapter {
	return &Adapter{
		// Each call has its own deadline (request_timeout).
		httpClient: &http.Client{},
		now:        time.Now,
		log:        hclog.NewNullLogger(),
		sendLocks:  map[string]*numberLock{},
	}
}

// Describe: SMS has no typing indicator and no read receipts (MarkRead is
// never called), but providers report delivery, which becomes ACCEPT in
// LiveEngage. Images go as MMS (Twilio) or as a signed link (Vonage, whose
// SMS API has no MMS). Quick replies and buttons are rendered as numbered
// options; texts of any length are split, hence MaxTextLength 0.
func (a *Adapter) Describe() sdk.Description {
	return sdk.Description{
		Name:    "sms",
		Version: Version,
		Capabilities: sdk.Capabilities{
			Typing:           false,
			ReadReceipts:     false,
			DeliveryReceipts: true,
			MediaKinds:       []sdk.MediaKind{sdk.MediaImage},
			MaxTextLength:    0,
			QuickReplies:     true,
			Buttons:          true,
			Webhooks:         true,
			ResolvesSends:    true, // Twilio's Messages list; Vonage cannot (ErrCannotResolve)
		},
	}
}

// Configure validates the config block; it does not contact the provider.
func (a *Adapter) Configure(_ context.Context, setup sdk.Setup) error {
	s, err := parseConfig(setup.Config)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.host != nil {
		return errors.New("sms: already started; the channel must be restarted to change its config")
	}
	a.cfg = &s
	if setup.Logger != nil {
		a.log = setup.Logger.With("channel", setup.Channel)
	}
	switch s.provider {
	case "twilio":
		media, err := safehttp.New(s.downloads)
		if err != nil {
			return fmt.Errorf("sms: downloads: %w", err)
		}
		a.prov = &twilio{base: s.apiBase, accountSID: s.accountSID, authToken: s.authToken, from: s.from,
			serviceSID: s.serviceSID, http: a.httpClient, media: media, timeout: s.requestTimeout}
	case "vonage":
		a.prov = &vonage{base: s.apiBase, apiKey: s.apiKey, apiSecret: s.apiSecret, token: s.webhookToken,
			from: s.from, http: a.httpClient, timeout: s.requestTimeout}
	}
	a.log.Info("sms adapter configured", "provider", s.provider, "api_base_url", s.apiBase)
	return nil
}

// Start opens the adapter's state (opt-outs, receipts, unfinished
// concatenated messages, agent media) in Host.StateDir. Nothing is
// registered with the provider: its webhook URLs are set in its console.
func (a *Adapter) Start(_ context.Context, host sdk.Host) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg == nil {
		return errors.New("sms: Start before a successful Configure")
	}
	if a.host != nil || a.closed {
		return errors.New("sms: already started or closed")
	}
	if host.WebhookURL() == "" && a.cfg.publicURL == "" {
		return sdk.Permanent(errors.New("sms: needs a public webhook URL (server.public_url, or public_url in the channel config)"))
	}
	st, err := openState(host.StateDir(), a.now())
	if err != nil {
		return fmt.Errorf("sms: %w", err)
	}
	if host.StateDir() == "" {
		a.log.Warn("no state dir: opt-outs, receipts and message parts are kept in memory only")
	}
	a.host, a.st = host, st
	a.media = newMediaStore(st)
	a.log.Info("sms adapter started", "state_dir", host.StateDir() != "")
	return nil
}

// Close stops serving; state is already on disk.
func (a *Adapter) Close(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	return nil
}

// snapshot returns what a request needs, consistently.
func (a *Adapter) snapshot() (*settings, provider, sdk.Host, *state, *mediaStore) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg, a.prov, a.host, a.st, a.media
}

// publicBase is the URL the provider calls for this channel's webhook.
func publicBase(cfg *settings, host sdk.Host) string {
	if cfg.publicURL != "" {
		return cfg.publicURL
	}
	return host.WebhookURL()
}

type numberLock struct {
	mu   sync.Mutex
	refs int
}

// lockNumber serialises work for one phone number; the lock is dropped
// when nobody holds or waits for it, so the map does not grow.
func (a *Adapter) lockNumber(phone string) func() {
	a.mu.Lock()
	l := a.sendLocks[phone]
	if l == nil {
		l = &numberLock{}
		a.sendLocks[phone] = l
	}
	l.refs++
	a.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		a.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(a.sendLocks, phone)
		}
		a.mu.Unlock()
	}
}
