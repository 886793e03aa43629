package telegram

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Config is the channel's `config:` block. Only bot_token is required (and
// secret_token in webhook mode); everything else has a default.
type Config struct {
	// BotToken is the token from @BotFather, "<bot id>:<secret>". Required.
	BotToken string `json:"bot_token"`
	// Mode is how updates arrive: "webhook" (default) or "polling".
	Mode string `json:"mode"`
	// SecretToken is sent to setWebhook; Telegram echoes it in the
	// X-Telegram-Bot-Api-Secret-Token header of every webhook request.
	// Required in webhook mode: 1-256 characters of A-Z a-z 0-9 _ -.
	SecretToken string `json:"secret_token"`
	// APIBaseURL is the Bot API server [https://api.telegram.org]; point it
	// at a local Bot API server or at the emulator.
	APIBaseURL string `json:"api_base_url"`

	// EditedMessages says what happens when a user edits a message:
	// "forward" (default; sent on as a new message marked as edited) or "ignore".
	EditedMessages string `json:"edited_messages"`
	// StartText replaces the text "/start" delivered when a user starts the
	// bot; empty keeps "/start" (see doc.go).
	StartText string `json:"start_text"`
	// EndKeywords end the conversation when a user sends exactly one of them
	// (case-insensitive) [["/end"]]; an empty list switches this off.
	EndKeywords *[]string `json:"end_keywords"`
	// EndOnBlock delivers an EndConversation event when the user blocks the
	// bot, so LiveEngage closes the conversation [true].
	EndOnBlock *bool `json:"end_on_block"`

	// PollTimeout is the getUpdates long-poll timeout in seconds, 1-50 [30].
	PollTimeout int `json:"poll_timeout"`
	// DeleteWebhook makes polling mode call deleteWebhook at start, so a
	// webhook left from webhook mode does not block getUpdates [true].
	DeleteWebhook *bool `json:"delete_webhook"`
	// MaxConnections is setWebhook's max_connections, 1-100 [40].
	MaxConnections int `json:"max_connections"`

	// PerChatRate and PerChatBurst bound messages to one chat (token bucket)
	// [1 per second, burst 3]; GlobalRate bounds all chats together [30 per
	// second, burst the same]. Sends wait for a token.
	PerChatRate  float64 `json:"per_chat_rate"`
	PerChatBurst int     `json:"per_chat_burst"`
	GlobalRate   float64 `json:"global_rate"`
	// TypingInterval is how often sendChatAction is repeated while the agent
	// types, as a Go duration [4s]; Telegram shows it for at most 5 s.
	TypingInterval string `json:"typing_interval"`
	// RequestTimeout bounds one Bot API call, as a Go duration [30s].
	RequestTimeout string `json:"request_timeout"`
}

// settings is Config validated, with defaults applied and durations parsed.
type settings struct {
	token          string
	polling        bool
	secret         string
	apiBase        string // without a trailing slash
	forwardEdits   bool
	startText      string
	endKeywords    []string
	endOnBlock     bool
	pollTimeout    int
	deleteWebhook  bool
	maxConnections int
	perChatRate    float64
	perChatBurst   int
	globalRate     float64
	typingInterval time.Duration
	requestTimeout time.Duration
}

var (
	tokenPattern  = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)
	secretPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// DefaultAPIBaseURL is the public Bot API server.
const DefaultAPIBaseURL = "https://api.telegram.org"

