package liveperson

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

var testConv = Conversation{ExtConsumerID: "telegram:42", ConversationID: "8602832d-dce1-446b-8445-0d51f5926a42"}

func TestCreateConversationRequestShape(t *testing.T) {
	f := newFakeLE(t)
	c := newFakeClient(t, f, nil)
	conv, err := c.CreateConversation(context.Background(), ConversationRequest{
		ExtConsumerID: "telegram:42",
		Profile:       ConsumerProfile{FirstName: "John", LastName: "Doe", Gender: "MALE", SocialID: "1234567890", CustomerType: "vip"},
		Routing: Routing{SkillID: "-1", TTRDefName: "NORMAL", CampaignID: "99999", EngagementID: "888888",
			Context: &ConversationContext{VisitorID: "v", SessionID: "s", InteractionContextID: "2", Type: "SharkContext", Lang: "en-US"}},
		Features: []string{"RICH_CONTENT", "QUICK_REPLIES"},
	})
	if err != nil {
		t.Fatalf("CreateConversation: %v", err)
	}
	if conv.ConversationID != "8602832d-dce1-446b-8445-0d51f5926a42" || conv.DialogID != conv.ConversationID {
		t.Errorf("conversation = %+v", conv)
	}
	req := f.last("conversation")
	if req.query != "v=3" {
		t.Errorf("query = %q, want v=3", req.query)
	}
	if got := req.header.Get("Authorization"); got == "" || strings.HasPrefix(got, "Bearer") {
		t.Errorf("Authorization = %q, want the raw AppJWT", got)
	}
	if got := req.header.Get("X-LP-ON-BEHALF"); !strings.HasPrefix(got, "jws.telegram:42.") {
		t.Errorf("X-LP-ON-BEHALF = %q", got)
	}
	var props map[string]any
	if err := json.Unmarshal([]byte(req.header.Get("Client-Properties")), &props); err != nil || props["type"] != ".ClientProperties" {
		t.Errorf("Client-Properties = %q (%v)", req.header.Get("Client-Properties"), err)
	}
	var body []struct {
		Kind string         `json:"kind"`
		ID   string         `json:"id"`
		Type string         `json:"type"`
		Body map[string]any `json:"body"`
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	if len(body) != 2 || body[0].Type != "userprofile.SetUserProfile" || body[1].Type != "cm.ConsumerRequestConversation" {
		t.Fatalf("body order/types wrong: %s", req.body)
	}
	sdes := body[0].Body["authenticatedData"].(map[string]any)["lp_sdes"].([]any)
	if len(sdes) != 2 {
		t.Errorf("lp_sdes = %v", sdes)
	}
	crc := body[1].Body
	for k, want := range map[string]any{"brandId": fakeAccount, "channelType": "MESSAGING", "skillId": "-1", "ttrDefName": "NORMAL"} {
		if crc[k] != want {
			t.Errorf("crc[%s] = %v, want %v", k, crc[k], want)
		}
	}
	if ci := crc["campaignInfo"].(map[string]any); ci["campaignId"] != "99999" || ci["engagementId"] != "888888" {
		t.Errorf("campaignInfo = %v", ci)
	}
	if cc := crc["conversationContext"].(map[string]any); cc["type"] != "SharkContext" {
		t.Errorf("conversationContext = %v", cc)
	}
	// The features go on every following SEND too.
	if _, err := c.PublishText(context.Background(), conv, "hi"); err != nil {
		t.Fatal(err)
	}
	if got := f.last("send").header.Get("Client-Properties"); got != `{"type":".ClientProperties","features":["RICH_CONTENT","QUICK_REPLIES"]}` {
		t.Errorf("SEND Client-Properties = %q", got)
	}
}

func TestMinimalProfileSendsEmptyBody(t *testing.T) {
	b, _ := json.Marshal(ConsumerProfile{}.body())
	if string(b) != "{}" {
		t.Errorf("empty profile body = %s, want {}", b)
	}
}

func TestClassification(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name     string
		endpoint string
		script   func(http.ResponseWriter, *http.Request)
		call     func(*Client) error
		want     error
		attempts int
	}{
		{"already open", "conversation", status(400, read("sendapi-conversation-response-already-open.json")),
			func(c *Client) error {
				_, err := c.CreateConversation(context.Background(), ConversationRequest{ExtConsumerID: "x"})
				return err
			}, ErrAlreadyOpen, 1},
		{"conversation closed", "send", status(400, read("sendapi-send-error-conversation-closed.json")),
			func(c *Client) error { _, err := c.PublishText(context.Background(), testConv, "hi"); return err },
			ErrConversationClosed, 1},
		{"closed inside 200", "send", status(200, read("sendapi-send-error-conversation-closed.json")),
			func(c *Client) error { _, err := c.PublishText(context.Background(), testConv, "hi"); return err },
			ErrConversationClosed, 1},
		{"other 4xx not retried", "send", status(403, `{"code":"FORBIDDEN","body":{"msg":"nope"}}`),
			func(c *Client) error { _, err := c.PublishText(context.Background(), testConv, "hi"); return err },
			ErrBadRequest, 1},
		{"502 unified format exhausts policy", "send", status(502, read("sendapi-error-502-unified-format.json")),
			func(c *Client) error { _, err := c.PublishText(context.Background(), testConv, "hi"); return err },
			ErrServerError, 1 + 3 + 2},
		{"429 exhausts policy", "send", status(429, `{}`),
			func(c *Client) error { _, err := c.PublishText(context.Background(), testConv, "hi"); return err },
			ErrRateLimited, 1 + 5},
		{"401 40102 twice", "send", status(401, `{"kind":"resp","code":401,"body":{"errorCode":40102}}`),
			func(c *Client) error { _, err := c.PublishText(context.Background(), testConv, "hi"); return err },
			ErrUnauthorized, 2},
		{"bad app credentials", "appjwt", status(401, `{"error":"invalid_client"}`),
			func(c *Client) error { return c.Ready(context.Background()) },
			ErrUnauthorized, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLE(t)
			f.on(tc.endpoint, 10, tc.script)
			c := newFakeClient(t, f, nil)
			err := tc.call(c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err %T is not *APIError", err)
			}
			if got := f.count(tc.endpoint); got != tc.attempts {
				t.Errorf("%s requests = %d, want %d", tc.endpoint, got, tc.attempts)
			}
		})
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	tests := []struct {
		name   string
		script func(http.ResponseWriter, *http.Request)
		n      int
		reason string
	}{
		{"5xx within inner retries", status(503, `{}`), 3, "server_error"},
		{"5xx into the outer backoff", status(500, `{}`), 5, "server_error"},
		{"429", status(429, `{}`), 4, "rate_limited"},
		{"connection reset", func(w http.ResponseWriter, _ *http.Request) {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
		}, 2, "transport"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLE(t)
			f.on("send", tc.n, tc.script)
			reg := prometheus.NewRegistry()
			c := newFakeClient(t, f, func(cfg *Config) { cfg.Metrics = reg })
			res, err := c.PublishText(context.Background(), testConv, "hello")
			if err != nil {
				t.Fatalf("PublishText: %v", err)
			}
			if res.Sequence != 0 {
				t.Errorf("sequence = %d, want 0 (first message)", res.Sequence)
			}
			if got := f.count("send"); got != tc.n+1 {
				t.Errorf("send requests = %d, want %d", got, tc.n+1)
			}
			if got := counterValue(t, reg, "leconnect_liveperson_retries_total", map[string]string{"op": "publish_text", "reason": tc.reason}); got != float64(tc.n) {
				t.Errorf("retries metric = %v, want %d", got, tc.n)
			}
		})
	}
}

