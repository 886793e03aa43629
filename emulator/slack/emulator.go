package slack

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options configure an Emulator. Zero values give the defaults in brackets.
type Options struct {
	// BotToken is the bot token (xoxb-) the Web API accepts ["xoxb-test-bot-token"].
	BotToken string
	// NoEmailScope installs the app without users:read.email: users.info
	// then leaves the profile's email out, as Slack does.
	NoEmailScope bool
	// AppToken is the app-level token (xapp-) apps.connections.open accepts
	// ["xapp-1-test-app-token"].
	AppToken string
	// SigningSecret signs Events API and interactivity requests ["test-signing-secret"].
	SigningSecret string
	// TeamID, AppID, BotUserID and BotID identify the workspace and the app
	// ["T0EMULATOR", "A0EMULATOR", "U0BOTUSER", "B0BOTID"].
	TeamID    string
	AppID     string
	BotUserID string
	BotID     string

	// SocketMode sends events and interactivity over Socket Mode only (as
	// Slack does once Socket Mode is switched on); otherwise they are POSTed
	// to RequestURL / InteractivityURL.
	SocketMode bool
	// RequestURL is the Events API Request URL; it can also be set later
	// with SetRequestURL. InteractivityURL defaults to RequestURL.
	RequestURL       string
	InteractivityURL string
	// AckTimeout is how long a delivery may take before it counts as failed
	// (http_timeout) [3s]; in Socket Mode, how long an envelope may stay
	// unacknowledged before it is sent again.
	AckTimeout time.Duration
	// RetryDelays are the waits before Slack's three retries
	// [0 (nearly immediately), 1m, 5m]; multiplied by TimeScale.
	RetryDelays []time.Duration
	// TimeScale multiplies RetryDelays and Retry-After; 1 is real time [1].
	TimeScale float64
	// NoBotEcho stops sending the app's own posts back as message events
	// with bot_id set. By default they are sent, as channels.md §2.4 infers
	// (UNCONFIRMED as a stated rule), so clients must filter them.
	NoBotEcho bool

	// PostRate and PostBurst bound chat.postMessage per channel: a token
	// bucket of PostBurst refilled at PostRate per second [1/s, 5]. Beyond
	// it the API answers 429 with Retry-After. A negative rate switches the
	// limit off.
	PostRate  float64
	PostBurst int

	// Logger; nil is silent. Tokens and secrets are never logged.
	Logger hclog.Logger
}

func (o Options) withDefaults() Options {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.BotToken, "xoxb-test-bot-token")
	def(&o.AppToken, "xapp-1-test-app-token")
	def(&o.SigningSecret, "test-signing-secret")
	def(&o.TeamID, "T0EMULATOR")
	def(&o.AppID, "A0EMULATOR")
	def(&o.BotUserID, "U0BOTUSER")
	def(&o.BotID, "B0BOTID")
	if o.AckTimeout == 0 {
		o.AckTimeout = 3 * time.Second
	}
	if o.RetryDelays == nil {
		o.RetryDelays = []time.Duration{0, time.Minute, 5 * time.Minute}
	}
	if o.TimeScale == 0 {
		o.TimeScale = 1
	}
	if o.PostRate == 0 {
		o.PostRate = 1
	}
	if o.PostBurst == 0 {
		o.PostBurst = 5
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}

// Errors returned by the user-side Go methods (the control API answers
// them with 404 and 400).
var (
	ErrUnknownUser    = errors.New("unknown user")
	ErrUnknownChannel = errors.New("unknown channel")
	ErrUnknownMessage = errors.New("unknown message")
	ErrInvalidInput   = errors.New("invalid input")
	ErrNoEndpoint     = errors.New("no request URL set")
)

