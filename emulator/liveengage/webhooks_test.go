package liveengage

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// hook is one webhook request as the receiver saw it.
type hook struct {
	header http.Header
	body   []byte
	status int // what the receiver answered
}

func (h hook) conversationID(t testing.TB) string {
	var b struct {
		Body struct {
			Changes []struct {
				ConversationID string `json:"conversationId"`
				Result         struct {
					ConvID string `json:"convId"`
				} `json:"result"`
			} `json:"changes"`
		} `json:"body"`
	}
	mustJSON(t, h.body, &b)
	if b.Body.Changes[0].ConversationID != "" {
		return b.Body.Changes[0].ConversationID
	}
	return b.Body.Changes[0].Result.ConvID
}

// eventType is body.changes[0].event.type, or "cqm" for conversation changes.
func (h hook) eventType(t testing.TB) string {
	var b struct {
		Type string `json:"type"`
		Body struct {
			Changes []struct {
				Event struct {
					Type string `json:"type"`
				} `json:"event"`
			} `json:"changes"`
		} `json:"body"`
	}
	mustJSON(t, h.body, &b)
	if b.Type == "cqm.ExConversationChangeNotification" {
		return "cqm"
	}
	return b.Body.Changes[0].Event.Type
}

func (h hook) sequence(t testing.TB) int {
	var b struct {
		Body struct {
			Changes []struct {
				Sequence *int `json:"sequence"`
			} `json:"changes"`
		} `json:"body"`
	}
	mustJSON(t, h.body, &b)
	if b.Body.Changes[0].Sequence == nil {
		return -1
	}
	return *b.Body.Changes[0].Sequence
}

// receiver is a local webhook endpoint whose answers the test controls.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	all    []hook
	answer func(n int, body []byte) int // n counts requests from 1
	n      atomic.Int64
	gate   chan struct{}
}

func newReceiver(t testing.TB, answer func(n int, body []byte) int) *receiver {
	return newGatedReceiver(t, answer, nil)
}

// newGatedReceiver holds every request until gate is closed (nil = never).
func newGatedReceiver(t testing.TB, answer func(n int, body []byte) int, gate chan struct{}) *receiver {
	rc := &receiver{t: t, answer: answer, gate: gate}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc.gate != nil {
			<-rc.gate
		}
		body, _ := io.ReadAll(r.Body)
		status := 200
		if rc.answer != nil {
			status = rc.answer(int(rc.n.Add(1)), body)
		}
		rc.mu.Lock()
		rc.all = append(rc.all, hook{r.Header.Clone(), body, status})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) hooks() []hook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hook{}, rc.all...)
}

// accepted are the deliveries the receiver answered 200 or 201.
func (rc *receiver) accepted() []hook {
	var out []hook
	for _, h := range rc.hooks() {
		if h.status == 200 || h.status == 201 {
			out = append(out, h)
		}
	}
	return out
}

// verifySignature recomputes x-liveperson-signature independently of the
// emulator: "sha1=" + base64(HMAC-SHA1(client_secret, raw body)).
func verifySignature(t testing.TB, h hook, secret string) {
	t.Helper()
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(h.body)
	want := "sha1=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := h.header.Get("X-Liveperson-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("signature %q, want %q for body %s", got, want, h.body)
	}
}

