package liveengage

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// keyID is the kid of the documented AppJWT and ConsumerJWS headers.
const keyID = "appjwt-13-05-17"

type signer struct{ key *rsa.PrivateKey }

func (s *signer) sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	// Documented header order is kid, typ, alg; JSON key order does not
	// matter to any parser, only the values do.
	t.Header["kid"] = keyID
	t.Header["typ"] = "JWT"
	s2, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s2, nil
}

func (s *signer) parse(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return &s.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return nil, fmt.Errorf("parse token: %w", err)
	}
	return claims, nil
}

// PublicKey returns the key that verifies AppJWTs and ConsumerJWSs.
func (e *Emulator) PublicKey() *rsa.PublicKey { return &e.keys.key.PublicKey }

// appToken is a verified AppJWT, cached so the hot path never re-runs RSA.
type appToken struct {
	account, clientID string
	iat, exp          int64
	revoked           bool
	hasIss            bool
}

type consumerToken struct {
	account, extID, lpID string
}

// tokenCache remembers verified tokens. Entries are few (one AppJWT per hour
// per client, one JWS per consumer), so a plain map under a RWMutex is fine.
type tokenCache struct {
	mu            sync.RWMutex
	app           map[string]*appToken
	consumer      map[string]*consumerToken
	revokedBefore int64 // AppJWTs with iat <= this, not yet cached, are expired
}

// ExpireTokens forces every AppJWT issued so far to be treated as expired
// (401 / 40102), as if an hour had passed. New tokens are valid again.
func (e *Emulator) ExpireTokens() {
	c := &e.tokens
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.app {
		t.revoked = true
	}
	c.revokedBefore = time.Now().Unix()
}