// Emulator is one Slack app installed in one workspace. It is safe for
// concurrent use. Create it with New, serve Handler, stop it with Close.
type Emulator struct {
	opts    Options
	log     hclog.Logger
	handler http.Handler

	mu          sync.Mutex
	publicURL   string // learnt from the first request when not set
	requestURL  string
	interactURL string
	users       map[string]*User
	channels    map[string]*channel
	files       map[string]*storedFile
	uploads     map[string]string // upload URL id → file id
	deliveries  []*Delivery
	byEventID   map[string]*Delivery
	faults      []*Fault
	buckets     map[string]*bucket
	lastTS      int64 // microseconds of the last ts handed out
	seq         int64
	sockets     map[*socketConn]struct{}
	// socketsOpened counts every connection ever opened (tests wait for a reconnect).
	socketsOpened int
	tickets       map[string]bool
	socketQueue   []*envelope // waiting for a socket connection or an ack
	changed       chan struct{}

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

// User is a person in the workspace.
type User struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	RealName string `json:"real_name,omitempty"`
	// Profile fields users.info answers (all optional).
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Title     string `json:"title,omitempty"`
	Email     string `json:"email,omitempty"` // only with the users:read.email scope
	Phone     string `json:"phone,omitempty"`
	Locale    string `json:"locale,omitempty"` // only when asked with include_locale
	TZ        string `json:"tz,omitempty"`
}

// channel is a conversation the app can see.
type channel struct {
	ID       string
	Name     string
	IsIM     bool
	User     string // the other member of a DM
	Archived bool
	BotIn    bool
	messages []*Message
}

// Message is one message in a channel, from a user or the app.
type Message struct {
	Type     string  `json:"type"`
	Subtype  string  `json:"subtype,omitempty"`
	Channel  string  `json:"channel"`
	User     string  `json:"user,omitempty"`
	BotID    string  `json:"bot_id,omitempty"`
	AppID    string  `json:"app_id,omitempty"`
	Text     string  `json:"text"`
	TS       string  `json:"ts"`
	ThreadTS string  `json:"thread_ts,omitempty"`
	Blocks   []any   `json:"blocks,omitempty"`
	Files    []File  `json:"files,omitempty"`
	Edited   *Edited `json:"edited,omitempty"`
	Deleted  bool    `json:"deleted,omitempty"`
	Method   string  `json:"method,omitempty"` // for the app's posts: the Web API method
	// Metadata is what chat.postMessage's metadata argument carried.
	Metadata *MessageMetadata `json:"metadata,omitempty"`
}

// MessageMetadata is a message's metadata (Slack's "message metadata":
// an event type and a payload of the app's).
type MessageMetadata struct {
	EventType    string         `json:"event_type"`
	EventPayload map[string]any `json:"event_payload"`
}

// Edited marks an edited message.
type Edited struct {
	User string `json:"user"`
	TS   string `json:"ts"`
}

// File is a file object (channels.md §2.4, samples/slack/slack-file-object.json),
// with the fields the emulator fills.
type File struct {
	ID                 string `json:"id"`
	Created            int64  `json:"created"`
	Timestamp          int64  `json:"timestamp"`
	Name               string `json:"name"`
	Title              string `json:"title"`
	Mimetype           string `json:"mimetype"`
	Filetype           string `json:"filetype"`
	User               string `json:"user"`
	Size               int    `json:"size"`
	Mode               string `json:"mode"`
	IsExternal         bool   `json:"is_external"`
	IsPublic           bool   `json:"is_public"`
	URLPrivate         string `json:"url_private"`
	URLPrivateDownload string `json:"url_private_download"`
}

type storedFile struct {
	File
	data      []byte
	uploaded  bool
	completed bool
	length    int
}

