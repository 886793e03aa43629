package liveperson

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeLE is a small LiveEngage stand-in built from the reference, for unit
// tests that need exact control over each answer (the emulator tests cover
// the real thing). Handlers can be scripted per endpoint with inject.
type fakeLE struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	counts   map[string]int
	inject   map[string][]func(w http.ResponseWriter, r *http.Request)
	requests map[string][]recorded
	tokenTTL time.Duration
	revoked  map[string]bool
	jwsGen   int
	badJWS   map[string]bool
	seq      int
	files    map[string][]byte
	// domainHost overrides the host the Domain API returns, once per entry.
	domainHosts []string
}

type recorded struct {
	header http.Header
	query  string
	body   []byte
}

const (
	fakeAccount = "64467156"
	fakeClient  = "75588e18-0213-4e33-8174-883acac7e3c4"
	fakeSecret  = "kgvbkk7glku72jgtmpi6l4a872"
)

var fakeKey = []byte("fake-signing-key")

func newFakeLE(t *testing.T) *fakeLE {
	t.Helper()
	f := &fakeLE{
		t: t, counts: map[string]int{}, inject: map[string][]func(http.ResponseWriter, *http.Request){},
		requests: map[string][]recorded{}, tokenTTL: time.Hour, revoked: map[string]bool{},
		badJWS: map[string]bool{}, files: map[string][]byte{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/account/{acc}/service/baseURI.json", f.wrap("domain", f.domain))
	mux.HandleFunc("GET /api/account/{acc}/service/{svc}/baseURI.json", f.wrap("domain_single", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTest(w, 200, map[string]string{"service": r.PathValue("svc"), "account": fakeAccount, "baseURI": r.Host})
	}))
	mux.HandleFunc("POST /sentinel/api/account/{acc}/app/token", f.wrap("appjwt", f.appJWT))
	mux.HandleFunc("POST /api/account/{acc}/consumer", f.wrap("consumer", f.consumer))
	mux.HandleFunc("POST /api/account/{acc}/messaging/consumer/conversation", f.wrap("conversation", f.conversation))
	mux.HandleFunc("POST /api/account/{acc}/messaging/consumer/conversation/send", f.wrap("send", f.send))
	mux.HandleFunc("PUT /v1/", f.wrap("put", f.put))
	mux.HandleFunc("GET /v1/", f.wrap("get", f.get))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// on queues one scripted answer for endpoint; later calls fall back to the
// normal behaviour once the queue is empty.
func (f *fakeLE) on(endpoint string, n int, h func(w http.ResponseWriter, r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.inject[endpoint] = append(f.inject[endpoint], h)
	}
}

func (f *fakeLE) count(endpoint string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[endpoint]
}

func (f *fakeLE) last(endpoint string) recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests[endpoint]
	if len(r) == 0 {
		f.t.Fatalf("no %s request recorded", endpoint)
	}
	return r[len(r)-1]
}

func (f *fakeLE) wrap(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		f.mu.Lock()
		f.counts[name]++
		f.requests[name] = append(f.requests[name], recorded{r.Header.Clone(), r.URL.RawQuery, body})
		var script func(http.ResponseWriter, *http.Request)
		if q := f.inject[name]; len(q) > 0 {
			script, f.inject[name] = q[0], q[1:]
		}
		f.mu.Unlock()
		if script != nil {
			script(w, r)
			return
		}
		h(w, r)
	}
}

func status(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func (f *fakeLE) domain(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	f.mu.Lock()
	if len(f.domainHosts) > 0 {
		host, f.domainHosts = f.domainHosts[0], f.domainHosts[1:]
	}
	f.mu.Unlock()
	var list []map[string]string
	for _, s := range neededServices {
		list = append(list, map[string]string{"service": s, "account": fakeAccount, "baseURI": host})
	}
	writeJSONTest(w, 200, map[string]any{"baseURIs": list})
}

func (f *fakeLE) appJWT(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Form.Get("client_id") != fakeClient || r.Form.Get("client_secret") != fakeSecret || r.URL.Query().Get("grant_type") != "client_credentials" {
		writeJSONTest(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	now := time.Now()
	f.mu.Lock()
	ttl := f.tokenTTL
	f.jwsGen++
	n := f.jwsGen
	f.mu.Unlock()
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": fakeAccount, "azp": fakeClient, "iss": "Sentinel", "scope": "msg.consumer",
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "n": n,
	}).SignedString(fakeKey)
	writeJSONTest(w, 200, map[string]string{"access_token": tok, "token_type": "Bearer"})
}

// checkApp returns false after writing 401/40102 when the AppJWT is bad.
func (f *fakeLE) checkApp(w http.ResponseWriter, r *http.Request) bool {
	raw := r.Header.Get("Authorization")
	f.mu.Lock()
	revoked := f.revoked[raw]
	f.mu.Unlock()
	_, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return fakeKey, nil })
	if raw == "" || strings.HasPrefix(raw, "Bearer ") || err != nil || revoked {
		writeJSONTest(w, 401, map[string]any{"kind": "resp", "code": 401, "type": ".ReqBody$ErrorResp",
			"body": map[string]any{"title": "Invalid AppJWT", "details": "AppJWT has expired or is invalid", "errorCode": 40102}})
		return false
	}
	return true
}

