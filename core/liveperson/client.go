package liveperson

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// Client talks to LiveEngage on behalf of consumers: it resolves service
// hosts, keeps the AppJWT and consumer JWS current, and runs every Send API
// call under the retry policy. It is safe for concurrent use; create one per
// account and share it.
type Client struct {
	cfg     Config
	http    *http.Client
	ownHTTP bool
	// files carries swift uploads and downloads: the first request goes to
	// the host the Domain API named, and a redirect only where a URL from a
	// message could go (safehttp), never into the brand's network.
	files  *http.Client
	log    hclog.Logger
	m      *metrics
	scheme string // scheme used for resolved hosts: that of DomainAPI

	domains *resolver
	app     *appTokenSource
	jws     flightGroup[string]

	now func() time.Time // tests may replace it
}

// New checks cfg, fills in defaults and returns a Client. It does no network
// I/O: hosts and tokens are fetched on first use.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:    cfg,
		log:    cfg.Logger.Named("liveperson"),
		m:      m,
		scheme: "https",
		now:    time.Now,
	}
	if strings.HasPrefix(strings.ToLower(cfg.DomainAPI), "http://") {
		c.scheme = "http"
	}
	if cfg.HTTP.Client != nil {
		c.http = cfg.HTTP.Client
		c.files = cfg.HTTP.Client
	} else {
		c.http = &http.Client{Transport: newTransport(cfg.HTTP)}
		c.ownHTTP = true
	}
	c.domains = &resolver{c: c}
	if c.files == nil {
		files, err := safehttp.New(safehttp.Policy{Trusted: c.domains.isServiceHost})
		if err != nil {
			return nil, err
		}
		c.files = files.Client()
	}
	c.app = &appTokenSource{c: c}
	return c, nil
}

func newTransport(h HTTPConfig) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   h.DialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * h.MaxIdleConnsPerHost, // asyncMessagingEnt, sentinel, idp, swift
		MaxIdleConnsPerHost:   h.MaxIdleConnsPerHost,
		MaxConnsPerHost:       h.MaxConnsPerHost,
		IdleConnTimeout:       h.IdleConnTimeout,
		TLSHandshakeTimeout:   h.TLSHandshakeTimeout,
		ResponseHeaderTimeout: h.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// Close releases idle connections of the client's own transport.
func (c *Client) Close() {
	if c.ownHTTP {
		c.http.CloseIdleConnections()
		c.files.CloseIdleConnections()
	}
}

// Ready reports whether the client can authenticate right now: it returns
// nil when an AppJWT is cached or can be fetched. Meant for /readyz.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.app.token(ctx)
	return err
}

// Service names resolved through the Domain API.
const (
	ServiceAsyncMessaging = "asyncMessagingEnt"
	ServiceSentinel       = "sentinel"
	ServiceIDP            = "idp"
	ServiceSwift          = "swift"
)

type authMode int

const (
	authNone     authMode = iota
	authApp               // Authorization: AppJWT
	authConsumer          // Authorization + X-LP-ON-BEHALF
)

// request is one logical API call; do may send it several times.
type request struct {
	op          string
	service     string // resolved via the Domain API; "" means rawURL
	pathQuery   string // appended to the resolved base URL
	rawURL      string
	method      string
	body        []byte
	contentType string
	auth        authMode
	extConsumer string
	clientProps string // Client-Properties header value, "" for none
	maxBody     int64  // response body cap; 0 means HTTP.MaxResponseBytes
	// conversationID is only for logs.
	conversationID string
}

type response struct {
	status   int
	header   http.Header
	body     []byte
	attempts int
}