// New returns an emulator ready to serve.
func New(opts Options) (*Emulator, error) {
	opts = opts.withDefaults()
	if !strings.HasPrefix(opts.BotToken, "xoxb-") {
		return nil, errors.New("slack emulator: bot token must start with xoxb-")
	}
	if !strings.HasPrefix(opts.AppToken, "xapp-") {
		return nil, errors.New("slack emulator: app token must start with xapp-")
	}
	if opts.TimeScale < 0 {
		return nil, fmt.Errorf("slack emulator: time scale must be positive, got %v", opts.TimeScale)
	}
	e := &Emulator{
		opts:        opts,
		log:         opts.Logger,
		requestURL:  opts.RequestURL,
		interactURL: opts.InteractivityURL,
		users:       map[string]*User{},
		channels:    map[string]*channel{},
		files:       map[string]*storedFile{},
		uploads:     map[string]string{},
		byEventID:   map[string]*Delivery{},
		buckets:     map[string]*bucket{},
		sockets:     map[*socketConn]struct{}{},
		tickets:     map[string]bool{},
		changed:     make(chan struct{}),
		done:        make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", e.serveWebAPI)
	mux.HandleFunc("POST /upload/v1/{id}", e.serveUpload)
	mux.HandleFunc("GET /files-pri/{id}/{name...}", e.serveFile)
	mux.HandleFunc("GET /link/", e.serveSocket)
	e.controlRoutes(mux)
	e.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		if e.publicURL == "" && r.Host != "" {
			e.publicURL = "http://" + r.Host
		}
		e.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
	return e, nil
}

// Handler serves the Web API (/api/<method>), file uploads (/upload/v1/)
// and downloads (/files-pri/), the Socket Mode WebSocket (/link/) and the
// control API (/fake/slack/api/).
func (e *Emulator) Handler() http.Handler { return e.handler }

// BotToken, AppToken and SigningSecret return the credentials the emulator
// accepts and signs with.
func (e *Emulator) BotToken() string      { return e.opts.BotToken }
func (e *Emulator) AppToken() string      { return e.opts.AppToken }
func (e *Emulator) SigningSecret() string { return e.opts.SigningSecret }

// BotUserID returns the app's bot user.
func (e *Emulator) BotUserID() string { return e.opts.BotUserID }

// SetPublicURL sets the base URL put into upload, file and WebSocket URLs
// (by default learnt from the Host of the first request).
func (e *Emulator) SetPublicURL(u string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publicURL = strings.TrimRight(u, "/")
}

// SetRequestURL sets the Events API Request URL (and the interactivity URL
// unless one was set separately).
func (e *Emulator) SetRequestURL(u string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requestURL = u
}

// Close stops deliveries and closes WebSockets. It is idempotent.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() {
		close(e.done)
		e.mu.Lock()
		for s := range e.sockets {
			s.cancel()
		}
		e.mu.Unlock()
	})
	e.wg.Wait()
}

// notifyLocked wakes everything waiting for a change. Callers hold e.mu.
func (e *Emulator) notifyLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *Emulator) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * e.opts.TimeScale)
}

// newTSLocked hands out a message timestamp, unique and increasing.
func (e *Emulator) newTSLocked() string {
	now := time.Now().UnixMicro()
	if now <= e.lastTS {
		now = e.lastTS + 1
	}
	e.lastTS = now
	return fmt.Sprintf("%d.%06d", now/1e6, now%1e6)
}

func (e *Emulator) nextIDLocked(prefix string) string {
	e.seq++
	return fmt.Sprintf("%s%08d", prefix, e.seq)
}

// channelLocked resolves a channel id, or a user id to that user's DM.
func (e *Emulator) channelLocked(id string) *channel {
	if c, ok := e.channels[id]; ok {
		return c
	}
	if u, ok := e.users[id]; ok {
		return e.dmLocked(u.ID)
	}
	return nil
}

// dmLocked returns the app's DM with user, creating it.
func (e *Emulator) dmLocked(user string) *channel {
	id := "D" + strings.TrimPrefix(user, "U")
	c, ok := e.channels[id]
	if !ok {
		c = &channel{ID: id, IsIM: true, User: user, BotIn: true}
		e.channels[id] = c
	}
	return c
}

func (c *channel) find(ts string) *Message {
	for _, m := range c.messages {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// bucket is a token bucket for rate limits.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// take reports whether a request may go now, or how long until it may.
func (b *bucket) take(now time.Time) (bool, time.Duration) {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}
