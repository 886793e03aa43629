package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options configure an Emulator. Zero values give the defaults in brackets.
type Options struct {
	// AccountSID and AuthToken are the Twilio account ["AC" + 32 "0"...,
	// "test-auth-token"]. The token signs every webhook.
	AccountSID string
	AuthToken  string
	// MessagingServiceSID is the account's one Messaging Service ["MG" + 32 "0"].
	MessagingServiceSID string
	// VonageAPIKey and VonageAPISecret are the Vonage account ["abcd1234",
	// "abcdef0123456789"].
	VonageAPIKey    string
	VonageAPISecret string
	// VonageFormat is how Vonage webhooks (inbound and DLR) are sent:
	// "json" (POST, the current docs) ["json"], "form" (POST) or "get".
	VonageFormat string
	// VonageSignatureSecret, when set, signs Vonage webhooks as an account
	// with signed webhooks does: a timestamp and a sig parameter (see
	// VonageSign). VonageSignatureMethod is md5hash ["md5hash"], or the
	// HMACs md5, sha1, sha256, sha512.
	VonageSignatureSecret string
	VonageSignatureMethod string

	// BaseURL is the emulator's own URL, used in Twilio MediaUrl values;
	// SetBaseURL sets it once the server listens. The control API fills
	// it from the request when unset.
	BaseURL string
	// Shuffle sends status callbacks, delivery receipts and the parts of
	// long Vonage messages in random order, as real providers sometimes do.
	Shuffle bool
	// Seed makes Shuffle reproducible [1].
	Seed uint64
	// TimeScale multiplies the provider's delays (status callbacks about a
	// second apart, webhook retries); 1 is real time [1], 0.01 for tests.
	TimeScale float64
	// WebhookTimeout bounds one webhook request [15s, Twilio's limit].
	WebhookTimeout time.Duration
	// Logger; nil is silent. Credentials are never logged.
	Logger hclog.Logger
}

