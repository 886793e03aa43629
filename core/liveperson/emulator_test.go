package liveperson_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/emulator/liveengage"
)

const (
	emuAccount = "64467156"
	emuClient  = "75588e18-0213-4e33-8174-883acac7e3c4"
	emuSecret  = "kgvbkk7glku72jgtmpi6l4a872"
)

// countingRT counts requests per LiveEngage endpoint at the client's edge,
// and lets a test react to each answer (e.g. end a fault storm).
type countingRT struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
	// after, if set, sees every answer: endpoint, HTTP status (0 on error).
	after func(endpoint string, status int)
}

func newCountingRT() *countingRT {
	return &countingRT{base: http.DefaultTransport.(*http.Transport).Clone(), n: map[string]int{}}
}

func endpointOf(path string) string {
	switch {
	case strings.Contains(path, "/service/"):
		return "domain"
	case strings.HasPrefix(path, "/sentinel/"):
		return "appjwt"
	case strings.HasSuffix(path, "/consumer"):
		return "idp"
	case strings.HasSuffix(path, "/conversation/send"):
		return "send"
	case strings.HasSuffix(path, "/conversation"):
		return "conversation"
	case strings.HasPrefix(path, "/v1/"):
		return "files"
	}
	return "other"
}

func (c *countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	ep := endpointOf(r.URL.Path)
	c.mu.Lock()
	c.n[ep]++
	after := c.after
	c.mu.Unlock()
	resp, err := c.base.RoundTrip(r)
	if after != nil {
		st := 0
		if err == nil {
			st = resp.StatusCode
		}
		after(ep, st)
	}
	return resp, err
}

func (c *countingRT) count(ep string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[ep]
}

func newEmulator(t testing.TB, opts liveengage.Options) (*liveengage.Emulator, string) {
	t.Helper()
	opts.AccountID, opts.ClientID, opts.ClientSecret = emuAccount, emuClient, emuSecret
	emu, err := liveengage.New(opts)
	if err != nil {
		t.Fatalf("liveengage.New: %v", err)
	}
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = emu.Close()
	})
	return emu, srv.URL
}

// shortRetry keeps the policy's shape with millisecond intervals, and a
// budget large enough that a random storm cannot exhaust it.
func shortRetry() liveperson.RetryPolicy {
	return liveperson.RetryPolicy{
		ServerErrorDelays: []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond},
		OuterInitial:      4 * time.Millisecond,
		OuterMax:          10 * time.Millisecond,
		OuterRetries:      30,
		RateLimitMin:      time.Millisecond,
		RateLimitMax:      5 * time.Millisecond,
		RateLimitRetries:  40,
	}
}

func newClient(t testing.TB, domainAPI string, rt http.RoundTripper, mod func(*liveperson.Config)) *liveperson.Client {
	t.Helper()
	cfg := liveperson.Config{
		AccountID: emuAccount, ClientID: emuClient, ClientSecret: emuSecret, DomainAPI: domainAPI,
		Retry: shortRetry(),
	}
	if rt != nil {
		cfg.HTTP.Client = &http.Client{Transport: rt}
	}
	if testing.Verbose() {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Info})
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := liveperson.New(cfg)
	if err != nil {
		t.Fatalf("liveperson.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// webhookSink is the connector's webhook endpoint in miniature: verify the
// raw bytes, parse, hand over.
type webhookSink struct {
	got      chan *liveperson.Notification
	rejected atomic.Int64
}

func newWebhookSink(t *testing.T) (*webhookSink, string) {
	v, err := liveperson.NewVerifier(emuAccount, emuClient, emuSecret)
	if err != nil {
		t.Fatal(err)
	}
	s := &webhookSink{got: make(chan *liveperson.Notification, 256)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.VerifyRequest(r, 1<<20)
		if err == nil {
			var n *liveperson.Notification
			if n, err = liveperson.ParseNotification(body); err == nil {
				s.got <- n
			}
		}
		if err != nil {
			s.rejected.Add(1)
			t.Errorf("webhook rejected: %v", err)
		}
		w.WriteHeader(liveperson.WebhookStatus(err))
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL + liveperson.WebhookPath
}

// await returns the first notification accepted by match, failing after a
// generous bound (a hang guard, not a timing assertion).
func (s *webhookSink) await(t *testing.T, what string, match func(*liveperson.Notification) bool) *liveperson.Notification {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-s.got:
			if match(n) {
				return n
			}
		case <-deadline:
			t.Fatalf("no webhook: %s", what)
			return nil
		}
	}
}

var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 2048)...)