func (e *Emulator) issueAppJWT() (string, error) {
	now := time.Now()
	ttl := int64(e.opts.TokenTTL / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	claims := jwt.MapClaims{
		"aud":   e.opts.AccountID,
		"azp":   e.opts.ClientID,
		"scope": "msg.consumer",
		"iss":   "Sentinel",
		"exp":   now.Unix() + ttl,
		"iat":   now.Unix(),
	}
	tok, err := e.keys.sign(claims)
	if err != nil {
		return "", err
	}
	c := &e.tokens
	c.mu.Lock()
	if c.app == nil {
		c.app = map[string]*appToken{}
	}
	c.app[tok] = &appToken{account: e.opts.AccountID, clientID: e.opts.ClientID, iat: now.Unix(), exp: now.Unix() + ttl, hasIss: true}
	c.mu.Unlock()
	return tok, nil
}

// lpConsumerID derives the 64-hex lp_consumer_id. Deterministic, so the same
// ext_consumer_id always maps to the same consumer (as on the real service).
func lpConsumerID(account, extID string) string {
	sum := sha256.Sum256([]byte(account + "\x00" + extID))
	return hex.EncodeToString(sum[:])
}

// nameUUID derives a stable UUID-shaped id from a name (v5-style, SHA-1).
func nameUUID(name string) string {
	sum := sha1.Sum([]byte(name))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return formatUUID(b)
}

func (e *Emulator) issueConsumerJWS(extID string) (string, error) {
	lp := lpConsumerID(e.opts.AccountID, extID)
	tok, err := e.keys.sign(jwt.MapClaims{
		"account_id":      e.opts.AccountID,
		"ext_consumer_id": extID,
		"lp_consumer_id":  lp,
	})
	if err != nil {
		return "", err
	}
	c := &e.tokens
	c.mu.Lock()
	if c.consumer == nil {
		c.consumer = map[string]*consumerToken{}
	}
	c.consumer[tok] = &consumerToken{account: e.opts.AccountID, extID: extID, lpID: lp}
	c.mu.Unlock()
	return tok, nil
}

// authError is a §5.1 authorization failure.
type authError struct {
	status int
	code   int
	title  string
	detail string
}

var (
	errMissingParam = &authError{http.StatusBadRequest, 40001, "Missing parameter", "Brand Id is missing"}
	errAppJWTBad    = &authError{http.StatusUnauthorized, 40102, "Invalid AppJWT", "AppJWT has expired or is invalid"}
	errJWSBad       = &authError{http.StatusUnauthorized, 40103, "Invalid ConsumerJWS", "ConsumerJWS is invalid"}
	errJWSMissing   = &authError{http.StatusUnauthorized, 40104, "ConsumerJWS is missing", "X_ON_BEHALF_HEADER is not present"}
	errAppJWTMiss   = &authError{http.StatusUnauthorized, 40105, "AppJWT is missing", "AUTHORIZATION header is not present"}
)

// stripBearer accepts both the documented raw token and "Bearer <token>".
func stripBearer(h string) string {
	h = strings.TrimSpace(h)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}

// checkAppJWT validates the Authorization header for account.
func (e *Emulator) checkAppJWT(r *http.Request, account string) *authError {
	raw := stripBearer(r.Header.Get("Authorization"))
	if raw == "" {
		return errAppJWTMiss
	}
	c := &e.tokens
	c.mu.RLock()
	t := c.app[raw]
	revokedBefore := c.revokedBefore
	c.mu.RUnlock()
	if t == nil {
		claims, err := e.keys.parse(raw)
		if err != nil {
			return errAppJWTBad
		}
		t = &appToken{}
		t.account, _ = claims["aud"].(string)
		t.clientID, _ = claims["azp"].(string)
		iss, _ := claims["iss"].(string)
		t.hasIss = iss == "Sentinel"
		if f, ok := claims["exp"].(float64); ok {
			t.exp = int64(f)
		}
		if f, ok := claims["iat"].(float64); ok {
			t.iat = int64(f)
		}
		t.revoked = t.iat <= revokedBefore
		c.mu.Lock()
		if c.app == nil {
			c.app = map[string]*appToken{}
		}
		c.app[raw] = t
		c.mu.Unlock()
	}
	if !t.hasIss || t.account == "" {
		return errMissingParam
	}
	if t.revoked || time.Now().Unix() >= t.exp || t.account != account || t.clientID != e.opts.ClientID {
		return errAppJWTBad
	}
	return nil
}

// checkConsumerJWS validates X-LP-ON-BEHALF and returns the consumer.
func (e *Emulator) checkConsumerJWS(r *http.Request, account string) (*consumerToken, *authError) {
	raw := strings.TrimSpace(r.Header.Get("X-LP-ON-BEHALF"))
	if raw == "" {
		return nil, errJWSMissing
	}
	c := &e.tokens
	c.mu.RLock()
	t := c.consumer[raw]
	c.mu.RUnlock()
	if t == nil {
		claims, err := e.keys.parse(raw)
		if err != nil {
			return nil, errJWSBad
		}
		t = &consumerToken{}
		t.account, _ = claims["account_id"].(string)
		t.extID, _ = claims["ext_consumer_id"].(string)
		t.lpID, _ = claims["lp_consumer_id"].(string)
		if t.lpID == "" {
			return nil, errJWSBad
		}
		c.mu.Lock()
		if c.consumer == nil {
			c.consumer = map[string]*consumerToken{}
		}
		c.consumer[raw] = t
		c.mu.Unlock()
	}
	if t.account != account {
		return nil, errJWSBad
	}
	return t, nil
}

// handleAppToken implements Sentinel's client_credentials grant. Parameters
// are read from the query string and the form body alike (§2.1).
func (e *Emulator) handleAppToken(w http.ResponseWriter, r *http.Request) {
	if e.injectFault(w, r, EndpointSentinel, "") {
		return
	}
	params := url.Values{}
	for k, v := range r.URL.Query() {
		params[k] = v
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" || ct == "" {
		body, err := readLimited(r, 64<<10)
		if err == nil && len(body) > 0 {
			if form, err := url.ParseQuery(string(body)); err == nil {
				for k, v := range form {
					params[k] = v
				}
			}
		}
	}
	if gt := params.Get("grant_type"); gt != "client_credentials" {
		code := "invalid_request"
		if gt != "" {
			code = "unsupported_grant_type"
		}
		writeOAuthError(w, http.StatusBadRequest, code, "grant_type must be client_credentials")
		return
	}
	if r.PathValue("account") != e.opts.AccountID {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "unknown account")
		return
	}
	if params.Get("client_id") != e.opts.ClientID || params.Get("client_secret") != e.opts.ClientSecret {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	tok, err := e.issueAppJWT()
	if err != nil {
		e.log.Error("issue app jwt", "err", err)
		writeUnifiedError(w, http.StatusInternalServerError, "", 50001, "Internal server error", "failed to sign token")
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}{tok, "Bearer"})
}

// handleConsumerJWS implements the IDP consumer endpoint (§3).
func (e *Emulator) handleConsumerJWS(w http.ResponseWriter, r *http.Request) {
	if e.injectFault(w, r, EndpointIDP, "") {
		return
	}
	account := r.PathValue("account")
	if aerr := e.checkAppJWT(r, account); aerr != nil {
		writeAuthError(w, aerr)
		return
	}
	body, err := readLimited(r, 64<<10)
	if err != nil {
		writeUnifiedError(w, http.StatusBadRequest, "", 40000, "Bad Request", "request body is unreadable")
		return
	}
	var req struct {
		ExtConsumerID string `json:"ext_consumer_id"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.ExtConsumerID == "" {
		writeUnifiedError(w, http.StatusBadRequest, "", 40001, "Missing parameter", "ext_consumer_id is missing")
		return
	}
	tok, err := e.issueConsumerJWS(req.ExtConsumerID)
	if err != nil {
		e.log.Error("issue consumer jws", "err", err)
		writeUnifiedError(w, http.StatusInternalServerError, "", 50001, "Internal server error", "failed to sign token")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(struct {
		Token string `json:"token"`
	}{tok})
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

var errBodyTooLarge = errors.New("request body too large")

// readLimited reads at most limit bytes of the body; more is an error.
func readLimited(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, errBodyTooLarge
	}
	return b, nil
}