func (o Options) withDefaults() Options {
	if o.AccountSID == "" {
		o.AccountSID = "AC" + strings.Repeat("0", 32)
	}
	if o.AuthToken == "" {
		o.AuthToken = "test-auth-token"
	}
	if o.MessagingServiceSID == "" {
		o.MessagingServiceSID = "MG" + strings.Repeat("0", 32)
	}
	if o.VonageAPIKey == "" {
		o.VonageAPIKey = "abcd1234"
	}
	if o.VonageAPISecret == "" {
		o.VonageAPISecret = "abcdef0123456789"
	}
	if o.VonageFormat == "" {
		o.VonageFormat = "json"
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.TimeScale == 0 {
		o.TimeScale = 1
	}
	if o.WebhookTimeout == 0 {
		o.WebhookTimeout = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}

// Providers.
const (
	Twilio = "twilio"
	Vonage = "vonage"
)

// Errors of the Go methods (the control API answers 404 and 400).
var (
	ErrUnknownNumber = errors.New("unknown service number")
	ErrUnknownID     = errors.New("unknown message")
	ErrInvalidInput  = errors.New("invalid input")
	ErrClosed        = errors.New("emulator closed")
)

// Number is one of the account's phone numbers and where its webhooks go,
// as configured in the provider's console.
type Number struct {
	Provider string `json:"provider"` // twilio or vonage
	Number   string `json:"number"`   // E.164
	// WebhookURL receives inbound messages (Twilio: the number's
	// "A message comes in" URL; Vonage: the inbound URL).
	WebhookURL string `json:"webhook_url"`
	// StatusURL is Vonage's account delivery-receipt URL, used when a send
	// names no callback. Twilio status callbacks go to the StatusCallback
	// of each message.
	StatusURL string `json:"status_url,omitempty"`
	// InService puts a Twilio number in the account's Messaging Service.
	InService bool `json:"in_service,omitempty"`
}

// Media is a file on a phone.
type Media struct {
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"` // base64 in JSON
	URL         string `json:"url,omitempty"`
}

// Message is one SMS/MMS: sent by the service (through the API) and
// received by a phone, or sent by a phone.
type Message struct {
	Provider string    `json:"provider"`
	ID       string    `json:"id"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Text     string    `json:"text"`
	Media    []Media   `json:"media,omitempty"`
	Parts    []string  `json:"parts,omitempty"` // Vonage: the message-id of each part
	Status   string    `json:"status"`
	Statuses []string  `json:"statuses,omitempty"` // callbacks sent, in the order sent
	Callback string    `json:"callback,omitempty"`
	At       time.Time `json:"at"`
	// AutoReply marks the provider's own answer to STOP/START/HELP.
	AutoReply bool `json:"auto_reply,omitempty"`

	// Twilio's Message resource only.
	direction  string // outbound-api or inbound
	serviceSID string
	numMedia   int
}

// Delivery is one webhook request the emulator made.
type Delivery struct {
	Kind       string    `json:"kind"` // inbound, status, dlr
	Provider   string    `json:"provider"`
	URL        string    `json:"url"`
	ID         string    `json:"id"`
	StatusCode int       `json:"status_code"`
	Body       string    `json:"body,omitempty"`
	Err        string    `json:"error,omitempty"`
	At         time.Time `json:"at"`
}

// Fault makes the next Count sends of Provider fail: with HTTPStatus and,
// for Twilio, error Code and Message in the error body; for Vonage, with
// status Code in a 200 answer when HTTPStatus is 0.
type Fault struct {
	Provider   string `json:"provider"`
	HTTPStatus int    `json:"http_status"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter int    `json:"retry_after,omitempty"` // seconds, sent as Retry-After
	Count      int    `json:"count"`
	// Skip lets that many sends succeed before the fault applies.
	Skip int `json:"skip,omitempty"`
	// HoldMillis, with no HTTPStatus (Twilio): the send succeeds (the
	// message goes out) but its answer is held that long, or until the
	// client goes away, as a slow provider answer looks to a client that
	// dies waiting for it.
	HoldMillis int `json:"hold_ms,omitempty"`
}

// Emulator emulates a Twilio account and a Vonage account with their
// numbers, and the phones that talk to them. Safe for concurrent use.
type Emulator struct {
	opts    Options
	log     hclog.Logger
	handler http.Handler
	client  *http.Client

	mu         sync.Mutex
	baseURL    string
	numbers    map[string]Number
	outbound   []*Message            // created through the APIs, in order
	received   map[string][]*Message // by phone
	twilioLog  []*Message            // Twilio's Message resources, both directions, oldest first
	inbound    map[string]*replay    // Twilio inbound by MessageSid, to replay
	media      map[string]Media      // Twilio media by path
	optOut     map[string]bool       // "service|phone"
	faults     []*Fault
	deliveries []Delivery
	rng        *mrand.Rand
	changed    chan struct{}

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

type replay struct {
	url    string
	params map[string][]string
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// New returns an emulator ready to serve.
func New(opts Options) (*Emulator, error) {
	opts = opts.withDefaults()
	if !regexp.MustCompile(`^AC[0-9a-zA-Z]{32}$`).MatchString(opts.AccountSID) {
		return nil, fmt.Errorf("sms emulator: account sid must be AC followed by 32 letters or digits")
	}
	switch opts.VonageSignatureMethod {
	case "", "md5hash", "md5", "sha1", "sha256", "sha512":
	default:
		return nil, fmt.Errorf("sms emulator: vonage signature method must be md5hash, md5, sha1, sha256 or sha512, got %q", opts.VonageSignatureMethod)
	}
	switch opts.VonageFormat {
	case "json", "form", "get":
	default:
		return nil, fmt.Errorf("sms emulator: vonage format must be json, form or get, got %q", opts.VonageFormat)
	}
	if opts.TimeScale < 0 {
		return nil, fmt.Errorf("sms emulator: time scale must be positive, got %v", opts.TimeScale)
	}
	e := &Emulator{
		opts: opts, log: opts.Logger, baseURL: strings.TrimRight(opts.BaseURL, "/"),
		client:  &http.Client{Timeout: opts.WebhookTimeout},
		numbers: map[string]Number{}, received: map[string][]*Message{}, inbound: map[string]*replay{},
		media: map[string]Media{}, optOut: map[string]bool{},
		rng:     mrand.New(mrand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		changed: make(chan struct{}), done: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Messages.json", e.twilioCreate)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages.json", e.twilioList)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages/{sid}", e.twilioFetch)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages/{sid}/Media/{media}", e.twilioMedia)
	mux.HandleFunc("/2010-04-01/", e.twilioUnknown)
	mux.HandleFunc("POST /sms/json", e.vonageSend)
	mux.HandleFunc("GET /sms/json", e.vonageSend)
	e.controlRoutes(mux)
	e.handler = mux
	return e, nil
}

// Handler serves the Twilio Messages API (/2010-04-01/...), the Vonage
// SMS API (/sms/json) and the control API (/fake/sms/api/).
func (e *Emulator) Handler() http.Handler { return e.handler }

// SetBaseURL tells the emulator its own URL (for Twilio media URLs).
func (e *Emulator) SetBaseURL(u string) {
	e.mu.Lock()
	e.baseURL = strings.TrimRight(u, "/")
	e.mu.Unlock()
}

// AccountSID, AuthToken, MessagingServiceSID, VonageAPIKey and
// VonageAPISecret return the accounts' credentials.
func (e *Emulator) AccountSID() string          { return e.opts.AccountSID }
func (e *Emulator) AuthToken() string           { return e.opts.AuthToken }
func (e *Emulator) MessagingServiceSID() string { return e.opts.MessagingServiceSID }
func (e *Emulator) VonageAPIKey() string        { return e.opts.VonageAPIKey }
func (e *Emulator) VonageAPISecret() string     { return e.opts.VonageAPISecret }

// Close stops pending callbacks. It is idempotent.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() { close(e.done) })
	e.wg.Wait()
}

// AddNumber adds (or reconfigures) a service number.
func (e *Emulator) AddNumber(n Number) error {
	if n.Provider != Twilio && n.Provider != Vonage {
		return fmt.Errorf("provider %q: %w", n.Provider, ErrInvalidInput)
	}
	if !e164.MatchString(n.Number) {
		return fmt.Errorf("number %q is not E.164: %w", n.Number, ErrInvalidInput)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.numbers[n.Number] = n
	return nil
}

// Numbers lists the service numbers.
func (e *Emulator) Numbers() []Number {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Number, 0, len(e.numbers))
	for _, n := range e.numbers {
		out = append(out, n)
	}
	return out
}

// AddFault scripts failures of the next sends.
func (e *Emulator) AddFault(f Fault) error {
	if (f.Provider != Twilio && f.Provider != Vonage) || f.Count < 1 {
		return fmt.Errorf("fault needs a provider and a count: %w", ErrInvalidInput)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
	return nil
}

// takeFaultLocked returns the next fault for provider, if any.
func (e *Emulator) takeFaultLocked(provider string) *Fault {
	for i, f := range e.faults {
		if f.Provider == provider {
			if f.Skip > 0 {
				f.Skip--
				return nil
			}
			f.Count--
			if f.Count <= 0 {
				e.faults = append(e.faults[:i], e.faults[i+1:]...)
			}
			cp := *f
			return &cp
		}
	}
	return nil
}

// Outbound lists the messages created through the APIs, oldest first.
func (e *Emulator) Outbound() []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Message, len(e.outbound))
	for i, m := range e.outbound {
		out[i] = *m
	}
	return out
}

// Received lists what phone received, oldest first.
func (e *Emulator) Received(phone string) []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Message, len(e.received[phone]))
	for i, m := range e.received[phone] {
		out[i] = *m
	}
	return out
}