func TestEmulatorEveryOperation(t *testing.T) {
	sink, hookURL := newWebhookSink(t)
	emu, url := newEmulator(t, liveengage.Options{WebhookURL: hookURL, PostSurvey: true, TimeScale: 0.001})
	c := newClient(t, url, nil, nil)
	ctx := context.Background()

	conv, err := c.CreateConversation(ctx, liveperson.ConversationRequest{
		ExtConsumerID: "telegram:1001",
		Profile:       liveperson.ConsumerProfile{FirstName: "Zoë", LastName: "Ñúñez", SocialID: "1001", CustomerType: "vip"},
		Routing:       liveperson.Routing{SkillID: "2736637412", TTRDefName: "URGENT", CampaignID: "99999", EngagementID: "888888"},
		Features:      []string{"RICH_CONTENT", "QUICK_REPLIES", "MULTI_DIALOG"},
	})
	if err != nil {
		t.Fatalf("CreateConversation: %v", err)
	}
	snap, ok := emu.Conversation(conv.ConversationID)
	if !ok {
		t.Fatalf("emulator has no conversation %s", conv.ConversationID)
	}
	if snap.SkillID != "2736637412" || snap.TTRDefName != "URGENT" || snap.ConsumerID != "telegram:1001" ||
		!bytes.Contains(snap.UserProfile, []byte(`"lp_sdes"`)) || !bytes.Contains(snap.UserProfile, []byte("Zoë")) ||
		!bytes.Contains(snap.ClientProperties, []byte("MULTI_DIALOG")) || !bytes.Contains(snap.CampaignInfo, []byte("888888")) {
		t.Errorf("conversation as the emulator saw it: %+v", snap)
	}
	sink.await(t, "conversation created", func(n *liveperson.Notification) bool {
		return len(n.Conversations) > 0 && n.Conversations[0].ConversationID == conv.ConversationID
	})

	t.Run("second conversation is refused as already open", func(t *testing.T) {
		_, err := c.CreateConversation(ctx, liveperson.ConversationRequest{ExtConsumerID: "telegram:1001"})
		if !errors.Is(err, liveperson.ErrAlreadyOpen) {
			t.Fatalf("err = %v, want ErrAlreadyOpen", err)
		}
	})

	var consumerSeq int
	t.Run("publish text", func(t *testing.T) {
		res, err := c.PublishText(ctx, conv, "héllo 👋 <b>&")
		if err != nil {
			t.Fatal(err)
		}
		consumerSeq = res.Sequence
		snap, _ := emu.Conversation(conv.ConversationID)
		last := snap.Messages[len(snap.Messages)-1]
		if last.Text != "héllo 👋 <b>&" || last.Sequence != res.Sequence || last.Role != liveengage.RoleConsumer {
			t.Errorf("last message = %+v, result %+v", last, res)
		}
	})

	t.Run("chat state", func(t *testing.T) {
		for _, st := range []liveperson.ChatState{liveperson.ChatStateComposing, liveperson.ChatStatePause} {
			if err := c.SetChatState(ctx, conv, st); err != nil {
				t.Fatal(err)
			}
		}
		if !hasEvent(emu, conv.ConversationID, `"chatState":"PAUSE"`) {
			t.Errorf("PAUSE chat state not recorded")
		}
	})

	t.Run("agent message arrives as a verified, typed webhook; accept statuses go back", func(t *testing.T) {
		agentSeq, err := emu.AgentSend(conv.ConversationID, "Bonjour, ça va? 🙂")
		if err != nil {
			t.Fatal(err)
		}
		sink.await(t, "agent ContentEvent", func(n *liveperson.Notification) bool {
			for _, m := range n.Messaging {
				if ce, ok := m.Event.(*liveperson.ContentEvent); ok && !m.FromConsumer() && m.Sequence != nil && *m.Sequence == agentSeq {
					return ce.Text == "Bonjour, ça va? 🙂"
				}
			}
			return false
		})
		for _, st := range []liveperson.AcceptStatus{liveperson.AcceptStatusAccept, liveperson.AcceptStatusRead} {
			if err := c.SendAcceptStatus(ctx, conv, st, []int{agentSeq}); err != nil {
				t.Fatalf("%s: %v", st, err)
			}
		}
		md := liveperson.Metadata{"type": "ExternalId", "id": "card-42"}
		if err := c.SendAcceptStatus(ctx, conv, liveperson.AcceptStatusAction, []int{agentSeq}, md); err != nil {
			t.Fatalf("ACTION: %v", err)
		}
		if !hasEvent(emu, conv.ConversationID, `"status":"READ"`) || !hasEventMetadata(emu, conv.ConversationID, "card-42") {
			t.Errorf("accept statuses / ACTION metadata not recorded")
		}
		if _, err := emu.AgentRead(conv.ConversationID, []int{consumerSeq}); err != nil {
			t.Fatal(err)
		}
		sink.await(t, "agent READ", func(n *liveperson.Notification) bool {
			for _, m := range n.Messaging {
				if as, ok := m.Event.(*liveperson.AcceptStatusEvent); ok && as.Status == "READ" {
					return len(as.SequenceList) == 1 && as.SequenceList[0] == consumerSeq
				}
			}
			return false
		})
	})

	t.Run("file up and down", func(t *testing.T) {
		res, err := c.PublishFile(ctx, conv, liveperson.File{Data: pngBytes, FileType: "PNG", Caption: "screenshot"})
		if err != nil {
			t.Fatalf("PublishFile: %v", err)
		}
		got, err := c.DownloadFile(ctx, conv, res.RelativePath)
		if err != nil {
			t.Fatalf("DownloadFile: %v", err)
		}
		if !bytes.Equal(got.Data, pngBytes) || got.ContentType != "image/png" {
			t.Errorf("downloaded %d bytes (%s)", len(got.Data), got.ContentType)
		}
		// The agent shares a hosted file; the webhook names it, we fetch it.
		ev, _ := json.Marshal(map[string]any{"type": "ContentEvent", "contentType": "hosted/file",
			"message": map[string]string{"caption": "from agent", "relativePath": res.RelativePath, "fileType": "PNG"}})
		if _, err := emu.AgentSendEvent(conv.ConversationID, ev, nil); err != nil {
			t.Fatal(err)
		}
		var file *liveperson.HostedFile
		sink.await(t, "agent hosted file", func(n *liveperson.Notification) bool {
			for _, m := range n.Messaging {
				if ce, ok := m.Event.(*liveperson.ContentEvent); ok && ce.File != nil && !m.FromConsumer() {
					file = ce.File
					return true
				}
			}
			return false
		})
		agentFile, err := c.DownloadFile(ctx, conv, file.RelativePath)
		if err != nil || !bytes.Equal(agentFile.Data, pngBytes) || file.Caption != "from agent" {
			t.Errorf("agent file: %v, %d bytes, caption %q", err, len(agentFile.Data), file.Caption)
		}
	})

	t.Run("close dialog starts the survey; csat; close", func(t *testing.T) {
		if err := c.CloseDialog(ctx, conv); err != nil {
			t.Fatalf("CloseDialog: %v", err)
		}
		n := sink.await(t, "survey dialog", func(n *liveperson.Notification) bool {
			return len(n.Conversations) > 0 && n.Conversations[0].Details.ActiveDialog() != nil &&
				n.Conversations[0].Details.ActiveDialog().DialogType == "POST_SURVEY"
		})
		survey := conv
		survey.DialogID = n.Conversations[0].Details.ActiveDialog().DialogID
		if _, err := c.PublishText(ctx, survey, "5"); err != nil {
			t.Fatalf("answer on the survey dialog: %v", err)
		}
		if err := c.SubmitCSAT(ctx, survey, liveperson.CSAT{Rate: 5, Resolved: true}); err != nil {
			t.Fatalf("SubmitCSAT: %v", err)
		}
		if err := c.CloseConversation(ctx, survey); err != nil {
			t.Fatalf("CloseConversation: %v", err)
		}
		snap, _ := emu.Conversation(conv.ConversationID)
		if snap.State != "CLOSE" || snap.CSAT == nil || snap.CSAT.CSATRate != 5 || !snap.CSAT.CSATResolutionConfirmation {
			t.Errorf("after close: state %s csat %+v", snap.State, snap.CSAT)
		}
		sink.await(t, "conversation closed", func(n *liveperson.Notification) bool {
			return len(n.Conversations) > 0 && n.Conversations[0].Details.Closed()
		})
	})

	t.Run("sending into the closed conversation", func(t *testing.T) {
		_, err := c.PublishText(ctx, conv, "anyone?")
		if !errors.Is(err, liveperson.ErrConversationClosed) {
			t.Fatalf("err = %v, want ErrConversationClosed", err)
		}
		var ae *liveperson.APIError
		if !errors.As(err, &ae) || ae.Attempts != 1 {
			t.Errorf("closed conversation must not be retried: %+v", ae)
		}
	})

	t.Run("a new conversation after close", func(t *testing.T) {
		if _, err := c.CreateConversation(ctx, liveperson.ConversationRequest{ExtConsumerID: "telegram:1001"}); err != nil {
			t.Fatal(err)
		}
	})

	if n := sink.rejected.Load(); n != 0 {
		t.Errorf("%d emulator webhooks failed verification", n)
	}
}

