package telegram

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options configure an Emulator. Zero values give the defaults in brackets.
type Options struct {
	// Token is the bot token accepted in /bot<token>/ paths ["123456:TEST-token"].
	Token string
	// BotID, BotUsername and BotName describe the bot in getMe and in the
	// "from" of the bot's messages [2222222, "connector_test_bot", "Connector Bot"].
	BotID       int64
	BotUsername string
	BotName     string
	// FirstUpdateID is the update_id of the first update [10000].
	FirstUpdateID int64

	// ChatRate and ChatBurst bound the messages the bot may send to one chat:
	// a token bucket of ChatBurst refilled at ChatRate per second [1/s, 3].
	// GlobalRate and GlobalBurst bound all chats together [30/s, 30]. Beyond
	// them the API answers 429 with parameters.retry_after. A negative rate
	// switches that limit off.
	ChatRate    float64
	ChatBurst   int
	GlobalRate  float64
	GlobalBurst int

	// WebhookTimeout bounds one webhook delivery [10s].
	WebhookTimeout time.Duration
	// TimeScale multiplies webhook retry delays and the setWebhook
	// 1-second window; 1 is real time [1], 0.001 for tests.
	TimeScale float64
	// MaxDownloadBytes is the getFile size limit [20 MB].
	MaxDownloadBytes int64

	// Logger; nil is silent. Tokens are never logged.
	Logger hclog.Logger
}