// WaitReceived waits until phone received at least n messages.
func (e *Emulator) WaitReceived(ctx context.Context, phone string, n int) ([]Message, error) {
	for {
		e.mu.Lock()
		got := len(e.received[phone])
		ch := e.changed
		e.mu.Unlock()
		if got >= n {
			return e.Received(phone), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return e.Received(phone), ctx.Err()
		case <-e.done:
			return e.Received(phone), ErrClosed
		}
	}
}

// Deliveries lists the webhook requests made, oldest first.
func (e *Emulator) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Delivery(nil), e.deliveries...)
}

// OptedOut reports whether phone sent STOP to the service number.
func (e *Emulator) OptedOut(number, phone string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.optOut[number+"|"+phone]
}

// Reset forgets messages, deliveries, faults and opt-outs; numbers stay.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outbound, e.received, e.inbound, e.twilioLog = nil, map[string][]*Message{}, map[string]*replay{}, nil
	e.media, e.optOut, e.faults, e.deliveries = map[string]Media{}, map[string]bool{}, nil, nil
	e.notifyLocked()
}

func (e *Emulator) notifyLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *Emulator) receiveLocked(phone string, m *Message) {
	e.received[phone] = append(e.received[phone], m)
	e.notifyLocked()
}

func (e *Emulator) recordLocked(d Delivery) {
	d.At = time.Now()
	e.deliveries = append(e.deliveries, d)
	e.notifyLocked()
}

// scaled applies the time scale.
func (e *Emulator) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * e.opts.TimeScale)
}

// sleep waits d (scaled) or until Close.
func (e *Emulator) sleep(d time.Duration) bool {
	t := time.NewTimer(e.scaled(d))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.done:
		return false
	}
}

// shuffled returns order, permuted when Options.Shuffle is set.
func (e *Emulator) shuffled(order []string) []string {
	out := append([]string(nil), order...)
	if !e.opts.Shuffle {
		return out
	}
	e.mu.Lock()
	e.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	e.mu.Unlock()
	return out
}

func (e *Emulator) base(r *http.Request) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.baseURL == "" && r != nil {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		e.baseURL = scheme + "://" + r.Host
	}
	return e.baseURL
}

// newID returns prefix + n random hex digits.
func newID(prefix string, n int, upper bool) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	s := hex.EncodeToString(b)[:n]
	if upper {
		s = strings.ToUpper(s)
	}
	return prefix + s
}

// goAsync runs fn in the background until Close.
func (e *Emulator) goAsync(fn func()) {
	select {
	case <-e.done:
		return
	default:
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		fn()
	}()
}
