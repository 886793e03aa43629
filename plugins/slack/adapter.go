package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// Version is the adapter's version, reported by Describe.
const Version = "1.0.0"

// Adapter is the Slack channel adapter. Create it with New; the SDK drives
// it (Describe, Configure, Start, then Send, ServeHTTP and Health
// concurrently, finally Close).
type Adapter struct {
	httpClient *http.Client

	mu       sync.Mutex
	cfg      *settings // nil until Configure succeeded
	api      *webAPI
	log      hclog.Logger
	host     sdk.Host // nil until Start
	stop     context.CancelFunc
	self     identity // the app's bot user, from auth.test
	unhealth error    // why the adapter cannot work right now
	closed   bool

	sends *sdk.PartLedger // idempotency keys of messages already sent
	seen  *recentSet      // events delivered recently (retries, app_mention + message pairs)
	users *profiles       // users.info answers, for the consumer's profile
	wg    sync.WaitGroup
}

// identity is who the app is in the workspace.
type identity struct {
	UserID string `json:"user_id"`
	BotID  string `json:"bot_id"`
	TeamID string `json:"team_id"`
}

// New returns an unconfigured Slack adapter.
func New() *Adapter {
	return &Adapter{
		httpClient: &http.Client{},
		log:        hclog.NewNullLogger(),
		sends:      sdk.NewPartLedger(10000),
		seen:       newRecentSet(4096),
		users:      newProfiles(10000),
	}
}

// Describe: Slack apps have no typing indicator and see no read receipts
// (channels.md §2.9: user_typing and the typing frame are RTM-only, and no
// read event exists), so Typing and ReadReceipts are false and the core
// never calls SetTyping or MarkRead. Texts of any length are accepted (Send
// splits them), hence MaxTextLength 0. Every media kind is sent as a file.
// Webhooks is true in both modes because Describe must not depend on the
// config; in socket mode ServeHTTP answers 404.
func (a *Adapter) Describe() sdk.Description {
	return sdk.Description{
		Name:    "slack",
		Version: Version,
		Capabilities: sdk.Capabilities{
			Typing:           false,
			ReadReceipts:     false,
			DeliveryReceipts: false,
			MediaKinds:       []sdk.MediaKind{sdk.MediaImage, sdk.MediaAudio, sdk.MediaVideo, sdk.MediaFile},
			MaxTextLength:    0,
			QuickReplies:     true,
			Buttons:          true,
			Webhooks:         true,
			ResolvesSends:    true, // message metadata and conversations.history (not files, not threads)
		},
	}
}

// Configure validates the config block. It does not contact Slack: a bad
// token is only found by Start.
func (a *Adapter) Configure(_ context.Context, setup sdk.Setup) error {
	s, err := parseConfig(setup.Config)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.host != nil {
		return errors.New("slack: already started; the channel must be restarted to change its config")
	}
	a.cfg = &s
	if setup.Logger != nil {
		a.log = setup.Logger.With("channel", setup.Channel)
	}
	files, err := safehttp.New(s.downloads)
	if err != nil {
		return fmt.Errorf("slack: downloads: %w", err)
	}
	a.api = &webAPI{base: s.apiBase, token: s.botToken, http: a.httpClient, files: files, timeout: s.requestTimeout,
		limits: newLimiter(s.rateScale, s.requestTimeout)}
	mode := "events"
	if s.socket {
		mode = "socket"
	}
	a.log.Info("slack adapter configured", "mode", mode, "api_base_url", s.apiBase, "thread_scope", s.threadScope)
	return nil
}

// Start checks the bot token with auth.test (learning the app's own bot
// user, whose messages are dropped) and, in socket mode, opens the first
// Socket Mode connection before returning.
func (a *Adapter) Start(ctx context.Context, host sdk.Host) error {
	a.mu.Lock()
	cfg, api := a.cfg, a.api
	switch {
	case cfg == nil:
		a.mu.Unlock()
		return errors.New("slack: Start before a successful Configure")
	case a.host != nil || a.closed:
		a.mu.Unlock()
		return errors.New("slack: already started or closed")
	}
	a.mu.Unlock()

	var self struct {
		envelope
		identity
	}
	if err := api.callForm(ctx, "auth.test", cfg.botToken, url.Values{}, &self); err != nil {
		return fmt.Errorf("slack: check bot token with auth.test: %w", classify(err))
	}
	var first *socketConn
	if cfg.socket {
		c, err := a.connect(ctx, cfg, api)
		if err != nil {
			return fmt.Errorf("slack: open socket mode connection: %w", err)
		}
		first = c
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		if first != nil {
			first.close()
		}
		return errors.New("slack: closed while starting")
	}
	life, stop := context.WithCancel(context.Background())
	a.host, a.stop, a.self = host, stop, self.identity
	if cfg.socket {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.socketLoop(life, cfg, api, first)
		}()
		a.log.Info("slack socket mode connected", "bot_user_id", self.UserID)
		return nil
	}
	a.log.Info("slack events API ready; set the app's Request URL and Interactivity URL to the channel's webhook URL",
		"webhook_url", host.WebhookURL(), "bot_user_id", self.UserID)
	return nil
}

// Health reports a socket mode connection that is down, or credentials
// Slack refused.
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

// Close stops the socket mode loop; in events mode Slack keeps retrying
// what it could not deliver until the channel is back.
func (a *Adapter) Close(context.Context) error {
	a.mu.Lock()
	a.closed = true
	if a.stop != nil {
		a.stop()
	}
	a.mu.Unlock()
	a.wg.Wait()
	return nil
}

// snapshot returns what a request needs, consistently.
func (a *Adapter) snapshot() (*settings, *webAPI, sdk.Host, identity) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg, a.api, a.host, a.self
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

// recentSet remembers the last n keys (event ids, channel+ts of delivered
// messages): a cheap first line against retries inside one process; the
// core's dedupe by event id is the durable one.
type recentSet struct {
	mu    sync.Mutex
	max   int
	keys  map[string]struct{}
	order []string
}

func newRecentSet(n int) *recentSet { return &recentSet{max: n, keys: map[string]struct{}{}} }

func (s *recentSet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.keys[k]
	return ok
}

func (s *recentSet) add(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if _, ok := s.keys[k]; ok || k == "" {
			continue
		}
		s.keys[k] = struct{}{}
		s.order = append(s.order, k)
		if len(s.order) > s.max {
			delete(s.keys, s.order[0])
			s.order = s.order[1:]
		}
	}
}