func TestAuthRenewal(t *testing.T) {
	t.Run("40102 renews the appjwt once", func(t *testing.T) {
		f := newFakeLE(t)
		c := newFakeClient(t, f, nil)
		if _, err := c.PublishText(context.Background(), testConv, "one"); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.revoked[f.requests["send"][0].header.Get("Authorization")] = true
		f.mu.Unlock()
		if _, err := c.PublishText(context.Background(), testConv, "two"); err != nil {
			t.Fatalf("after revocation: %v", err)
		}
		if got := f.count("appjwt"); got != 2 {
			t.Errorf("appjwt fetches = %d, want 2", got)
		}
		if got := f.count("send"); got != 3 {
			t.Errorf("send requests = %d, want 3 (ok, 401, retry)", got)
		}
	})
	t.Run("40103 refetches and stores the consumer jws", func(t *testing.T) {
		f := newFakeLE(t)
		store := NewMemoryTokenStore()
		c := newFakeClient(t, f, func(cfg *Config) { cfg.ConsumerTokens = store })
		if _, err := c.PublishText(context.Background(), testConv, "one"); err != nil {
			t.Fatal(err)
		}
		old, _, _ := store.GetConsumerToken(context.Background(), testConv.ExtConsumerID)
		f.mu.Lock()
		f.badJWS[old] = true
		f.mu.Unlock()
		if _, err := c.PublishText(context.Background(), testConv, "two"); err != nil {
			t.Fatalf("after jws revocation: %v", err)
		}
		now, _, _ := store.GetConsumerToken(context.Background(), testConv.ExtConsumerID)
		if now == old || now == "" {
			t.Errorf("stored jws not replaced: %q", now)
		}
		if got := f.count("consumer"); got != 2 {
			t.Errorf("consumer jws fetches = %d, want 2", got)
		}
	})
	t.Run("stored jws is reused across clients", func(t *testing.T) {
		f := newFakeLE(t)
		store := NewMemoryTokenStore()
		for range 2 {
			c := newFakeClient(t, f, func(cfg *Config) { cfg.ConsumerTokens = store })
			if _, err := c.PublishText(context.Background(), testConv, "hi"); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.count("consumer"); got != 1 {
			t.Errorf("consumer jws fetches = %d, want 1", got)
		}
	})
}

func TestAppJWTRenewsBeforeExpiry(t *testing.T) {
	f := newFakeLE(t)
	f.tokenTTL = time.Hour
	c := newFakeClient(t, f, nil)
	var mu sync.Mutex
	now := time.Now()
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ctx := context.Background()

	first, err := c.app.token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	advance(54 * time.Minute) // still outside the 5-minute window
	if tok, _ := c.app.token(ctx); tok != first || f.count("appjwt") != 1 {
		t.Fatalf("token renewed too early (fetches %d)", f.count("appjwt"))
	}
	advance(2 * time.Minute) // 56 min: inside the window, token still valid
	if tok, _ := c.app.token(ctx); tok != first {
		t.Errorf("a valid token should be served while it renews in the background")
	}
	// The background renewal completes; wait for it through the flight.
	if _, err := c.app.renew().wait(ctx); err != nil {
		t.Fatal(err)
	}
	tok, _ := c.app.token(ctx)
	if tok == first {
		t.Errorf("token not renewed inside the 5-minute window")
	}
	if got := f.count("appjwt"); got != 2 {
		t.Errorf("appjwt fetches = %d, want 2", got)
	}
}

func TestColdStartSingleFlight(t *testing.T) {
	f := newFakeLE(t)
	c := newFakeClient(t, f, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			_, err := c.PublishText(context.Background(), testConv, "hi")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for ep, want := range map[string]int{"domain": 1, "appjwt": 1, "consumer": 1, "send": 100} {
		if got := f.count(ep); got != want {
			t.Errorf("%s requests = %d, want %d", ep, got, want)
		}
	}
}

func TestReResolvesAfterConnectionFailure(t *testing.T) {
	f := newFakeLE(t)
	// First resolution points at a port nothing listens on.
	f.domainHosts = []string{"127.0.0.1:1"}
	c := newFakeClient(t, f, nil)
	if _, err := c.PublishText(context.Background(), testConv, "hi"); err != nil {
		t.Fatalf("PublishText: %v", err)
	}
	if got := f.count("domain"); got != 2 {
		t.Errorf("domain resolutions = %d, want 2", got)
	}
}

func TestDomainTTL(t *testing.T) {
	f := newFakeLE(t)
	c := newFakeClient(t, f, func(cfg *Config) { cfg.DomainTTL = time.Minute })
	start := time.Now()
	var now = start
	c.now = func() time.Time { return now }
	ctx := context.Background()
	if _, err := c.domains.baseURL(ctx, ServiceIDP); err != nil {
		t.Fatal(err)
	}
	if _, err := c.domains.baseURL(ctx, ServiceSwift); err != nil {
		t.Fatal(err)
	}
	if got := f.count("domain"); got != 1 {
		t.Fatalf("domain calls = %d, want 1 (all services in one call)", got)
	}
	now = start.Add(2 * time.Minute)
	if _, err := c.domains.baseURL(ctx, ServiceIDP); err != nil {
		t.Fatal(err)
	}
	if got := f.count("domain"); got != 2 {
		t.Errorf("domain calls after TTL = %d, want 2", got)
	}
}

func TestContextRespected(t *testing.T) {
	t.Run("cancel during a retry wait", func(t *testing.T) {
		f := newFakeLE(t)
		ctx, cancel := context.WithCancel(context.Background())
		f.on("send", 1, func(w http.ResponseWriter, r *http.Request) {
			cancel() // the client is about to wait 1 h
			status(503, `{}`)(w, r)
		})
		c := newFakeClient(t, f, func(cfg *Config) {
			cfg.Retry.ServerErrorDelays = []time.Duration{time.Hour}
		})
		_, err := c.PublishText(ctx, testConv, "hi")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("deadline shorter than the wait reports the failure", func(t *testing.T) {
		f := newFakeLE(t)
		f.on("send", 1, status(503, `{}`))
		c := newFakeClient(t, f, func(cfg *Config) {
			cfg.Retry.ServerErrorDelays = []time.Duration{time.Hour}
		})
		// Warm up tokens so the deadline only covers the send.
		if err := c.Ready(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := c.PublishText(ctx, testConv, "hi")
		if !errors.Is(err, ErrServerError) {
			t.Fatalf("err = %v, want ErrServerError", err)
		}
	})
}

func TestRequestTooLarge(t *testing.T) {
	f := newFakeLE(t)
	c := newFakeClient(t, f, nil)
	tests := []struct {
		name string
		text string
		want error
	}{
		{"ascii under the limit", strings.Repeat("a", 4500), nil},
		{"ascii over the limit", strings.Repeat("a", 5000), ErrTooLarge},
		// 2400 emoji = 4800 UTF-16 units + framing: over 5000.
		{"emoji count as two", strings.Repeat("😀", 2400), ErrTooLarge},
		{"cyrillic counts as one", strings.Repeat("ж", 4500), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.count("send")
			_, err := c.PublishText(context.Background(), testConv, tc.text)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want != nil && f.count("send") != before {
				t.Errorf("an oversize request was sent")
			}
		})
	}
}

func TestFileRoundTrip(t *testing.T) {
	f := newFakeLE(t)
	c := newFakeClient(t, f, nil)
	data := []byte("\x89PNG fake image bytes")
	// The first upload URL has expired by the time it is used.
	f.on("put", 1, status(401, `Temp URL invalid`))
	res, err := c.PublishFile(context.Background(), testConv, File{Data: data, FileType: "png", Caption: "logo"})
	if err != nil {
		t.Fatalf("PublishFile: %v", err)
	}
	_ = res
	if got := f.count("put"); got != 2 {
		t.Errorf("uploads = %d, want 2 (one fresh URL after 401)", got)
	}
	var pub struct {
		Body struct {
			Event struct {
				ContentType string         `json:"contentType"`
				Message     map[string]any `json:"message"`
			} `json:"event"`
		} `json:"body"`
	}
	if err := json.Unmarshal(f.last("send").body, &pub); err != nil {
		t.Fatal(err)
	}
	if pub.Body.Event.ContentType != "hosted/file" || pub.Body.Event.Message["fileType"] != "PNG" ||
		pub.Body.Event.Message["relativePath"] != "/v1/AUTH_async-images/"+fakeAccount+"/f.PNG" {
		t.Errorf("hosted file publish = %+v", pub.Body.Event)
	}
	got, err := c.DownloadFile(context.Background(), testConv, "/v1/AUTH_async-images/"+fakeAccount+"/f.PNG")
	if err != nil {
		t.Fatalf("DownloadFile: %v", err)
	}
	if string(got.Data) != string(data) || got.ContentType != "image/png" {
		t.Errorf("downloaded %q (%s)", got.Data, got.ContentType)
	}
}

// A swift answer that redirects an agent's file download into the brand's
// network (here another server on this machine) is not followed.
func TestFileDownloadDoesNotFollowRedirectsInward(t *testing.T) {
	var hits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("internal"))
	}))
	t.Cleanup(internal.Close)
	f := newFakeLE(t)
	c := newFakeClient(t, f, nil)
	f.on("get", 10, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/admin", http.StatusFound)
	})
	_, err := c.DownloadFile(context.Background(), testConv, "/v1/AUTH_async-images/"+fakeAccount+"/f.PNG")
	if !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("DownloadFile = %v, want a refusal", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal server got %d requests", n)
	}
}

