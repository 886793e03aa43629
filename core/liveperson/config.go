package liveperson

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Client. Zero values take the defaults documented on
// each field; only AccountID, ClientID, ClientSecret and DomainAPI are
// required.
type Config struct {
	// AccountID is the LiveEngage account (brand) id.
	AccountID string
	// ClientID and ClientSecret are the App Installation credentials. The
	// secret also keys webhook signatures (see Verifier).
	ClientID     string
	ClientSecret string
	// DomainAPI is the Domain API (CSDS) base URL, e.g.
	// "https://api.liveperson.net". When its scheme is http (the emulator),
	// resolved service hosts are used over http too.
	DomainAPI string
	// DomainTTL is how long resolved service hosts are trusted (default
	// 10 min). A connection failure to a resolved host also forces a
	// re-resolution on the next call.
	DomainTTL time.Duration

	// TokenRenewBefore is how long before the AppJWT's exp it is renewed
	// (default 5 min, the HOWTO guidance). For short-lived tokens the margin
	// is capped at a quarter of the token's lifetime.
	TokenRenewBefore time.Duration
	// FetchTimeout bounds one shared token / domain fetch, retries included
	// (default 2 min). The fetch is detached from any single caller so one
	// cancelled caller cannot fail the others waiting on it.
	FetchTimeout time.Duration

	// HTTP tunes connection reuse and timeouts.
	HTTP HTTPConfig
	// Retry is the Send API retry policy (LivePerson's published one by
	// default).
	Retry RetryPolicy

	// ConsumerTokens persists consumer JWS per ext_consumer_id. Default: an
	// in-memory store (tokens are refetched after a restart).
	ConsumerTokens ConsumerTokenStore
	// Logger receives structured logs. Default: hclog.NewNullLogger().
	Logger hclog.Logger
	// Metrics registers the client's collectors; nil means no metrics.
	Metrics prometheus.Registerer
}

// HTTPConfig holds connection-pool and timeout settings. Every call is
// bounded: RequestTimeout applies to each HTTP attempt.
type HTTPConfig struct {
	// Client, when set, is used as is (tests wrap its Transport to count
	// requests); the pool settings below are then ignored.
	Client *http.Client
	// MaxIdleConnsPerHost is the keep-alive pool per host (default 64; Go's
	// default of 2 throttles a busy connector).
	MaxIdleConnsPerHost int
	// MaxConnsPerHost caps connections per host (default 0: unlimited).
	MaxConnsPerHost int
	// IdleConnTimeout closes idle pooled connections (default 90 s).
	IdleConnTimeout time.Duration
	// DialTimeout bounds TCP connect (default 5 s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake (default 5 s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds waiting for response headers (default 15 s).
	ResponseHeaderTimeout time.Duration
	// RequestTimeout bounds one whole attempt, body included (default 30 s).
	RequestTimeout time.Duration
	// MaxResponseBytes caps API response bodies read (default 1 MiB).
	MaxResponseBytes int64
	// MaxDownloadBytes caps a downloaded agent file (default 10 MiB).
	MaxDownloadBytes int64
}

// RetryPolicy is LivePerson's published client retry policy
// (retry-policy-recommendations.html): other 4xx are never retried; 429
// waits at least RateLimitMin (or Retry-After); 5xx and transport failures
// retry after each of ServerErrorDelays (5, 10, 15 s) and then on the outer
// backoff (2, 4, 8 min) before the error is surfaced. Every interval is
// configurable so tests can shrink them. Context cancellation ends any wait.
type RetryPolicy struct {
	// ServerErrorDelays are the inner waits before each 5xx retry
	// (default 5 s, 10 s, 15 s).
	ServerErrorDelays []time.Duration
	// OuterInitial is the first outer wait after the inner retries are used
	// up (default 2 min); it doubles each time, capped at OuterMax (default
	// 8 min).
	OuterInitial time.Duration
	OuterMax     time.Duration
	// OuterRetries is how many outer retries follow the inner ones (default
	// 3; -1 disables the outer backoff).
	OuterRetries int
	// RateLimitMin is the minimum wait after a 429 (default 1 s). The wait
	// doubles on consecutive 429s up to RateLimitMax (default 30 s); a larger
	// Retry-After always wins.
	RateLimitMin time.Duration
	RateLimitMax time.Duration
	// RateLimitRetries is how many 429s in a row are retried (default 10).
	RateLimitRetries int
	// Jitter adds up to this fraction of each wait (default 0.1) so many
	// waiting requests do not come back as one burst. Waits never shrink.
	// Negative disables it.
	Jitter float64
}

