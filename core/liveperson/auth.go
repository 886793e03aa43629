package liveperson

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ConsumerTokenStore keeps consumer JWS per ext_consumer_id. A JWS never
// expires, so the client fetches one once and reads it back from here,
// replacing it only when LiveEngage rejects it (errorCode 40103). The durable
// store implements this; NewMemoryTokenStore is the in-process default.
type ConsumerTokenStore interface {
	// GetConsumerToken returns the stored JWS; ok is false when there is none.
	GetConsumerToken(ctx context.Context, extConsumerID string) (token string, ok bool, err error)
	// PutConsumerToken stores (or replaces) the JWS.
	PutConsumerToken(ctx context.Context, extConsumerID, token string) error
}

// MemoryTokenStore is a ConsumerTokenStore in a map. Safe for concurrent use.
type MemoryTokenStore struct {
	mu sync.RWMutex
	m  map[string]string
}

// NewMemoryTokenStore returns an empty store.
func NewMemoryTokenStore() *MemoryTokenStore {
	return &MemoryTokenStore{m: make(map[string]string)}
}

// GetConsumerToken implements ConsumerTokenStore.
func (s *MemoryTokenStore) GetConsumerToken(_ context.Context, id string) (string, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.m[id]
	return t, ok, nil
}

// PutConsumerToken implements ConsumerTokenStore.
func (s *MemoryTokenStore) PutConsumerToken(_ context.Context, id, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = token
	return nil
}

// appToken is a cached AppJWT with local-clock deadlines.
type appToken struct {
	value string
	// renewAt: from here on a background renewal starts while the token is
	// still used.
	renewAt time.Time
	// usableUntil: past this the token is not sent any more; callers wait
	// for the renewal.
	usableUntil time.Time
}

// appTokenSource caches the AppJWT and renews it single-flight.
type appTokenSource struct {
	c  *Client
	mu sync.Mutex
	// cur is the cached token, zero when none.
	cur appToken
	fl  flightGroup[appToken]
}

func (s *appTokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	now := s.c.now()
	if cur.value != "" && now.Before(cur.renewAt) {
		return cur.value, nil
	}
	f := s.renew()
	if cur.value != "" && now.Before(cur.usableUntil) {
		// Renewal runs in the background; keep using the valid token.
		return cur.value, nil
	}
	t, err := f.wait(ctx)
	return t.value, err
}

// renew starts (or joins) the one AppJWT fetch.
func (s *appTokenSource) renew() *flight[appToken] {
	return s.fl.do("", func() (appToken, error) {
		// A caller that read the cache just before the previous fetch
		// stored its token gets here after it: use that token.
		s.mu.Lock()
		cur := s.cur
		s.mu.Unlock()
		if cur.value != "" && s.c.now().Before(cur.renewAt) {
			return cur, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.FetchTimeout)
		defer cancel()
		t, err := s.c.fetchAppJWT(ctx)
		s.c.m.tokenFetches.WithLabelValues("appjwt", result(err)).Inc()
		if err != nil {
			s.c.log.Error("appjwt fetch failed", "err", err)
			return appToken{}, err
		}
		s.mu.Lock()
		s.cur = t
		s.mu.Unlock()
		return t, nil
	})
}

// invalidate drops the cached token if it is still bad, so the next caller
// fetches a new one; a token someone already renewed is kept.
func (s *appTokenSource) invalidate(bad string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.value == bad {
		s.cur = appToken{}
	}
}

// appJWTResponse is Sentinel's answer. expires_in is not documented but
// read when present.
type appJWTResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// defaultAppJWTLifetime is the documented lifetime ("expires after 60
// minutes"), used only when the token carries no exp.
const defaultAppJWTLifetime = time.Hour