func TestWebhookEnvelopesAndSignatures(t *testing.T) {
	rc := newReceiver(t, nil)
	h := newHarness(t, Options{
		WebhookURL:     rc.srv.URL,
		WebhookHeaders: []Header{{"NAME", "VALUE"}},
	})
	jws := h.consumerJWS("hooks")
	lp := jwtPart(t, jws, 1)["lp_consumer_id"].(string)
	body := `[{"kind":"req","id":"1","type":"userprofile.SetUserProfile","body":{}},` +
		`{"kind":"req","id":"2","type":"cm.ConsumerRequestConversation","body":{"brandId":"` + testAccount + `","skillId":"558327413","ttrDefName":"PRIORITIZED","channelType":"MESSAGING"}}]`
	r := h.do("POST", convPath, h.hdr(jws), []byte(body))
	if r.status != 200 {
		t.Fatalf("conversation: %d %s", r.status, r.body)
	}
	conv := h.emu.Conversations()[0].ID
	h.sendText(jws, conv, "Hello from Consumer")
	if err := h.emu.AgentAccept(conv); err != nil {
		t.Fatal(err)
	}
	if _, err := h.emu.AgentSend(conv, "Hello from the Agent\n"); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.AgentTyping(conv, "COMPOSING"); err != nil {
		t.Fatal(err)
	}
	chat := `{"kind":"req","id":"9","type":"ms.PublishEvent","body":{"dialogId":"` + conv + `","event":{"type":"ChatStateEvent","chatState":"ACTIVE"}}}`
	if r := h.do("POST", sendPath, h.hdr(jws), []byte(chat)); r.status != 200 {
		t.Fatalf("chat state: %d", r.status)
	}
	if _, err := h.emu.AgentRead(conv, []int{0}); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.AgentTyping(conv, "ACTIVE"); err != nil {
		t.Fatal(err)
	}
	const want = 8
	waitFor(t, "8 webhooks", func() bool { return len(rc.hooks()) >= want })
	got := rc.hooks()
	if len(got) != want {
		t.Fatalf("%d webhooks, want %d", len(got), want)
	}

	ids := []string{"body.changes[0].originatorId", "body.changes[0].originatorMetadata.id", "body.changes[0].serverTimestamp",
		"body.changes[0].conversationId", "body.changes[0].dialogId", "body.changes[0].event.message", "body.changes[0].sequence"}
	cqmVary := []string{"body.subscriptionId", "body.changes[0].result.convId", "body.changes[0].result.effectiveTTR",
		"body.changes[0].result.conversationDetails.participants[*].id", "body.changes[0].result.conversationDetails.dialogs[*].dialogId",
		"body.changes[0].result.conversationDetails.dialogs[*].participantsDetails[*].id",
		"body.changes[0].result.conversationDetails.dialogs[*].creationTs", "body.changes[0].result.conversationDetails.dialogs[*].metaDataLastUpdateTs",
		"body.changes[0].result.conversationDetails.startTs", "body.changes[0].result.conversationDetails.metaDataLastUpdateTs",
		"body.changes[0].result.conversationDetails.brandId", "body.changes[0].result.conversationDetails.conversationHandlerDetails.accountId"}
	agentContent := strings.ReplaceAll(string(readTestdata(t, "webhook-content-event-consumer-with-audience.json")), `"CONSUMER"`, `"ASSIGNED_AGENT"`)
	for i, tc := range []struct {
		doc  []byte
		vary []string
		role string
	}{
		{readTestdata(t, "webhook-exconversation-created-full.json"), cqmVary, ""},
		{readTestdata(t, "webhook-content-event-consumer-with-audience.json"), ids, RoleConsumer},
		{readTestdata(t, "webhook-exconversation-agent-joined-full.json"), cqmVary, ""},
		{[]byte(agentContent), ids, RoleAssignedAgent},
		{readTestdata(t, "webhook-chat-state-composing-agent-demoapp.json"), ids, RoleAssignedAgent},
		{readTestdata(t, "webhook-chat-state-active-consumer-demoapp.json"), ids, RoleConsumer},
		{readTestdata(t, "webhook-accept-status-read-agent-demoapp.json"), append(ids, "body.changes[0].event.sequenceList[*]"), RoleAssignedAgent},
		{readTestdata(t, "webhook-chat-state-active-agent.json"), append(ids, "+body.changes[*].conversationId"), RoleAssignedAgent},
	} {
		hk := got[i]
		compareDoc(t, tc.doc, hk.body, tc.vary...)
		verifySignature(t, hk, testSecret)
		if a, c := hk.header.Get("X-Liveperson-Account-Id"), hk.header.Get("X-Liveperson-Client-Id"); a != testAccount || c != testClient {
			t.Errorf("webhook %d: account/client headers %q/%q", i, a, c)
		}
		if hk.header.Get("NAME") != "VALUE" {
			t.Errorf("webhook %d: custom header missing", i)
		}
		if hk.conversationID(t) != conv {
			t.Errorf("webhook %d: conversation %s", i, hk.conversationID(t))
		}
		var m struct {
			Body struct {
				Changes []struct {
					OriginatorID string             `json:"originatorId"`
					Meta         originatorMetadata `json:"originatorMetadata"`
					Result       struct {
						EffectiveTTR int64               `json:"effectiveTTR"`
						Details      conversationDetails `json:"conversationDetails"`
					} `json:"result"`
				} `json:"changes"`
			} `json:"body"`
		}
		mustJSON(t, hk.body, &m)
		ch := m.Body.Changes[0]
		switch tc.role {
		case RoleConsumer:
			// The consumer's originatorId is its lp_consumer_id.
			if ch.OriginatorID != lp || ch.Meta.ID != lp {
				t.Errorf("webhook %d: consumer originator %q", i, ch.OriginatorID)
			}
		case RoleAssignedAgent:
			if ch.OriginatorID != h.emu.opts.AgentID {
				t.Errorf("webhook %d: agent originator %q", i, ch.OriginatorID)
			}
		default:
			d := ch.Result.Details
			if ch.Result.EffectiveTTR != d.StartTs+600_000 || d.Participants[0].ID != lp || d.Dialogs[0].DialogID != conv || d.BrandID != testAccount {
				t.Errorf("webhook %d: details %+v", i, d)
			}
		}
	}
}