// DefaultRetryPolicy returns the published policy.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		ServerErrorDelays: []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second},
		OuterInitial:      2 * time.Minute,
		OuterMax:          8 * time.Minute,
		OuterRetries:      3,
		RateLimitMin:      time.Second,
		RateLimitMax:      30 * time.Second,
		RateLimitRetries:  10,
		Jitter:            0.1,
	}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.ServerErrorDelays == nil {
		p.ServerErrorDelays = d.ServerErrorDelays
	}
	if p.OuterInitial <= 0 {
		p.OuterInitial = d.OuterInitial
	}
	if p.OuterMax <= 0 {
		p.OuterMax = d.OuterMax
	}
	if p.OuterRetries == 0 {
		p.OuterRetries = d.OuterRetries
	}
	if p.OuterRetries < 0 {
		p.OuterRetries = 0
	}
	if p.RateLimitMin <= 0 {
		p.RateLimitMin = d.RateLimitMin
	}
	if p.RateLimitMax < p.RateLimitMin {
		p.RateLimitMax = max(d.RateLimitMax, p.RateLimitMin)
	}
	if p.RateLimitRetries == 0 {
		p.RateLimitRetries = d.RateLimitRetries
	}
	if p.Jitter == 0 {
		p.Jitter = d.Jitter
	}
	if p.Jitter < 0 {
		p.Jitter = 0
	}
	return p
}

// serverDelay is the wait before server-error retry number n (0-based), and
// false when the policy is exhausted.
func (p RetryPolicy) serverDelay(n int) (time.Duration, bool) {
	if n < len(p.ServerErrorDelays) {
		return p.ServerErrorDelays[n], true
	}
	k := n - len(p.ServerErrorDelays)
	if k >= p.OuterRetries {
		return 0, false
	}
	d := p.OuterInitial
	for i := 0; i < k && d < p.OuterMax; i++ {
		d *= 2
	}
	return min(d, p.OuterMax), true
}

// rateLimitDelay is the wait before 429 retry number n (0-based).
func (p RetryPolicy) rateLimitDelay(n int, retryAfter time.Duration) (time.Duration, bool) {
	if n >= p.RateLimitRetries {
		return 0, false
	}
	d := p.RateLimitMin
	for i := 0; i < n && d < p.RateLimitMax; i++ {
		d *= 2
	}
	d = min(d, p.RateLimitMax)
	return max(d, retryAfter), true
}

func (c Config) withDefaults() Config {
	if c.DomainTTL <= 0 {
		c.DomainTTL = 10 * time.Minute
	}
	if c.TokenRenewBefore <= 0 {
		c.TokenRenewBefore = 5 * time.Minute
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = 2 * time.Minute
	}
	h := &c.HTTP
	if h.MaxIdleConnsPerHost <= 0 {
		h.MaxIdleConnsPerHost = 64
	}
	if h.IdleConnTimeout <= 0 {
		h.IdleConnTimeout = 90 * time.Second
	}
	if h.DialTimeout <= 0 {
		h.DialTimeout = 5 * time.Second
	}
	if h.TLSHandshakeTimeout <= 0 {
		h.TLSHandshakeTimeout = 5 * time.Second
	}
	if h.ResponseHeaderTimeout <= 0 {
		h.ResponseHeaderTimeout = 15 * time.Second
	}
	if h.RequestTimeout <= 0 {
		h.RequestTimeout = 30 * time.Second
	}
	if h.MaxResponseBytes <= 0 {
		h.MaxResponseBytes = 1 << 20
	}
	if h.MaxDownloadBytes <= 0 {
		h.MaxDownloadBytes = 10 << 20
	}
	c.Retry = c.Retry.withDefaults()
	if c.ConsumerTokens == nil {
		c.ConsumerTokens = NewMemoryTokenStore()
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c
}

func (c Config) validate() error {
	var missing []string
	if c.AccountID == "" {
		missing = append(missing, "AccountID")
	}
	if c.ClientID == "" {
		missing = append(missing, "ClientID")
	}
	if c.ClientSecret == "" {
		missing = append(missing, "ClientSecret")
	}
	if c.DomainAPI == "" {
		missing = append(missing, "DomainAPI")
	}
	if len(missing) > 0 {
		return fmt.Errorf("liveperson config: missing %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(c.DomainAPI)
	if err != nil {
		return fmt.Errorf("liveperson config: DomainAPI %q: %w", c.DomainAPI, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("liveperson config: DomainAPI %q: want an http(s) URL such as https://api.liveperson.net", c.DomainAPI)
	}
	return nil
}