func (o Options) withDefaults() Options {
	if o.Token == "" {
		o.Token = "123456:TEST-token"
	}
	if o.BotID == 0 {
		o.BotID = 2222222
	}
	if o.BotUsername == "" {
		o.BotUsername = "connector_test_bot"
	}
	if o.BotName == "" {
		o.BotName = "Connector Bot"
	}
	if o.FirstUpdateID == 0 {
		o.FirstUpdateID = 10000
	}
	if o.ChatRate == 0 {
		o.ChatRate = 1
	}
	if o.ChatBurst == 0 {
		o.ChatBurst = 3
	}
	if o.GlobalRate == 0 {
		o.GlobalRate = 30
	}
	if o.GlobalBurst == 0 {
		o.GlobalBurst = 30
	}
	if o.WebhookTimeout == 0 {
		o.WebhookTimeout = 10 * time.Second
	}
	if o.TimeScale == 0 {
		o.TimeScale = 1
	}
	if o.MaxDownloadBytes == 0 {
		o.MaxDownloadBytes = 20 << 20
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}

// tokenPattern is the shape of real bot tokens: "<bot id>:<secret>".
var tokenPattern = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

// Errors returned by the user-side Go methods (the control API answers
// them with 404, 409 and 400).
var (
	ErrUnknownChat    = errors.New("unknown chat")
	ErrUnknownMessage = errors.New("unknown message")
	ErrInvalidInput   = errors.New("invalid input")
	ErrBlocked        = errors.New("the user blocked the bot")
	ErrClosed         = errors.New("emulator closed")
)

// Emulator is one emulated bot on the Telegram Bot API. It is safe for
// concurrent use. Create it with New, serve Handler, stop it with Close.
type Emulator struct {
	opts    Options
	log     hclog.Logger
	handler http.Handler
	bot     User

	mu            sync.Mutex
	chats         map[int64]*chat
	files         map[string]*storedFile
	pending       []Update // not yet confirmed (getUpdates) or delivered (webhook)
	nextUpdateID  int64
	nextFileSeq   int64
	nextQuerySeq  int64
	allowed       []string // allowed_updates; nil = the default set
	webhook       webhookState
	lastSetHook   time.Time
	poller        *poller
	pollConflicts atomic.Int64
	queries       map[string]*CallbackQuery // unanswered callback queries
	answers       []CallbackAnswer
	faults        []*Fault
	chatBuckets   map[int64]*bucket
	global        *bucket
	changed       chan struct{} // closed and replaced on every change
	pushWake      chan struct{}
	pushes        pushState

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

// chat is one private chat between a user and the bot.
type chat struct {
	user      User
	blocked   bool
	nextMsgID int64
	messages  map[int64]*Message // every message, both directions, by id
	sent      []SentMessage
	actions   []ChatAction
}

func (c *chat) telegramChat() Chat {
	return Chat{ID: c.user.ID, Type: "private", FirstName: c.user.FirstName, LastName: c.user.LastName, Username: c.user.Username}
}

// storedFile is a file known to the emulator, sent by a user or the bot.
type storedFile struct {
	File
	data     []byte
	mimeType string
}

// SentMessage is one message the bot sent, as the control API lists it.
type SentMessage struct {
	// Method is the Bot API method that created it: sendMessage, sendPhoto, sendDocument.
	Method string `json:"method"`
	// ParseMode as the bot passed it, if any.
	ParseMode string `json:"parse_mode,omitempty"`
	Message
}

// ChatAction is one sendChatAction call.
type ChatAction struct {
	ChatID int64     `json:"chat_id"`
	Action string    `json:"action"`
	At     time.Time `json:"at"`
}

// CallbackAnswer is one answerCallbackQuery call.
type CallbackAnswer struct {
	CallbackQueryID string `json:"callback_query_id"`
	Text            string `json:"text,omitempty"`
	ShowAlert       bool   `json:"show_alert,omitempty"`
	URL             string `json:"url,omitempty"`
	CacheTime       int    `json:"cache_time,omitempty"`
}

// New returns an emulator ready to serve.
func New(opts Options) (*Emulator, error) {
	opts = opts.withDefaults()
	if !tokenPattern.MatchString(opts.Token) {
		return nil, fmt.Errorf("telegram emulator: token must look like <digits>:<letters, digits, _ or ->, got %d characters", len(opts.Token))
	}
	if opts.TimeScale < 0 {
		return nil, fmt.Errorf("telegram emulator: time scale must be positive, got %v", opts.TimeScale)
	}
	e := &Emulator{
		opts:         opts,
		log:          opts.Logger,
		bot:          User{ID: opts.BotID, IsBot: true, FirstName: opts.BotName, Username: opts.BotUsername},
		chats:        map[int64]*chat{},
		files:        map[string]*storedFile{},
		nextUpdateID: opts.FirstUpdateID,
		queries:      map[string]*CallbackQuery{},
		chatBuckets:  map[int64]*bucket{},
		global:       newBucket(opts.GlobalRate, opts.GlobalBurst),
		changed:      make(chan struct{}),
		pushWake:     make(chan struct{}, 1),
		pushes:       pushState{inFlight: map[string]bool{}, wakeAt: map[string]time.Time{}, delay: map[int64]time.Duration{}, delivered: map[int64]bool{}},
		done:         make(chan struct{}),
	}
	control := http.NewServeMux()
	e.controlRoutes(control)
	// The token is glued to "bot" in the path, which ServeMux patterns
	// cannot express, so the Bot API paths are routed by prefix.
	e.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/bot"):
			e.serveBotAPI(w, r)
		case strings.HasPrefix(r.URL.Path, "/file/bot") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			e.serveFile(w, r)
		default:
			control.ServeHTTP(w, r)
		}
	})
	e.wg.Add(1)
	go e.pushLoop()
	return e, nil
}

// Handler serves the Bot API (/bot<token>/<method>), file downloads
// (/file/bot<token>/<path>) and the control API (/fake/telegram/api/).
func (e *Emulator) Handler() http.Handler { return e.handler }

// Token returns the bot token the emulator accepts.
func (e *Emulator) Token() string { return e.opts.Token }

// Bot returns the bot's own user.
func (e *Emulator) Bot() User { return e.bot }

// Close stops webhook delivery and ends pending long polls. It is idempotent.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() { close(e.done) })
	e.wg.Wait()
}

// notifyLocked wakes everything waiting for a change. Callers hold e.mu.
func (e *Emulator) notifyLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// scaled applies the time scale to a real-time duration.
func (e *Emulator) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * e.opts.TimeScale)
}

// chatLocked returns the chat with id, creating it for a new user when
// create is set. Callers hold e.mu.
func (e *Emulator) chatLocked(id int64, create bool) *chat {
	c, ok := e.chats[id]
	if !ok && create {
		c = &chat{user: User{ID: id, FirstName: fmt.Sprintf("User %d", id)}, nextMsgID: 1, messages: map[int64]*Message{}}
		e.chats[id] = c
	}
	return c
}