// do runs r under the retry policy. Errors are *APIError, except context
// errors which are returned wrapped as they are.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	var (
		serverN, rateN, attempts int
		appRenewed, jwsRenewed   bool
		jwsOverride              string
	)
	log := c.log.With("op", r.op)
	if r.conversationID != "" {
		log = log.With("conversation_id", r.conversationID)
	}
	for {
		attempts++
		res, used, err := c.attempt(ctx, r, jwsOverride)
		var (
			delay  time.Duration
			reason string
			last   error
		)
		switch {
		case err != nil:
			var prep *prepError
			if errors.As(err, &prep) {
				return nil, prep.err
			}
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("liveperson %s: %w", r.op, ctxErr)
			}
			// A connection failure may mean the host moved: re-resolve.
			if r.service != "" {
				c.domains.invalidate()
			}
			last = &APIError{Op: r.op, Kind: ErrUnavailable, Attempts: attempts, Err: err}
			d, ok := c.cfg.Retry.serverDelay(serverN)
			if !ok {
				return nil, last
			}
			serverN++
			delay, reason = d, "transport"
		case res.status >= 200 && res.status < 300:
			res.attempts = attempts
			return res, nil
		case res.status == http.StatusUnauthorized:
			ae := c.apiError(r, res, ErrUnauthorized, attempts)
			switch {
			case r.auth == authConsumer && ae.ErrorCode == 40103 && !jwsRenewed:
				jwsRenewed = true
				tok, rerr := c.renewConsumerJWS(ctx, r.extConsumer, used.jws)
				if rerr != nil {
					return nil, rerr
				}
				jwsOverride = tok
				c.m.retries.WithLabelValues(r.op, "consumer_jws_renewed").Inc()
				log.Info("consumer jws rejected, renewed it and retrying once", "error_code", ae.ErrorCode)
				continue
			case r.auth != authNone && !appRenewed && ae.ErrorCode != 40103 && ae.ErrorCode != 40104:
				// 40102 (or a bare 401): the AppJWT expired or was revoked.
				appRenewed = true
				c.app.invalidate(used.app)
				c.m.retries.WithLabelValues(r.op, "appjwt_renewed").Inc()
				log.Info("appjwt rejected, renewing it and retrying once", "error_code", ae.ErrorCode)
				continue
			}
			return nil, ae
		case res.status == http.StatusTooManyRequests:
			ae := c.apiError(r, res, ErrRateLimited, attempts)
			d, ok := c.cfg.Retry.rateLimitDelay(rateN, ae.RetryAfter)
			if !ok {
				return nil, ae
			}
			rateN++
			delay, reason, last = d, "rate_limited", ae
		case res.status >= 500:
			ae := c.apiError(r, res, ErrServerError, attempts)
			d, ok := c.cfg.Retry.serverDelay(serverN)
			if !ok {
				return nil, ae
			}
			serverN++
			delay, reason, last = d, "server_error", ae
		default:
			return nil, c.apiError(r, res, c.classify4xx(r, res), attempts)
		}
		delay = c.jitter(delay)
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(delay).After(dl) {
			// Waiting would outlive the caller: report the real failure now.
			return nil, last
		}
		c.m.retries.WithLabelValues(r.op, reason).Inc()
		log.Warn("liveengage call failed, retrying", "reason", reason, "attempt", attempts, "delay", delay, "err", last)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("liveperson %s: %w (last failure: %v)", r.op, ctx.Err(), last)
		case <-t.C:
		}
	}
}

func (c *Client) jitter(d time.Duration) time.Duration {
	if j := c.cfg.Retry.Jitter; j > 0 && d > 0 {
		d += time.Duration(mrand.Float64() * j * float64(d))
	}
	return d
}

// prepError marks failures getting a host or token: they went through their
// own retries already, so do returns them as they are.
type prepError struct{ err error }

func (e *prepError) Error() string { return e.err.Error() }
func (e *prepError) Unwrap() error { return e.err }

type usedTokens struct{ app, jws string }