func hasEvent(emu *liveengage.Emulator, id, fragment string) bool {
	snap, _ := emu.Conversation(id)
	for _, e := range snap.Events {
		if bytes.Contains(e.Event, []byte(fragment)) {
			return true
		}
	}
	return false
}

func hasEventMetadata(emu *liveengage.Emulator, id, fragment string) bool {
	snap, _ := emu.Conversation(id)
	for _, e := range snap.Events {
		if bytes.Contains(e.Metadata, []byte(fragment)) {
			return true
		}
	}
	return false
}

func TestEmulatorColdStartOneTokenFetch(t *testing.T) {
	_, url := newEmulator(t, liveengage.Options{})
	rt := newCountingRT()
	c := newClient(t, url, rt, nil)
	ctx := context.Background()

	// 100 goroutines, 100 consumers, nothing cached.
	convs := make([]liveperson.Conversation, 100)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			var err error
			convs[i], err = c.CreateConversation(ctx, liveperson.ConversationRequest{ExtConsumerID: fmt.Sprintf("cold:%d", i)})
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
	for ep, want := range map[string]int{"domain": 1, "appjwt": 1, "idp": 100, "conversation": 100} {
		if got := rt.count(ep); got != want {
			t.Errorf("%s requests = %d, want %d", ep, got, want)
		}
	}

	// A second cold client: 100 goroutines publishing for 10 consumers
	// fetch one AppJWT and one JWS per consumer.
	rt2 := newCountingRT()
	c2 := newClient(t, url, rt2, nil)
	errs = make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			_, err := c2.PublishText(ctx, convs[i%10], "hello")
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
	for ep, want := range map[string]int{"domain": 1, "appjwt": 1, "idp": 10, "send": 100} {
		if got := rt2.count(ep); got != want {
			t.Errorf("second client: %s requests = %d, want %d", ep, got, want)
		}
	}
}