// TestWebhookCountMode: max_retries at 30 s (scaled), each event retried on
// its own, and only 200/201 count as success.
// TestWebhookOlderExamples compares the same deliveries with the 2018
// examples, which predate conversationId, messageAudience and the fuller
// ExConversationChangeNotification; those newer fields are allowed extras.
func TestWebhookOlderExamples(t *testing.T) {
	rc := newReceiver(t, nil)
	h := newHarness(t, Options{WebhookURL: rc.srv.URL})
	jws := h.consumerJWS("old")
	body := `[{"kind":"req","id":"1","type":"userprofile.SetUserProfile","body":{}},` +
		`{"kind":"req","id":"2","type":"cm.ConsumerRequestConversation","body":{"brandId":"` + testAccount + `","ttrDefName":"PRIORITIZED"}}]`
	if r := h.do("POST", convPath, h.hdr(jws), []byte(body)); r.status != 200 {
		t.Fatalf("conversation: %d %s", r.status, r.body)
	}
	conv := h.emu.Conversations()[0].ID
	h.sendText(jws, conv, "Hello from Consumer")
	if _, err := h.emu.AgentSend(conv, "Hello from the Agent\n"); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.AgentTyping(conv, "COMPOSING"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.emu.AgentRead(conv, []int{0}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "6 webhooks", func() bool { return len(rc.hooks()) >= 6 })
	got := rc.hooks()
	msg := []string{"body.changes[0].originatorId", "body.changes[0].originatorMetadata.id", "body.changes[0].serverTimestamp",
		"body.changes[0].dialogId", "body.changes[0].sequence", "+body.changes[*].conversationId", "+body.changes[*].messageAudience"}
	details := "body.changes[0].result.conversationDetails."
	cqm := []string{"body.changes[0].result.convId", details + "participants[*].id", details + "participants[*].role",
		details + "startTs", details + "metaDataLastUpdateTs", "+body.subscriptionId", "+body.changes[*].result.effectiveTTR",
		"+" + details + "skillId", "+" + details + "dialogs", "+" + details + "stage", "+" + details + "conversationHandlerDetails"}
	for i, tc := range []struct {
		doc  string
		vary []string
	}{
		{"webhook-exconversation-created-minimal.json", cqm},
		{"webhook-content-event-consumer.json", msg},
		{"webhook-exconversation-agent-assigned-minimal.json", cqm},
		{"webhook-content-event-agent.json", msg},
		{"webhook-chat-state-composing-agent.json", msg},
		{"webhook-accept-status-read-agent.json", append(msg, "body.changes[0].event.sequenceList[*]")},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			compareDoc(t, readTestdata(t, tc.doc), got[i].body, tc.vary...)
			verifySignature(t, got[i], testSecret)
		})
	}
	// The assigned-agent example lists the agent first; roles, not order, matter.
	var m struct {
		Body struct {
			Changes []exChange `json:"changes"`
		} `json:"body"`
	}
	mustJSON(t, got[2].body, &m)
	roles := map[string]bool{}
	for _, p := range m.Body.Changes[0].Result.ConversationDetails.Participants {
		roles[p.Role] = true
	}
	if len(roles) != 2 || !roles[RoleConsumer] || !roles[RoleAssignedAgent] {
		t.Errorf("participants %+v", m.Body.Changes[0].Result.ConversationDetails.Participants)
	}
}

