package liveengage

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Notification type keys, as used under capabilities.webhooks in the App
// Install Manifest (reference §6.1).
const (
	NotificationContentEvent      = "ms.MessagingEventNotification.ContentEvent"
	NotificationRichContentEvent  = "ms.MessagingEventNotification.RichContentEvent"
	NotificationAcceptStatusEvent = "ms.MessagingEventNotification.AcceptStatusEvent"
	NotificationChatStateEvent    = "ms.MessagingEventNotification.ChatStateEvent"
	NotificationExConversation    = "cqm.ExConversationChangeNotification"
)

// NotificationTypes lists the five webhook notification type keys.
var NotificationTypes = []string{
	NotificationContentEvent,
	NotificationRichContentEvent,
	NotificationAcceptStatusEvent,
	NotificationChatStateEvent,
	NotificationExConversation,
}

// Header is one custom webhook header, shaped like the manifest's
// `headers: [{"header_name":..,"header_value":..}]`.
type Header struct {
	Name  string `json:"header_name"`
	Value string `json:"header_value"`
}

// WebhookEndpoint is one capabilities.webhooks entry of the app installation.
type WebhookEndpoint struct {
	URL string `json:"endpoint"`
	// MaxRetries overrides Options.MaxRetries for this endpoint (0–5).
	MaxRetries *int     `json:"max_retries,omitempty"`
	Headers    []Header `json:"headers,omitempty"`
}

// Options configure an Emulator. Zero values give the documented defaults.
type Options struct {
	AccountID, ClientID, ClientSecret string

	// WebhookURL receives all five notification types ("" = no webhooks).
	WebhookURL string
	// Webhooks overrides the endpoint per notification type key (see
	// NotificationTypes); a type without an entry uses WebhookURL.
	Webhooks map[string]WebhookEndpoint
	// WebhookHeaders are custom headers sent on every endpoint that has no
	// headers of its own.
	WebhookHeaders []Header
	// MaxRetries is max_retries for every endpoint (0–5, 30 s apart). 0 drops
	// a failed event at once, as an unset max_retries does.
	MaxRetries int
	// RetentionTime > 0 selects TTL retry mode (retry.retention_time; 2 s to
	// 72 h): failed events are stored and replayed in per-conversation order
	// with 2, 4, 8 … s backoff capped at 5 min.
	RetentionTime time.Duration
	// WebhookTimeout bounds one delivery (connect + read); default 5 s.
	WebhookTimeout time.Duration
	// WebhookWorkers is the number of delivery lanes; events of one
	// conversation always use the same lane. Default 64.
	WebhookWorkers int
	// SignatureAlgorithm is "sha1" (default) or "sha256"; SignatureEncoding
	// is "base64" (default) or "hex".
	SignatureAlgorithm, SignatureEncoding string

	// TokenTTL is the AppJWT lifetime; default 1h, settable down to seconds.
	TokenTTL time.Duration
	// FileURLTTL is the lifetime of temporary file URLs; default 1 min.
	FileURLTTL time.Duration
	// TimeScale multiplies every webhook retry / backoff interval; 1 = real
	// time (the default when 0), 0.001 for tests.
	TimeScale float64
	// PostSurvey makes a consumer's DialogChange CLOSE of the MAIN dialog open
	// a POST_SURVEY dialog instead of closing the conversation.
	PostSurvey bool
	// Survey is what a post-conversation survey asks; nil = DefaultSurvey.
	Survey []SurveyQuestion
	// AgentID is the participant id of the emulated agent; default derived
	// from the account id.
	AgentID string
	// ConsumerParticipantIDs is what notifications name the consumer by
	// (participants[].id, the consumer's originatorId): "lp_consumer_id"
	// (the default: the 64-hex id of the consumer's JWS, as the 2018
	// examples show) or "uuid" (a UUID-style id per consumer, as a newer
	// documented example shows; UNCONFIRMED which LiveEngage sends today).
	ConsumerParticipantIDs string
	// SigningKey signs AppJWTs and ConsumerJWSs; nil generates a 2048-bit key.
	SigningKey *rsa.PrivateKey
	// Logger; nil = silent. Nothing is logged per request at Info level.
	Logger hclog.Logger
}

func (e *Emulator) countCall(endpoint string) {
	e.callsMu.Lock()
	defer e.callsMu.Unlock()
	if e.calls == nil {
		e.calls = map[string]int64{}
	}
	e.calls[endpoint]++
}

// Calls is how many requests each endpoint (EndpointSend,
// EndpointConversation, ...) has received, faults included: tests bound
// what a connector does with it.
func (e *Emulator) Calls(endpoint string) int64 {
	e.callsMu.Lock()
	defer e.callsMu.Unlock()
	return e.calls[endpoint]
}

// participantID is what notifications call the consumer whose JWS carries lpID.
func (e *Emulator) participantID(lpID string) string {
	if e.opts.ConsumerParticipantIDs == "uuid" {
		return nameUUID("participant:" + e.opts.AccountID + ":" + lpID)
	}
	return lpID
}

// Errors returned by the agent-side Go methods.
var (
	ErrNotFound     = errors.New("conversation not found")
	ErrClosed       = errors.New("conversation is closed")
	ErrInvalidInput = errors.New("invalid input")
)

// Emulator is one emulated LiveEngage account. It is safe for concurrent use.
type Emulator struct {
	opts   Options
	log    hclog.Logger
	keys   *signer
	mux    *http.ServeMux
	faults atomic.Pointer[Faults]

	convs *conversationStore
	files *fileStore
	hub   *eventHub
	hooks *dispatcher

	tokens tokenCache

	callsMu sync.Mutex
	calls   map[string]int64 // requests per endpoint (EndpointSend, ...)

	subscriptionID string
	closeOnce      sync.Once
}