func (c *Client) fetchAppJWT(ctx context.Context) (appToken, error) {
	form := url.Values{"client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret}}
	start := c.now()
	res, err := c.do(ctx, request{
		op:          "appjwt",
		service:     ServiceSentinel,
		pathQuery:   "/sentinel/api/account/" + url.PathEscape(c.cfg.AccountID) + "/app/token?v=1.0&grant_type=client_credentials",
		method:      http.MethodPost,
		body:        []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded",
	})
	if err != nil {
		return appToken{}, err
	}
	var body appJWTResponse
	if err := json.Unmarshal(res.body, &body); err != nil {
		return appToken{}, fmt.Errorf("liveperson appjwt: decode response: %w", err)
	}
	if body.AccessToken == "" {
		return appToken{}, fmt.Errorf("liveperson appjwt: response has no access_token")
	}
	lifetime, err := tokenLifetime(body.AccessToken, body.ExpiresIn, start)
	if err != nil {
		return appToken{}, fmt.Errorf("liveperson appjwt: %w", err)
	}
	margin := min(c.cfg.TokenRenewBefore, lifetime/4)
	expires := start.Add(lifetime)
	c.log.Debug("appjwt fetched", "lifetime", lifetime)
	return appToken{
		value:       body.AccessToken,
		renewAt:     expires.Add(-margin),
		usableUntil: expires.Add(-margin / 4),
	}, nil
}

// tokenLifetime reads how long a fresh token lives. exp - iat is preferred:
// it is measured on the server's clock only, so local clock skew does not
// matter, and anchoring it at the local time the request *started* errs on
// the safe side.
func tokenLifetime(token string, expiresIn int64, start time.Time) (time.Duration, error) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err == nil {
		exp, _ := claims.GetExpirationTime()
		iat, _ := claims.GetIssuedAt()
		switch {
		case exp != nil && iat != nil:
			d := exp.Sub(iat.Time)
			// iat and exp are whole seconds, so the token may have been issued
			// up to 1 s after iat: count that second as already gone.
			if d > 2*time.Second {
				return d - time.Second, nil
			}
			if d > 0 {
				return d / 2, nil
			}
			return 0, fmt.Errorf("token exp %v is not after iat %v", exp.Time, iat.Time)
		case exp != nil:
			if d := exp.Sub(start); d > 0 {
				return d, nil
			}
			return 0, fmt.Errorf("token already expired at %v", exp.Time)
		}
	}
	if expiresIn > 0 {
		return time.Duration(expiresIn) * time.Second, nil
	}
	return defaultAppJWTLifetime, nil
}

// consumerJWS returns the consumer's JWS from the store, fetching it once
// (single-flight per consumer) when there is none.
func (c *Client) consumerJWS(ctx context.Context, extConsumerID string) (string, error) {
	tok, ok, err := c.cfg.ConsumerTokens.GetConsumerToken(ctx, extConsumerID)
	if err != nil {
		// A fresh JWS for the same ext_consumer_id names the same consumer,
		// so a store hiccup costs a fetch, not the message.
		c.log.Warn("loading consumer jws failed, fetching a new one", "err", err)
	}
	if err == nil && ok && tok != "" {
		return tok, nil
	}
	return c.renewConsumerJWS(ctx, extConsumerID, "")
}

// renewConsumerJWS fetches a new JWS unless the store already holds one
// other than bad (another goroutine renewed it first).
func (c *Client) renewConsumerJWS(ctx context.Context, extConsumerID, bad string) (string, error) {
	f := c.jws.do(extConsumerID, func() (string, error) {
		fctx, cancel := context.WithTimeout(context.Background(), c.cfg.FetchTimeout)
		defer cancel()
		if tok, ok, err := c.cfg.ConsumerTokens.GetConsumerToken(fctx, extConsumerID); err == nil && ok && tok != "" && tok != bad {
			return tok, nil
		}
		tok, err := c.fetchConsumerJWS(fctx, extConsumerID)
		c.m.tokenFetches.WithLabelValues("consumer_jws", result(err)).Inc()
		if err != nil {
			return "", err
		}
		if err := c.cfg.ConsumerTokens.PutConsumerToken(fctx, extConsumerID, tok); err != nil {
			// The token is good; failing to keep it only costs a refetch.
			c.log.Warn("storing consumer jws failed", "err", err)
		}
		return tok, nil
	})
	return f.wait(ctx)
}

func (c *Client) fetchConsumerJWS(ctx context.Context, extConsumerID string) (string, error) {
	body, err := json.Marshal(map[string]string{"ext_consumer_id": extConsumerID})
	if err != nil {
		return "", fmt.Errorf("liveperson consumer_jws: encode: %w", err)
	}
	res, err := c.do(ctx, request{
		op:          "consumer_jws",
		service:     ServiceIDP,
		pathQuery:   "/api/account/" + url.PathEscape(c.cfg.AccountID) + "/consumer?v=1.0",
		method:      http.MethodPost,
		body:        body,
		contentType: "application/json",
		auth:        authApp,
	})
	if err != nil {
		return "", err
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(res.body, &out); err != nil {
		return "", fmt.Errorf("liveperson consumer_jws: decode response: %w", err)
	}
	if out.Token == "" {
		return "", fmt.Errorf("liveperson consumer_jws: response has no token")
	}
	return out.Token, nil
}