// parseConfig decodes and validates a config block, reporting every
// problem at once. It never contacts Telegram.
func parseConfig(c sdk.Config) (settings, error) {
	var cfg Config
	var fe sdk.FieldErrors
	fe.Merge(c.Decode(&cfg))
	if len(fe) > 0 {
		return settings{}, fe.Err() // the struct may be half-decoded
	}
	s := settings{
		token:          cfg.BotToken,
		secret:         cfg.SecretToken,
		apiBase:        strings.TrimRight(cfg.APIBaseURL, "/"),
		startText:      cfg.StartText,
		endKeywords:    []string{"/end"},
		endOnBlock:     true,
		pollTimeout:    30,
		deleteWebhook:  true,
		maxConnections: 40,
		perChatRate:    1,
		perChatBurst:   3,
		globalRate:     30,
		typingInterval: 4 * time.Second,
		requestTimeout: 30 * time.Second,
	}
	switch {
	case cfg.BotToken == "":
		fe.Add("bot_token", "required; the bot token from @BotFather, like 123456789:AAH...")
	case !tokenPattern.MatchString(cfg.BotToken):
		// Never echo the value: it is a secret.
		fe.Add("bot_token", "malformed; expected <bot id>:<secret> as given by @BotFather (digits, a colon, then letters, digits, _ or -)")
	}
	switch cfg.Mode {
	case "", "webhook":
	case "polling":
		s.polling = true
	default:
		fe.Add("mode", "must be \"webhook\" or \"polling\", got %q", cfg.Mode)
	}
	switch {
	case !s.polling && cfg.SecretToken == "":
		fe.Add("secret_token", "required in webhook mode; 1-256 characters of A-Z a-z 0-9 _ - that Telegram echoes in X-Telegram-Bot-Api-Secret-Token")
	case cfg.SecretToken != "" && !secretPattern.MatchString(cfg.SecretToken):
		fe.Add("secret_token", "must be 1-256 characters of A-Z a-z 0-9 _ - (Telegram's rule)")
	}
	if s.apiBase == "" {
		s.apiBase = DefaultAPIBaseURL
	} else if u, err := url.Parse(s.apiBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fe.Add("api_base_url", "must be an absolute http(s) URL such as %s, got %q", DefaultAPIBaseURL, cfg.APIBaseURL)
	}
	switch cfg.EditedMessages {
	case "", "forward":
		s.forwardEdits = true
	case "ignore":
	default:
		fe.Add("edited_messages", "must be \"forward\" or \"ignore\", got %q", cfg.EditedMessages)
	}
	if cfg.EndKeywords != nil {
		s.endKeywords = nil
		for i, k := range *cfg.EndKeywords {
			if strings.TrimSpace(k) == "" {
				fe.Add(fmt.Sprintf("end_keywords[%d]", i), "must not be empty")
				continue
			}
			s.endKeywords = append(s.endKeywords, strings.TrimSpace(k))
		}
	}
	if cfg.EndOnBlock != nil {
		s.endOnBlock = *cfg.EndOnBlock
	}
	if cfg.PollTimeout != 0 {
		if cfg.PollTimeout < 1 || cfg.PollTimeout > 50 {
			fe.Add("poll_timeout", "must be 1-50 seconds (Telegram caps long polls at 50), got %d", cfg.PollTimeout)
		}
		s.pollTimeout = cfg.PollTimeout
	}
	if cfg.DeleteWebhook != nil {
		s.deleteWebhook = *cfg.DeleteWebhook
	}
	if cfg.MaxConnections != 0 {
		if cfg.MaxConnections < 1 || cfg.MaxConnections > 100 {
			fe.Add("max_connections", "must be 1-100, got %d", cfg.MaxConnections)
		}
		s.maxConnections = cfg.MaxConnections
	}
	if cfg.PerChatRate != 0 {
		if cfg.PerChatRate < 0 {
			fe.Add("per_chat_rate", "must be positive (messages per second), got %v", cfg.PerChatRate)
		}
		s.perChatRate = cfg.PerChatRate
	}
	if cfg.PerChatBurst != 0 {
		if cfg.PerChatBurst < 1 {
			fe.Add("per_chat_burst", "must be at least 1, got %d", cfg.PerChatBurst)
		}
		s.perChatBurst = cfg.PerChatBurst
	}
	if cfg.GlobalRate != 0 {
		if cfg.GlobalRate < 0 {
			fe.Add("global_rate", "must be positive (messages per second), got %v", cfg.GlobalRate)
		}
		s.globalRate = cfg.GlobalRate
	}
	s.typingInterval = fe.Duration("typing_interval", cfg.TypingInterval, s.typingInterval, 10*time.Millisecond, 5*time.Second)
	s.requestTimeout = fe.Duration("request_timeout", cfg.RequestTimeout, s.requestTimeout, 100*time.Millisecond, 10*time.Minute)
	return s, fe.Err()
}
