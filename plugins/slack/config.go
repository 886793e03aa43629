package slack

import (
	"net/url"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// Config is the channel's `config:` block.
type Config struct {
	// BotToken is the bot user OAuth token, "xoxb-...". Required.
	BotToken string `json:"bot_token"`
	// SigningSecret is the app's signing secret; it checks the v0 signature
	// of every Events API and interactivity request. Required in events mode.
	SigningSecret string `json:"signing_secret"`
	// Mode is how events arrive: "events" (default; Slack POSTs to the
	// core's /channels/<name>/webhook, which must be the app's Request URL
	// and Interactivity URL) or "socket" (Socket Mode; needs app_token).
	Mode string `json:"mode"`
	// AppToken is the app-level token, "xapp-...", with connections:write.
	// Required in socket mode.
	AppToken string `json:"app_token"`
	// APIBaseURL is the Web API base [https://slack.com/api].
	APIBaseURL string `json:"api_base_url"`
	// ConversationScope maps Slack to LiveEngage conversations: "channel"
	// (default; one conversation per DM or shared channel) or "thread" (in
	// shared channels, one conversation per thread; DMs stay per channel).
	ConversationScope string `json:"conversation_scope"`
	// EditedMessages: "forward" (default; sent on marked as edited) or "ignore".
	EditedMessages string `json:"edited_messages"`
	// RateScale multiplies every rate limit the adapter keeps to (Slack's
	// tiers, chat.postMessage's 1 per second per channel) [1]; tests raise it.
	RateScale float64 `json:"rate_scale"`
	// RequestTimeout bounds one Web API call, as a Go duration [30s].
	RequestTimeout string `json:"request_timeout"`
	// AckBudget bounds the work before an Events API request is answered
	// (file downloads included), as a Go duration [2500ms]: Slack counts an
	// answer after 3 s as failed and retries.
	AckBudget string `json:"ack_budget"`
	// ReconnectBackoff is the first wait after a failed Socket Mode
	// connection, doubling up to 30 s, as a Go duration [1s].
	ReconnectBackoff string `json:"reconnect_backoff"`
	// Downloads widens where consumers' files may be fetched from: Slack's
	// own hosts (slack.com and its subdomains) and api_base_url's host
	// always; internal addresses only in allow_networks.
	Downloads safehttp.Config `json:"downloads"`
}

// settings is Config validated, with defaults applied.
type settings struct {
	botToken         string
	signingSecret    string
	socket           bool
	appToken         string
	apiBase          string // without a trailing slash
	threadScope      bool
	forwardEdits     bool
	rateScale        float64
	requestTimeout   time.Duration
	ackBudget        time.Duration
	reconnectBackoff time.Duration
	downloads        safehttp.Policy
}

// DefaultAPIBaseURL is Slack's Web API.
const DefaultAPIBaseURL = "https://slack.com/api"

// parseConfig decodes and validates a config block, reporting every
// problem at once. It never contacts Slack. Secrets are never echoed.
func parseConfig(c sdk.Config) (settings, error) {
	var cfg Config
	var fe sdk.FieldErrors
	fe.Merge(c.Decode(&cfg))
	if len(fe) > 0 {
		return settings{}, fe.Err()
	}
	s := settings{
		botToken: cfg.BotToken, signingSecret: cfg.SigningSecret, appToken: cfg.AppToken,
		apiBase: strings.TrimRight(cfg.APIBaseURL, "/"), forwardEdits: true, rateScale: 1,
		requestTimeout: 30 * time.Second, ackBudget: 2500 * time.Millisecond, reconnectBackoff: time.Second,
	}
	switch {
	case cfg.BotToken == "":
		fe.Add("bot_token", "required; the bot user OAuth token, xoxb-...")
	case !strings.HasPrefix(cfg.BotToken, "xoxb-"):
		fe.Add("bot_token", "must be a bot token starting with xoxb- (user and app tokens are not accepted here)")
	}
	switch cfg.Mode {
	case "", "events":
	case "socket":
		s.socket = true
	default:
		fe.Add("mode", "must be \"events\" or \"socket\", got %q", cfg.Mode)
	}
	if !s.socket && cfg.SigningSecret == "" {
		fe.Add("signing_secret", "required in events mode; the app's signing secret (Basic Information page)")
	}
	switch {
	case s.socket && cfg.AppToken == "":
		fe.Add("app_token", "required in socket mode; an app-level token xapp-... with connections:write")
	case cfg.AppToken != "" && !strings.HasPrefix(cfg.AppToken, "xapp-"):
		fe.Add("app_token", "must be an app-level token starting with xapp-")
	}
	if s.apiBase == "" {
		s.apiBase = DefaultAPIBaseURL
	} else if u, err := url.Parse(s.apiBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fe.Add("api_base_url", "must be an absolute http(s) URL such as %s, got %q", DefaultAPIBaseURL, cfg.APIBaseURL)
	}
	switch cfg.ConversationScope {
	case "", "channel":
	case "thread":
		s.threadScope = true
	default:
		fe.Add("conversation_scope", "must be \"channel\" or \"thread\", got %q", cfg.ConversationScope)
	}
	switch cfg.EditedMessages {
	case "", "forward":
	case "ignore":
		s.forwardEdits = false
	default:
		fe.Add("edited_messages", "must be \"forward\" or \"ignore\", got %q", cfg.EditedMessages)
	}
	if cfg.RateScale != 0 {
		if cfg.RateScale < 0 {
			fe.Add("rate_scale", "must be positive, got %v", cfg.RateScale)
		}
		s.rateScale = cfg.RateScale
	}
	s.requestTimeout = fe.Duration("request_timeout", cfg.RequestTimeout, s.requestTimeout, 100*time.Millisecond, 10*time.Minute)
	s.ackBudget = fe.Duration("ack_budget", cfg.AckBudget, s.ackBudget, 10*time.Millisecond, 3*time.Second)
	s.reconnectBackoff = fe.Duration("reconnect_backoff", cfg.ReconnectBackoff, s.reconnectBackoff, time.Millisecond, time.Minute)
	// url_private(_download) is on files.slack.com (§2.4).
	s.downloads = safehttp.Policy{Hosts: []string{"slack.com", "*.slack.com"}, MaxBytes: maxFileBytes, Timeout: s.requestTimeout}
	if cfg.APIBaseURL != "" {
		s.downloads.Trusted = safehttp.Origins(s.apiBase)
	}
	s.downloads = cfg.Downloads.Apply(s.downloads, &fe, "downloads")
	return s, fe.Err()
}