func TestWebhookCountMode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxRetries int
		failFirst  int // attempts of every event that fail
		failWith   int
		wantTries  int // per event
		delivered  bool
	}{
		{"retried until accepted", 3, 2, 500, 3, true},
		{"202 is a failure", 2, 1, 202, 2, true},
		{"exhausted retries drop the event", 1, 99, 503, 2, false},
		{"max_retries 0 drops at once", 0, 99, 500, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			tries := map[string]int{}
			rc := newReceiver(t, func(_ int, body []byte) int {
				mu.Lock()
				defer mu.Unlock()
				tries[string(body)]++
				if tries[string(body)] <= tc.failFirst {
					return tc.failWith
				}
				return 200
			})
			h := newHarness(t, Options{
				Webhooks:   map[string]WebhookEndpoint{NotificationContentEvent: {URL: rc.srv.URL}},
				MaxRetries: tc.maxRetries,
				TimeScale:  0.001,
			})
			jws := h.consumerJWS("count")
			conv := h.open(jws)
			for i := 0; i < 3; i++ {
				h.sendText(jws, conv, "m"+string(rune('0'+i)))
			}
			waitFor(t, "all attempts", func() bool {
				st := h.emu.WebhookStatus()
				return st.Delivered+st.Failed == int64(3*tc.wantTries) && (tc.delivered || st.Dropped == 3)
			})
			mu.Lock()
			defer mu.Unlock()
			if len(tries) != 3 {
				t.Fatalf("%d distinct events, want 3", len(tries))
			}
			for body, n := range tries {
				if n != tc.wantTries {
					t.Errorf("%d attempts, want %d for %s", n, tc.wantTries, body)
				}
			}
			for _, hk := range rc.hooks() {
				verifySignature(t, hk, testSecret)
			}
			st := h.emu.WebhookStatus()
			if tc.delivered && st.Delivered != 3 {
				t.Errorf("delivered %d, want 3", st.Delivered)
			}
			if !tc.delivered && (st.Delivered != 0 || st.Dropped != 3) {
				t.Errorf("delivered %d dropped %d", st.Delivered, st.Dropped)
			}
		})
	}
}