// attempt sends r once. Transport errors come back as err; HTTP errors as a
// response.
func (c *Client) attempt(ctx context.Context, r request, jwsOverride string) (*response, usedTokens, error) {
	var used usedTokens
	if r.auth != authNone {
		tok, err := c.app.token(ctx)
		if err != nil {
			return nil, used, &prepError{fmt.Errorf("liveperson %s: get appjwt: %w", r.op, err)}
		}
		used.app = tok
	}
	if r.auth == authConsumer {
		used.jws = jwsOverride
		if used.jws == "" {
			tok, err := c.consumerJWS(ctx, r.extConsumer)
			if err != nil {
				return nil, used, &prepError{fmt.Errorf("liveperson %s: get consumer jws: %w", r.op, err)}
			}
			used.jws = tok
		}
	}

	// Resolve after getting tokens: a token fetch that hit a dead host has
	// refreshed the hosts by now.
	target := r.rawURL
	if r.service != "" {
		base, err := c.domains.baseURL(ctx, r.service)
		if err != nil {
			return nil, used, &prepError{err}
		}
		target = base + r.pathQuery
	}

	actx, cancel := context.WithTimeout(ctx, c.cfg.HTTP.RequestTimeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, target, body)
	if err != nil {
		return nil, used, &prepError{fmt.Errorf("liveperson %s: build request: %w", r.op, err)}
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json")
	if used.app != "" {
		// The raw token, no "Bearer ": what every LivePerson example sends.
		req.Header.Set("Authorization", used.app)
	}
	if used.jws != "" {
		req.Header.Set("X-LP-ON-BEHALF", used.jws)
	}
	if r.clientProps != "" {
		req.Header.Set("Client-Properties", r.clientProps)
	}

	start := time.Now()
	client := c.http
	if r.service == ServiceSwift {
		client = c.files
	}
	resp, err := client.Do(req)
	if err != nil {
		c.m.requests.WithLabelValues(r.op, "error").Inc()
		c.m.duration.WithLabelValues(r.op).Observe(time.Since(start).Seconds())
		return nil, used, err
	}
	defer resp.Body.Close()
	limit := r.maxBody
	if limit <= 0 {
		limit = c.cfg.HTTP.MaxResponseBytes
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	c.m.duration.WithLabelValues(r.op).Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.requests.WithLabelValues(r.op, "error").Inc()
		return nil, used, fmt.Errorf("read response: %w", err)
	}
	c.m.requests.WithLabelValues(r.op, strconv.Itoa(resp.StatusCode)).Inc()
	if int64(len(data)) > limit {
		return nil, used, &prepError{&APIError{Op: r.op, Kind: ErrTooLarge, StatusCode: resp.StatusCode,
			Message: fmt.Sprintf("response larger than %d bytes", limit)}}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, used, nil
}

// envelope is the loose shape of every Send API answer: the light
// {"code":"OK","body":{"msg":...},"reqId":...} form and the unified error
// form {"kind":"resp","code":401,"body":{"title","details","errorCode"}}.
type envelope struct {
	Kind  string     `json:"kind"`
	ReqID flexString `json:"reqId"`
	Code  flexString `json:"code"`
	Type  string     `json:"type"`
	Body  struct {
		Msg       string `json:"msg"`
		Title     string `json:"title"`
		Details   string `json:"details"`
		ErrorCode int    `json:"errorCode"`
	} `json:"body"`
	RawBody json.RawMessage `json:"-"`
}

func (e envelope) ok() bool {
	switch strings.ToUpper(string(e.Code)) {
	case "OK", "200", "201", "":
		return true
	}
	return false
}

func (e envelope) message() string {
	if e.Body.Msg != "" {
		return e.Body.Msg
	}
	switch {
	case e.Body.Title != "" && e.Body.Details != "":
		return e.Body.Title + ": " + e.Body.Details
	case e.Body.Title != "":
		return e.Body.Title
	}
	return e.Body.Details
}

// failedEnvelope finds the entry that explains a failure: the body itself,
// or in a CONVERSATION array the first entry that is not OK.
func failedEnvelope(body []byte) (envelope, bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return envelope{}, false
	}
	if body[0] == '[' {
		var arr []envelope
		if json.Unmarshal(body, &arr) != nil {
			return envelope{}, false
		}
		for _, e := range arr {
			if !e.ok() {
				return e, true
			}
		}
		if len(arr) > 0 {
			return arr[len(arr)-1], true
		}
		return envelope{}, false
	}
	var e envelope
	if json.Unmarshal(body, &e) != nil {
		return envelope{}, false
	}
	return e, true
}

func (c *Client) apiError(r request, res *response, kind error, attempts int) *APIError {
	ae := &APIError{Op: r.op, Kind: kind, StatusCode: res.status, Attempts: attempts}
	if e, ok := failedEnvelope(res.body); ok {
		ae.Code = string(e.Code)
		ae.ErrorCode = e.Body.ErrorCode
		ae.Message = e.message()
		ae.ReqID = string(e.ReqID)
	}
	if ae.Message == "" && len(res.body) > 0 && len(res.body) < 200 && !bytes.ContainsAny(res.body, "{[") {
		ae.Message = strings.TrimSpace(string(res.body))
	}
	if res.status == http.StatusTooManyRequests {
		ae.RetryAfter = parseRetryAfter(res.header.Get("Retry-After"), time.Now())
	}
	return ae
}

// classify4xx maps a non-retryable client error to its sentinel by the
// documented messages (HOWTO; reference §5.3).
func (c *Client) classify4xx(r request, res *response) error {
	if res.status == http.StatusRequestEntityTooLarge {
		return ErrTooLarge
	}
	e, _ := failedEnvelope(res.body)
	return classifyMessage(e.message(), len(r.body))
}

func classifyMessage(msg string, requestBytes int) error {
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "already has open conversation"):
		return ErrAlreadyOpen
	case strings.Contains(lower, "conversation is close"):
		return ErrConversationClosed
	case strings.EqualFold(strings.TrimSpace(msg), "bad request") && requestBytes > MaxRequestChars:
		// The documented answer to an oversize request is a bare "Bad
		// Request". We count UTF-16 units before sending; a server counting
		// bytes may still refuse, and this is how that looks.
		return ErrTooLarge
	}
	return ErrBadRequest
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// flexString decodes a JSON string or number (ids and codes appear as both).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want string or number, got %s", b)
	}
	*f = flexString(n.String())
	return nil
}

// newID returns a random UUID v4, the request id form HOWTO recommends.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