// New validates opts and returns a ready Emulator. Call Close when done.
func New(opts Options) (*Emulator, error) {
	if opts.AccountID == "" {
		return nil, errors.New("liveengage emulator: account id is required")
	}
	if opts.ClientID == "" || opts.ClientSecret == "" {
		return nil, errors.New("liveengage emulator: client id and client secret are required")
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.FileURLTTL <= 0 {
		opts.FileURLTTL = time.Minute
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = 5 * time.Second
	}
	if opts.WebhookWorkers <= 0 {
		opts.WebhookWorkers = 64
	}
	if opts.MaxRetries < 0 || opts.MaxRetries > 5 {
		return nil, fmt.Errorf("liveengage emulator: max_retries %d out of range 0-5", opts.MaxRetries)
	}
	for k, ep := range opts.Webhooks {
		if !isNotificationType(k) {
			return nil, fmt.Errorf("liveengage emulator: unknown webhook type %q (want one of %v)", k, NotificationTypes)
		}
		if ep.MaxRetries != nil && (*ep.MaxRetries < 0 || *ep.MaxRetries > 5) {
			return nil, fmt.Errorf("liveengage emulator: webhook %s: max_retries %d out of range 0-5", k, *ep.MaxRetries)
		}
	}
	if opts.RetentionTime != 0 && (opts.RetentionTime < 2*time.Second || opts.RetentionTime > 259200*time.Second) {
		return nil, fmt.Errorf("liveengage emulator: retention time %s out of range 2s-72h", opts.RetentionTime)
	}
	switch opts.SignatureAlgorithm {
	case "":
		opts.SignatureAlgorithm = "sha1"
	case "sha1", "sha256":
	default:
		return nil, fmt.Errorf("liveengage emulator: signature algorithm %q: want sha1 or sha256", opts.SignatureAlgorithm)
	}
	switch opts.SignatureEncoding {
	case "":
		opts.SignatureEncoding = "base64"
	case "base64", "hex":
	default:
		return nil, fmt.Errorf("liveengage emulator: signature encoding %q: want base64 or hex", opts.SignatureEncoding)
	}
	if opts.AgentID == "" {
		opts.AgentID = nameUUID("agent:" + opts.AccountID)
	}
	switch opts.ConsumerParticipantIDs {
	case "":
		opts.ConsumerParticipantIDs = "lp_consumer_id"
	case "lp_consumer_id", "uuid":
	default:
		return nil, fmt.Errorf("liveengage emulator: consumer participant ids %q: want lp_consumer_id or uuid", opts.ConsumerParticipantIDs)
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	key := opts.SigningKey
	if key == nil {
		var err error
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("liveengage emulator: generate signing key: %w", err)
		}
	}
	e := &Emulator{
		opts:           opts,
		log:            log,
		keys:           &signer{key: key},
		convs:          newConversationStore(),
		files:          newFileStore(),
		hub:            newEventHub(),
		subscriptionID: randomUUID(),
	}
	e.faults.Store(&Faults{})
	e.hooks = newDispatcher(e)
	e.mux = e.routes()
	return e, nil
}

// Handler serves every route: Domain API, Sentinel, IDP, Send API, hosted
// files and /emulator/api/.
func (e *Emulator) Handler() http.Handler { return e.mux }

// Close stops webhook delivery goroutines and ends SSE streams. Stored,
// undelivered events are discarded.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		e.hooks.close()
		e.hub.close()
	})
	return nil
}

// Options returns the effective options (defaults applied). The signing key
// and logger are not copied.
func (e *Emulator) Options() Options {
	o := e.opts
	o.SigningKey = nil
	o.Logger = nil
	return o
}

func (e *Emulator) routes() *http.ServeMux {
	m := http.NewServeMux()
	// Domain API (CSDS): with and without the .json suffix.
	m.HandleFunc("GET /api/account/{account}/service/{file}", e.handleDomainAll)
	m.HandleFunc("GET /api/account/{account}/service/{service}/{file}", e.handleDomainSingle)
	// Sentinel AppJWT (V1 and V2 paths issue the same token).
	m.HandleFunc("POST /sentinel/api/account/{account}/app/token", e.handleAppToken)
	m.HandleFunc("POST /sentinel/api/v2/account/{account}/app/token", e.handleAppToken)
	// IDP ConsumerJWS.
	m.HandleFunc("POST /api/account/{account}/consumer", e.handleConsumerJWS)
	// Send API v3.
	m.HandleFunc("POST /api/account/{account}/messaging/consumer/conversation", e.handleConversation)
	m.HandleFunc("POST /api/account/{account}/messaging/consumer/conversation/send", e.handleSend)
	// Swift hosted files.
	m.HandleFunc("PUT /v1/{path...}", e.handleFilePut)
	m.HandleFunc("GET /v1/{path...}", e.handleFileGet)
	// Agent side and control API.
	e.controlRoutes(m)
	return m
}

func isNotificationType(k string) bool {
	for _, t := range NotificationTypes {
		if t == k {
			return true
		}
	}
	return false
}

// scaled applies TimeScale to a webhook retry interval.
func (e *Emulator) scaled(d time.Duration) time.Duration {
	s := time.Duration(float64(d) * e.opts.TimeScale)
	if s < time.Millisecond {
		s = time.Millisecond
	}
	return s
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

func nowMs() int64 { return time.Now().UnixMilli() }