// TestWebhookTTLMode: while the endpoint is down, events of every
// conversation are stored; afterwards they arrive exactly once each and in
// order within every conversation.
func TestWebhookTTLMode(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	rc := newReceiver(t, func(_ int, _ []byte) int {
		if down.Load() {
			return 503
		}
		return 200
	})
	h := newHarness(t, Options{WebhookURL: rc.srv.URL, RetentionTime: 60e9, TimeScale: 0.002, WebhookWorkers: 4})
	const convs, msgs = 4, 6
	ids := make([]string, convs)
	jwss := make([]string, convs)
	for i := range ids {
		jwss[i] = h.consumerJWS("ttl-" + string(rune('a'+i)))
		ids[i] = h.open(jwss[i])
	}
	for m := 0; m < msgs; m++ {
		for i := range ids {
			if m%2 == 0 {
				h.sendText(jwss[i], ids[i], "consumer")
			} else if _, err := h.emu.AgentSend(ids[i], "agent"); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "app install FAILED with stored events", func() bool {
		st := h.emu.WebhookStatus()
		return st.State == StateFailed && st.Stored > 0 && st.Queued == 0
	})
	if st := h.emu.WebhookStatus(); st.Mode != "ttl" || st.Delivered != 0 {
		t.Fatalf("status %+v", st)
	}
	down.Store(false)
	// Per conversation: created, consumer 0, joined (first agent message),
	// then the remaining messages.
	perConv := 1 + 1 + msgs
	waitFor(t, "every stored event delivered", func() bool { return len(rc.accepted()) == convs*perConv })
	waitFor(t, "app install UP", func() bool { return h.emu.WebhookStatus().State == StateUp })

	got := map[string][]string{}
	for _, hk := range rc.accepted() {
		verifySignature(t, hk, testSecret)
		c := hk.conversationID(t)
		ev := hk.eventType(t)
		if ev != "cqm" {
			ev = ev + "#" + itoa(hk.sequence(t))
		}
		got[c] = append(got[c], ev)
	}
	for i, c := range ids {
		want := []string{"cqm", "ContentEvent#0", "cqm"}
		for m := 1; m < msgs; m++ {
			want = append(want, "ContentEvent#"+itoa(m))
		}
		if strings.Join(got[c], ",") != strings.Join(want, ",") {
			t.Errorf("conversation %d order:\n got  %v\n want %v", i, got[c], want)
		}
	}
	if st := h.emu.WebhookStatus(); st.Stored != 0 || st.Dropped != 0 {
		t.Errorf("after recovery: %+v", st)
	}
	// Healthy again: new events go straight through.
	h.sendText(jwss[0], ids[0], "after")
	waitFor(t, "direct delivery", func() bool { return len(rc.accepted()) == convs*perConv+1 })
}

// TestWebhookTTLMaxRetriesZero: with a retention time, a webhook whose
// max_retries is 0 does not fail the app; its failed events are dropped.
func TestWebhookTTLMaxRetriesZero(t *testing.T) {
	zero := 0
	fail := newReceiver(t, func(int, []byte) int { return 500 })
	ok := newReceiver(t, nil)
	h := newHarness(t, Options{
		WebhookURL:    ok.srv.URL,
		Webhooks:      map[string]WebhookEndpoint{NotificationChatStateEvent: {URL: fail.srv.URL, MaxRetries: &zero}},
		RetentionTime: 60e9, TimeScale: 0.001,
	})
	jws := h.consumerJWS("zero")
	conv := h.open(jws)
	if err := h.emu.AgentTyping(conv, "COMPOSING"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "chat state dropped", func() bool { return h.emu.WebhookStatus().Dropped == 1 })
	h.sendText(jws, conv, "still flowing")
	// created, agent joined (typing joins the agent first), content.
	waitFor(t, "content delivered", func() bool { return len(ok.accepted()) == 3 })
	if st := h.emu.WebhookStatus(); st.State != StateUp || st.Stored != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestWebhookFaults(t *testing.T) {
	t.Run("drop", func(t *testing.T) {
		rc := newReceiver(t, nil)
		h := newHarness(t, Options{WebhookURL: rc.srv.URL})
		if err := h.emu.SetFaults(Faults{Webhooks: WebhookFaults{DropRate: 1}}); err != nil {
			t.Fatal(err)
		}
		jws := h.consumerJWS("drop")
		conv := h.open(jws)
		h.sendText(jws, conv, "lost")
		waitFor(t, "2 drops", func() bool { return h.emu.WebhookStatus().Dropped == 2 })
		if n := len(rc.hooks()); n != 0 {
			t.Errorf("%d deliveries, want 0", n)
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		rc := newReceiver(t, nil)
		h := newHarness(t, Options{WebhookURL: rc.srv.URL})
		if err := h.emu.SetFaults(Faults{Webhooks: WebhookFaults{DuplicateRate: 1}}); err != nil {
			t.Fatal(err)
		}
		jws := h.consumerJWS("dup")
		conv := h.open(jws)
		h.sendText(jws, conv, "twice")
		waitFor(t, "4 deliveries", func() bool { return len(rc.hooks()) == 4 })
		count := map[string]int{}
		for _, hk := range rc.hooks() {
			verifySignature(t, hk, testSecret)
			count[string(hk.body)]++
		}
		for b, n := range count {
			if n != 2 {
				t.Errorf("%d copies of %s", n, b)
			}
		}
	})
	t.Run("reorder", func(t *testing.T) {
		gate := make(chan struct{})
		rc := newGatedReceiver(t, nil, gate)
		h := newHarness(t, Options{Webhooks: map[string]WebhookEndpoint{NotificationContentEvent: {URL: rc.srv.URL}}, WebhookWorkers: 1})
		if err := h.emu.SetFaults(Faults{Webhooks: WebhookFaults{ReorderRate: 1}}); err != nil {
			t.Fatal(err)
		}
		jws := h.consumerJWS("reorder")
		conv := h.open(jws)
		for i := 0; i < 4; i++ {
			h.sendText(jws, conv, "m")
		}
		close(gate)
		waitFor(t, "4 deliveries", func() bool { return len(rc.hooks()) == 4 })
		var seqs []int
		for _, hk := range rc.hooks() {
			seqs = append(seqs, hk.sequence(t))
		}
		if sort.IntsAreSorted(seqs) {
			t.Errorf("sequences %v arrived in order despite reordering", seqs)
		}
		sorted := append([]int{}, seqs...)
		sort.Ints(sorted)
		for i, s := range sorted {
			if s != i {
				t.Fatalf("sequences %v are not a permutation of 0..3", seqs)
			}
		}
	})
}

func TestSignatureVariants(t *testing.T) {
	body := []byte(`{"kind":"notification","body":{"changes":[]},"type":"ms.MessagingEventNotification"}`)
	for _, tc := range []struct{ alg, enc string }{{"sha1", "base64"}, {"sha256", "base64"}, {"sha1", "hex"}, {"sha256", "hex"}} {
		t.Run(tc.alg+"/"+tc.enc, func(t *testing.T) {
			e, err := New(Options{AccountID: "a", ClientID: "c", ClientSecret: "s3cr3t", SignatureAlgorithm: tc.alg, SignatureEncoding: tc.enc, SigningKey: sharedKey(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			var mac []byte
			if tc.alg == "sha1" {
				m := hmac.New(sha1.New, []byte("s3cr3t"))
				m.Write(body)
				mac = m.Sum(nil)
			} else {
				m := hmac.New(sha256.New, []byte("s3cr3t"))
				m.Write(body)
				mac = m.Sum(nil)
			}
			want := tc.alg + "=" + base64.StdEncoding.EncodeToString(mac)
			if tc.enc == "hex" {
				want = tc.alg + "=" + hex.EncodeToString(mac)
			}
			if got := e.signature(body); got != want {
				t.Errorf("signature %q, want %q", got, want)
			}
		})
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// A conversation the agent closed reads as in LivePerson's example of a
// closed conversation: the dialog closedBy AGENT, effectiveTTR -1.
func TestClosedConversationNotification(t *testing.T) {
	rc := newReceiver(t, nil)
	h := newHarness(t, Options{WebhookURL: rc.srv.URL})
	jws := h.consumerJWS("closing")
	conv := h.open(jws)
	if err := h.emu.AgentClose(conv, false); err != nil {
		t.Fatal(err)
	}
	var last struct {
		Body struct {
			Changes []struct {
				Result struct {
					EffectiveTTR *int64              `json:"effectiveTTR"`
					Details      conversationDetails `json:"conversationDetails"`
				} `json:"result"`
			} `json:"changes"`
		} `json:"body"`
	}
	waitFor(t, "the close notification", func() bool {
		for _, hk := range rc.hooks() {
			if strings.Contains(string(hk.body), `"stage":"CLOSE"`) {
				mustJSON(t, hk.body, &last)
				return true
			}
		}
		return false
	})
	r := last.Body.Changes[0].Result
	if r.EffectiveTTR == nil || *r.EffectiveTTR != -1 || r.Details.Dialogs[0].ClosedBy != "AGENT" || r.Details.CloseReason != "AGENT" {
		t.Fatalf("closed conversation: effectiveTTR %v, details %+v", r.EffectiveTTR, r.Details)
	}
}