func TestEmulatorTokensExpiringUnderSteadyTraffic(t *testing.T) {
	emu, url := newEmulator(t, liveengage.Options{TokenTTL: 3 * time.Second})
	rt := newCountingRT()
	var unauthorized atomic.Int64
	rt.after = func(_ string, st int) {
		if st == http.StatusUnauthorized {
			unauthorized.Add(1)
		}
	}
	c := newClient(t, url, rt, nil)
	ctx := context.Background()
	const workers = 4
	convs := make([]liveperson.Conversation, workers)
	for i := range convs {
		var err error
		if convs[i], err = c.CreateConversation(ctx, liveperson.ConversationRequest{ExtConsumerID: fmt.Sprintf("steady:%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Steady traffic for a little over two token lifetimes; halfway through
	// every token is also revoked server-side (40102 path).
	const run = 7 * time.Second
	stop := time.Now().Add(run)
	time.AfterFunc(run/2, emu.ExpireTokens)
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; i < 100000 && time.Now().Before(stop); i++ { // bounded
				if _, err := c.PublishText(ctx, convs[w], fmt.Sprintf("msg %d", i)); err != nil {
					failed.Add(1)
					t.Errorf("worker %d message %d: %v", w, i, err)
					return
				}
				sent.Add(1)
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	// Every success is in the emulator: nothing was lost behind a 401.
	total := 0
	for _, cv := range convs {
		snap, _ := emu.Conversation(cv.ConversationID)
		total += len(snap.Messages)
	}
	if int64(total) != sent.Load() {
		t.Errorf("emulator holds %d messages, client sent %d", total, sent.Load())
	}
	// 7 s of 3 s tokens: the initial fetch, at least one renewal ahead of
	// expiry, and one after the revocation.
	if got := rt.count("appjwt"); got < 3 {
		t.Errorf("appjwt fetches = %d, want >= 3", got)
	}
	t.Logf("sent %d messages, %d appjwt fetches, %d 401 answers (each renewed and retried)", sent.Load(), rt.count("appjwt"), unauthorized.Load())
}

func TestEmulatorStorms(t *testing.T) {
	t.Run("random 429 and 5xx storm loses nothing", func(t *testing.T) {
		emu, url := newEmulator(t, liveengage.Options{})
		reg := prometheus.NewRegistry()
		c := newClient(t, url, nil, func(cfg *liveperson.Config) { cfg.Metrics = reg })
		ctx := context.Background()
		const consumers, perConsumer = 10, 10
		convs := make([]liveperson.Conversation, consumers)
		if err := emu.SetFaults(liveengage.Faults{Endpoints: map[string]liveengage.EndpointFaults{
			liveengage.EndpointAll:  {Rate429: 0.25, Rate5xx: 0.25, Status5xx: 502},
			liveengage.EndpointSend: {Rate429: 0.3, Rate5xx: 0.3, Status5xx: 503},
		}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range consumers {
			wg.Go(func() {
				var err error
				convs[i], err = c.CreateConversation(ctx, liveperson.ConversationRequest{ExtConsumerID: fmt.Sprintf("storm:%d", i)})
				if err != nil {
					t.Errorf("create %d: %v", i, err)
					return
				}
				for j := range perConsumer {
					if _, err := c.PublishText(ctx, convs[i], fmt.Sprintf("m%d", j)); err != nil {
						t.Errorf("publish %d/%d: %v", i, j, err)
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for i, cv := range convs {
			snap, _ := emu.Conversation(cv.ConversationID)
			if len(snap.Messages) != perConsumer {
				t.Fatalf("conversation %d holds %d messages, want %d", i, len(snap.Messages), perConsumer)
			}
			for j, m := range snap.Messages {
				if m.Text != fmt.Sprintf("m%d", j) {
					t.Errorf("conversation %d message %d = %q (order or duplicate problem)", i, j, m.Text)
				}
			}
		}
		rl := metricSum(t, reg, "leconnect_liveperson_retries_total", "reason", "rate_limited")
		se := metricSum(t, reg, "leconnect_liveperson_retries_total", "reason", "server_error")
		if rl == 0 || se == 0 {
			t.Errorf("retries counted: rate_limited %v, server_error %v; want both > 0", rl, se)
		}
		t.Logf("storm retries: rate_limited %v, server_error %v", rl, se)
	})

	t.Run("5xx outage into the outer backoff, then recovery", func(t *testing.T) {
		emu, url := newEmulator(t, liveengage.Options{})
		rt := newCountingRT()
		c := newClient(t, url, rt, func(cfg *liveperson.Config) { cfg.Retry.OuterRetries = 3 })
		conv, err := c.CreateConversation(context.Background(), liveperson.ConversationRequest{ExtConsumerID: "outage"})
		if err != nil {
			t.Fatal(err)
		}
		outage := liveengage.Faults{Endpoints: map[string]liveengage.EndpointFaults{liveengage.EndpointSend: {Rate5xx: 1, Status5xx: 500}}}
		if err := emu.SetFaults(outage); err != nil {
			t.Fatal(err)
		}
		// Heal after the 3 inner retries and 2 outer ones have failed.
		var fails atomic.Int64
		rt.after = func(ep string, st int) {
			if ep == "send" && st == 500 && fails.Add(1) == 6 {
				_ = emu.SetFaults(liveengage.Faults{})
			}
		}
		if _, err := c.PublishText(context.Background(), conv, "survives"); err != nil {
			t.Fatalf("PublishText: %v", err)
		}
		if got := rt.count("send"); got != 7 {
			t.Errorf("send attempts = %d, want 7 (1 + 3 inner + 2 outer failures, then success)", got)
		}
	})

	t.Run("5xx past the whole policy surfaces ErrServerError", func(t *testing.T) {
		emu, url := newEmulator(t, liveengage.Options{})
		rt := newCountingRT()
		c := newClient(t, url, rt, func(cfg *liveperson.Config) { cfg.Retry.OuterRetries = 2 })
		conv, err := c.CreateConversation(context.Background(), liveperson.ConversationRequest{ExtConsumerID: "down"})
		if err != nil {
			t.Fatal(err)
		}
		if err := emu.SetFaults(liveengage.Faults{Endpoints: map[string]liveengage.EndpointFaults{liveengage.EndpointSend: {Rate5xx: 1, Status5xx: 504}}}); err != nil {
			t.Fatal(err)
		}
		_, err = c.PublishText(context.Background(), conv, "lost?")
		var ae *liveperson.APIError
		if !errors.Is(err, liveperson.ErrServerError) || !errors.As(err, &ae) || ae.StatusCode != 504 || ae.ErrorCode != 50401 {
			t.Fatalf("err = %v", err)
		}
		if got := rt.count("send"); got != 6 {
			t.Errorf("send attempts = %d, want 6", got)
		}
	})

	t.Run("429 burst then recovery, no 5xx budget used", func(t *testing.T) {
		emu, url := newEmulator(t, liveengage.Options{})
		rt := newCountingRT()
		reg := prometheus.NewRegistry()
		c := newClient(t, url, rt, func(cfg *liveperson.Config) { cfg.Metrics = reg })
		conv, err := c.CreateConversation(context.Background(), liveperson.ConversationRequest{ExtConsumerID: "burst"})
		if err != nil {
			t.Fatal(err)
		}
		if err := emu.SetFaults(liveengage.Faults{Endpoints: map[string]liveengage.EndpointFaults{liveengage.EndpointSend: {Rate429: 1}}}); err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		rt.after = func(ep string, st int) {
			if ep == "send" && st == 429 && n.Add(1) == 8 {
				_ = emu.SetFaults(liveengage.Faults{})
			}
		}
		if _, err := c.PublishText(context.Background(), conv, "patience"); err != nil {
			t.Fatalf("PublishText: %v", err)
		}
		if got := metricSum(t, reg, "leconnect_liveperson_retries_total", "reason", "rate_limited"); got != 8 {
			t.Errorf("rate_limited retries = %v, want 8", got)
		}
		if got := metricSum(t, reg, "leconnect_liveperson_retries_total", "reason", "server_error"); got != 0 {
			t.Errorf("server_error retries = %v, want 0", got)
		}
	})

	t.Run("other 4xx is not retried", func(t *testing.T) {
		_, url := newEmulator(t, liveengage.Options{})
		rt := newCountingRT()
		c := newClient(t, url, rt, nil)
		_, err := c.PublishText(context.Background(), liveperson.Conversation{ExtConsumerID: "x", ConversationID: "no-such-conversation"}, "hi")
		if !errors.Is(err, liveperson.ErrBadRequest) {
			t.Fatalf("err = %v, want ErrBadRequest", err)
		}
		if got := rt.count("send"); got != 1 {
			t.Errorf("send attempts = %d, want 1", got)
		}
	})
}

func metricSum(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