func TestInvalidArguments(t *testing.T) {
	f := newFakeLE(t)
	c := newFakeClient(t, f, nil)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"no consumer", func() error { _, err := c.PublishText(ctx, Conversation{ConversationID: "x"}, "hi"); return err }},
		{"no conversation", func() error { _, err := c.PublishText(ctx, Conversation{ExtConsumerID: "x"}, "hi"); return err }},
		{"bad chat state", func() error { return c.SetChatState(ctx, testConv, "TYPING") }},
		{"action without metadata", func() error { return c.SendAcceptStatus(ctx, testConv, AcceptStatusAction, []int{1}) }},
		{"csat out of range", func() error { return c.SubmitCSAT(ctx, testConv, CSAT{Rate: 6}) }},
		{"bad file type", func() error {
			_, err := c.PublishFile(ctx, testConv, File{Data: []byte("x"), FileType: "BMP"})
			return err
		}},
		{"skill id too long", func() error {
			_, err := c.CreateConversation(ctx, ConversationRequest{ExtConsumerID: "x", Routing: Routing{SkillID: "12345678901"}})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
	if n := f.count("send") + f.count("conversation"); n != 0 {
		t.Errorf("%d requests sent for invalid arguments", n)
	}
}

func TestPolicySchedule(t *testing.T) {
	p := DefaultRetryPolicy()
	var got []time.Duration
	for n := 0; ; n++ {
		d, ok := p.serverDelay(n)
		if !ok {
			break
		}
		got = append(got, d)
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	if len(got) != len(want) {
		t.Fatalf("server schedule = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("server schedule = %v, want %v", got, want)
		}
	}
	tests := []struct {
		n          int
		retryAfter time.Duration
		want       time.Duration
	}{
		{0, 0, time.Second},
		{1, 0, 2 * time.Second},
		{0, 7 * time.Second, 7 * time.Second},
		{9, 0, 30 * time.Second},
	}
	for _, tc := range tests {
		if d, ok := p.rateLimitDelay(tc.n, tc.retryAfter); !ok || d != tc.want {
			t.Errorf("rateLimitDelay(%d, %v) = %v, %v; want %v", tc.n, tc.retryAfter, d, ok, tc.want)
		}
	}
	if _, ok := p.rateLimitDelay(10, 0); ok {
		t.Errorf("rate limit retries not bounded")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "0.5": 500 * time.Millisecond, "junk": 0,
		now.Add(10 * time.Second).Format(http.TimeFormat): 10 * time.Second,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRetryAfterReported(t *testing.T) {
	f := newFakeLE(t)
	f.on("send", 10, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0.002")
		status(429, `{}`)(w, r)
	})
	c := newFakeClient(t, f, nil)
	_, err := c.PublishText(context.Background(), testConv, "hi")
	var ae *APIError
	if !errors.As(err, &ae) || !errors.Is(err, ErrRateLimited) || ae.StatusCode != 429 {
		t.Fatalf("err = %v", err)
	}
	if ae.RetryAfter != 2*time.Millisecond {
		t.Errorf("RetryAfter = %v, want 2ms", ae.RetryAfter)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestDomainSingleServiceFallback(t *testing.T) {
	f := newFakeLE(t)
	// The all-services endpoint is refused; each service is then asked alone.
	f.on("domain", 1, status(404, `{"kind":"resp","code":404,"body":{"title":"Not Found"}}`))
	c := newFakeClient(t, f, nil)
	if _, err := c.PublishText(context.Background(), testConv, "hi"); err != nil {
		t.Fatalf("PublishText: %v", err)
	}
	if got := f.count("domain_single"); got != len(neededServices) {
		t.Errorf("single-service lookups = %d, want %d", got, len(neededServices))
	}
}

type failingStore struct{ *MemoryTokenStore }

func (*failingStore) GetConsumerToken(context.Context, string) (string, bool, error) {
	return "", false, errors.New("disk on fire")
}

func TestConsumerStoreErrorStillSends(t *testing.T) {
	f := newFakeLE(t)
	c := newFakeClient(t, f, func(cfg *Config) { cfg.ConsumerTokens = &failingStore{NewMemoryTokenStore()} })
	if _, err := c.PublishText(context.Background(), testConv, "hi"); err != nil {
		t.Fatalf("PublishText: %v", err)
	}
}