func (f *fakeLE) checkJWS(w http.ResponseWriter, r *http.Request) bool {
	raw := r.Header.Get("X-Lp-On-Behalf")
	f.mu.Lock()
	bad := f.badJWS[raw]
	f.mu.Unlock()
	if !strings.HasPrefix(raw, "jws.") || bad {
		writeJSONTest(w, 401, map[string]any{"kind": "resp", "code": 401, "type": ".ReqBody$ErrorResp",
			"body": map[string]any{"title": "Invalid ConsumerJWS", "details": "ConsumerJWS is invalid", "errorCode": 40103}})
		return false
	}
	return true
}

func (f *fakeLE) consumer(w http.ResponseWriter, r *http.Request) {
	if !f.checkApp(w, r) {
		return
	}
	var req struct {
		ExtConsumerID string `json:"ext_consumer_id"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	f.jwsGen++
	tok := fmt.Sprintf("jws.%s.%d", req.ExtConsumerID, f.jwsGen)
	f.mu.Unlock()
	writeJSONTest(w, 201, map[string]string{"token": tok})
}

func (f *fakeLE) conversation(w http.ResponseWriter, r *http.Request) {
	if !f.checkApp(w, r) || !f.checkJWS(w, r) {
		return
	}
	var reqs []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if err := json.NewDecoder(r.Body).Decode(&reqs); err != nil || len(reqs) != 2 {
		writeJSONTest(w, 400, map[string]string{"code": "BAD_REQUEST"})
		return
	}
	writeJSONTest(w, 200, []map[string]any{
		{"code": "OK", "body": map[string]string{"msg": "OK User Profile set successfully"}, "reqId": reqs[0].ID},
		{"code": "OK", "body": map[string]string{"conversationId": "8602832d-dce1-446b-8445-0d51f5926a42"}, "reqId": reqs[1].ID},
	})
}

func (f *fakeLE) send(w http.ResponseWriter, r *http.Request) {
	if !f.checkApp(w, r) || !f.checkJWS(w, r) {
		return
	}
	var req struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Body struct {
			RelativePath string `json:"relativePath"`
		} `json:"body"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	switch req.Type {
	case "ms.GenerateURLForUploadFile":
		writeJSONTest(w, 200, map[string]any{"code": "OK", "reqId": req.ID, "body": map[string]any{
			"relativePath": "/v1/AUTH_async-images/" + fakeAccount + "/f.PNG",
			"queryParams":  map[string]string{"temp_url_sig": "sig", "temp_url_expires": "1528099919"}}})
	case "ms.GenerateURLForDownloadFile":
		writeJSONTest(w, 200, map[string]any{"code": "OK", "reqId": req.ID, "body": map[string]any{
			"relativePath": req.Body.RelativePath,
			"queryParams":  map[string]string{"temp_url_sig": "sig", "temp_url_expires": "1528379356"}}})
	case "cm.UpdateConversationField":
		writeJSONTest(w, 200, map[string]any{"code": "OK", "reqId": req.ID, "body": map[string]string{"msg": "OK Conversation resolved successfully"}})
	default:
		f.mu.Lock()
		seq := f.seq
		f.seq++
		f.mu.Unlock()
		writeJSONTest(w, 200, map[string]any{"code": "OK", "reqId": req.ID, "body": map[string]int{"sequence": seq}})
	}
}

func (f *fakeLE) put(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("temp_url_sig") == "" {
		w.WriteHeader(401)
		return
	}
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.files[r.URL.Path] = b
	f.mu.Unlock()
	w.WriteHeader(201)
}

func (f *fakeLE) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	b, ok := f.files[r.URL.Path]
	f.mu.Unlock()
	if !ok || r.URL.Query().Get("temp_url_sig") == "" {
		w.WriteHeader(404)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(b)
}

func writeJSONTest(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// fastRetry shrinks every interval so policy tests run in milliseconds while
// keeping the policy's shape (3 inner retries, outer backoff, 429 floor).
func fastRetry() RetryPolicy {
	return RetryPolicy{
		ServerErrorDelays: []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond},
		OuterInitial:      5 * time.Millisecond,
		OuterMax:          10 * time.Millisecond,
		OuterRetries:      2,
		RateLimitMin:      time.Millisecond,
		RateLimitMax:      4 * time.Millisecond,
		RateLimitRetries:  5,
		Jitter:            -1,
	}
}

func newFakeClient(t *testing.T, f *fakeLE, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		AccountID: fakeAccount, ClientID: fakeClient, ClientSecret: fakeSecret,
		DomainAPI: f.srv.URL, Retry: fastRetry(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
