package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store/pgstore/pgtest"
	"github.com/leconnect/leconnect/emulator/liveengage"
	smsemu "github.com/leconnect/leconnect/emulator/sms"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo"
)

// Bad LiveEngage webhooks are refused with the right status, store nothing,
// crash nothing, and leave one log line with the reason.
func TestBadLiveEngageWebhooks(t *testing.T) {
	e := newEnv(t, envOptions{Channel: "echo"})
	body, err := os.ReadFile("../emulator/liveengage/testdata/webhook-content-event-agent.json")
	if err != nil {
		t.Fatal(err)
	}
	headers := func(sig string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "X-Liveperson-Account-Id": {accountID}, "X-Liveperson-Client-Id": {clientID}}
		if sig != "" {
			h.Set("X-Liveperson-Signature", sig)
		}
		return h
	}
	huge := append([]byte(`{"kind":"notification","pad":"`), append([]byte(strings.Repeat("x", 2<<20)), `"}`...)...)
	tests := []struct {
		name       string
		body       []byte
		header     http.Header
		wantStatus int
	}{
		{"unsigned", body, headers(""), 401},
		{"tampered", body, headers(liveperson.Sign(clientSecret, append([]byte(nil), body[:len(body)-2]...))), 401},
		{"wrong secret", body, headers(liveperson.Sign("not-the-secret", body)), 401},
		{"wrong account", body, func() http.Header {
			h := headers(liveperson.Sign(clientSecret, body))
			h.Set("X-Liveperson-Account-Id", "999")
			return h
		}(), 401},
		{"oversized", huge, headers(liveperson.Sign(clientSecret, huge)), 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metric(e, `leconnect_events_accepted_total{channel="liveengage",queue="outbound"}`)
			logBefore := strings.Count(e.logs.String(), "liveengage webhook refused")
			status, _ := e.post("/webhooks/liveperson", tt.header, string(tt.body))
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d", status, tt.wantStatus)
			}
			if after := metric(e, `leconnect_events_accepted_total{channel="liveengage",queue="outbound"}`); after != before {
				t.Fatalf("a refused webhook was stored (%v → %v)", before, after)
			}
			e.waitFor("the log line", func() bool {
				return strings.Count(e.logs.String(), "liveengage webhook refused") == logBefore+1
			})
			if res, err := http.Get(e.coreURL + "/healthz"); err != nil || res.StatusCode != 200 {
				t.Fatalf("the core is not healthy after a bad webhook: %v", err)
			}
		})
	}
	// The same body, signed, is accepted (it names a conversation leconnect
	// did not open, which is then ignored and counted).
	status, _ := e.post("/webhooks/liveperson", headers(liveperson.Sign(clientSecret, body)), string(body))
	if status != http.StatusOK {
		t.Fatalf("a valid webhook was answered %d", status)
	}
	e.waitFor("the unowned notification to be counted", func() bool { return metric(e, "leconnect_notifications_unowned_total") == 1 })
}

// A signed notification leconnect cannot act on (not JSON, a change of a
// shape it does not know, an agent event of an unknown type) is answered
// 200 (LiveEngage's retry policy would otherwise hold every conversation's
// events), counted, and kept in the dead-letter list with its reason and
// the raw change; another conversation keeps flowing meanwhile.
func TestNotificationsLeconnectCannotActOnAreAnswered200AndKept(t *testing.T) {
	e := newEnv(t, envOptions{Channel: "echo"})
	u := &echoUser{e: e, user: "zoe", chat: "chat-zoe"}
	u.send(echo.Inbound{Text: "Hello before the odd notifications"})
	conv := e.conversation("zoe's conversation", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Hello before the odd notifications"
	})
	signed := func(body string) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "X-Liveperson-Account-Id": {accountID},
			"X-Liveperson-Client-Id": {clientID}, "X-Liveperson-Signature": {liveperson.Sign(clientSecret, []byte(body))}}
	}
	odd := []string{
		`{"kind":"notification","body":{"changes":[`,
		`{"kind":"notification","type":"cqm.SomethingNew","body":{"changes":[{"unheardOf":{"shape":true}}]}}`,
		`{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":7,"originatorId":"a1","originatorMetadata":{"id":"a1","role":"ASSIGNED_AGENT"},"serverTimestamp":1,"event":{"type":"HologramEvent","beam":"on"},"conversationId":"` + conv.ID + `","dialogId":"` + conv.ID + `"}]}}`,
		// Nested past encoding/json's depth limit (10,000): refused by the
		// decoder without a stack to match, kept like the rest.
		`{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"deep":` +
			strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}}`,
	}
	for i, body := range odd {
		if status, resp := e.post("/webhooks/liveperson", signed(body), body); status != http.StatusOK {
			t.Fatalf("odd notification %d answered %d %s; want 200", i, status, resp)
		}
	}
	e.waitFor("the odd changes counted", func() bool { return metric(e, "leconnect_notifications_unparsed_total") == 4 })
	var listed string
	e.waitFor("the odd changes in the dead-letter list", func() bool {
		out, err := exec.Command(leconnectBin, "dlq", "list", "--json", "--config", e.cfgPath).CombinedOutput()
		listed = string(out)
		return err == nil && strings.Count(listed, `"reason"`) == 4
	})
	for _, want := range []string{"unheardOf", "HologramEvent", "does not know", "malformed webhook notification", "exceeded max depth"} {
		if !strings.Contains(listed, want) {
			t.Errorf("dead-letter list does not hold %q:\n%s", want, listed)
		}
	}
	// Zoe's conversation is not held up.
	if _, err := e.le.AgentSend(conv.ID, "Still here for you."); err != nil {
		t.Fatal(err)
	}
	u.waitAction("the agent's message after the odd notifications", func(a echo.Action) bool { return a.Kind == "send" && a.Text == "Still here for you." })
}

// metric reads one sample from the core's /metrics (0 when absent); in a
// cluster, the sum over the instances that answer.
func metric(e *env, series string) float64 {
	e.t.Helper()
	return sumMetric(metricsBodies(e), series)
}

// instanceMetric is series on instance i alone (0 when it does not answer).
func instanceMetric(e *env, i int, series string) float64 {
	e.t.Helper()
	res, err := http.Get(e.instances[i].url + "/metrics")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return sumMetric([][]byte{b}, series)
}

func sumMetric(bodies [][]byte, series string) float64 {
	var sum float64
	for _, body := range bodies {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+]+)$`).FindSubmatch(body)
		if m == nil {
			continue
		}
		var v float64
		fmt.Sscan(string(m[1]), &v)
		sum += v
	}
	return sum
}

// metricsBodies is /metrics of the core, or of every instance that answers.
func metricsBodies(e *env) [][]byte {
	e.t.Helper()
	var urls []string
	for _, in := range e.instances {
		urls = append(urls, in.url)
	}
	var out [][]byte
	for _, u := range urls {
		res, err := http.Get(u + "/metrics")
		if err != nil {
			if len(e.instances) > 1 {
				continue // a stopped instance
			}
			e.t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		out = append(out, b)
	}
	return out
}

// The core is killed with SIGKILL in the middle of 1,000 messages each way
// across 50 conversations, while LiveEngage answers some calls with 429 and
// 5xx and duplicates and reorders its webhooks. After a restart every
// message has arrived exactly once, in order, per conversation.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("long: -short skips the crash test")
	}
	trafficThroughRestart(t, traffic{users: 50, perUser: 20, faults: true, stop: syscall.SIGKILL})
}

// The crash test with the core on the PostgreSQL store.
func TestCrashSafetyOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("long: -short skips the crash test")
	}
	trafficThroughRestart(t, traffic{users: 50, perUser: 20, faults: true, stop: syscall.SIGKILL, postgresDSN: pgtest.DSN(t)})
}

// The core's PostgreSQL connections are cut three times in the middle of
// traffic (as a network fault or a server restart would): it reconnects,
// retries, and every message still arrives exactly once and in order.
func TestPostgresConnectionsCutMidTraffic(t *testing.T) {
	dsn := pgtest.DSN(t)
	trafficThroughRestart(t, traffic{users: 20, perUser: 15, postgresDSN: dsn, midway: func(e *env) {
		for range 3 {
			t.Logf("cut %d PostgreSQL connections", pgtest.CutConnections(t, dsn))
			time.Sleep(300 * time.Millisecond)
		}
	}})
}

// SIGTERM in the middle of traffic: the core drains what is in flight,
// exits cleanly, and after a restart everything arrives exactly once.
func TestGracefulShutdownUnderTraffic(t *testing.T) {
	e := trafficThroughRestart(t, traffic{users: 10, perUser: 10, stop: syscall.SIGTERM})
	if !strings.Contains(e.logs.String(), `"@message":"stopped"`) {
		t.Fatal("the core did not report a clean stop")
	}
}

// trafficThroughRestart runs users Telegram conversations of perUser
// messages each way, at about 40% runs midway (if set) and stops the core
// with sig (unless 0) and starts it again, then checks that every message
// arrived exactly once and in order.
// traffic says what trafficThroughRestart does.
type traffic struct {
	users, perUser int
	faults         bool           // LiveEngage answers some calls 429/5xx, duplicates and reorders webhooks
	stop           syscall.Signal // stops the core (every instance) midway and starts it again; 0: no stop
	postgresDSN    string         // runs on PostgreSQL
	instances      int            // several cores behind a balancer (needs postgresDSN)
	midway         func(*env)     // runs midway, before the stop
	polling        bool           // the Telegram adapter polls instead of taking webhooks
	smsUsers       int            // of the users, how many (the last ones) text over SMS (Twilio) instead of Telegram
	leaseTTL       string         // store.lease_ttl ("": the default)
}

func trafficThroughRestart(t *testing.T, tr traffic) *env {
	users, perUser, faults, sig, midway := tr.users, tr.perUser, tr.faults, tr.stop, tr.midway
	mode := "mode: webhook\n      secret_token: ${TELEGRAM_SECRET_TOKEN}"
	if tr.polling {
		mode = "mode: polling\n      poll_timeout: 1"
	}
	var sms *smsemu.Emulator
	smsYAML, smsEnv := "", []string(nil)
	if tr.smsUsers > 0 {
		var err error
		if sms, err = smsemu.New(smsemu.Options{TimeScale: 0.01}); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(sms.Handler())
		t.Cleanup(func() { srv.Close(); sms.Close() })
		sms.SetBaseURL(srv.URL)
		smsYAML = fmt.Sprintf(`
  - name: sms
    adapter: sms
    restart: {initial_backoff: 50ms, max_backoff: 200ms}
    config:
      provider: twilio
      account_sid: ${TWILIO_ACCOUNT_SID}
      auth_token: ${TWILIO_AUTH_TOKEN}
      from: "%s"
      api_base_url: %s`, smsTwilioNumber, srv.URL)
		smsEnv = []string{"TWILIO_ACCOUNT_SID=" + sms.AccountSID(), "TWILIO_AUTH_TOKEN=" + sms.AuthToken()}
	}
	e := newEnv(t, envOptions{Channel: "custom", TelegramChatRate: -1, PostgresDSN: tr.postgresDSN, Instances: tr.instances, LeaseTTL: tr.leaseTTL, Env: smsEnv, ChannelYAML: `  - name: tg
    adapter: telegram
    restart: {initial_backoff: 50ms, max_backoff: 200ms}
    config:
      bot_token: ${TELEGRAM_BOT_TOKEN}
      api_base_url: ${TELEGRAM_URL}
      ` + mode + `
      per_chat_rate: 1000
      per_chat_burst: 1000
      global_rate: 10000` + smsYAML, EnvFunc: func(e *env) []string { return []string{"TELEGRAM_URL=" + e.tgURL} }})
	if sms != nil { // the number's webhook, as set in Twilio's console: the balancer
		if err := sms.AddNumber(smsemu.Number{Provider: smsemu.Twilio, Number: smsTwilioNumber, WebhookURL: e.coreURL + "/channels/sms/webhook"}); err != nil {
			t.Fatal(err)
		}
	}
	// Users from users-smsUsers on text over SMS, the others over Telegram.
	onSMS := func(u int) bool { return u >= users-tr.smsUsers }
	phone := func(u int) string { return fmt.Sprintf("+1555010%04d", u) }
	consumerSays := func(u int, text string) error {
		if !onSMS(u) {
			_, err := e.tg.SendText(int64(1000+u), text)
			return err
		}
		sent, err := sms.PhoneSend(phone(u), smsTwilioNumber, text)
		if err == nil && (len(sent.Deliveries) != 1 || sent.Deliveries[0].StatusCode/100 != 2) {
			err = fmt.Errorf("twilio webhook for %q answered %+v", text, sent.Deliveries)
		}
		return err
	}
	consumerGot := func(u int) []string {
		var got []string
		if !onSMS(u) {
			for _, m := range e.tg.Sent(int64(1000 + u)) {
				got = append(got, m.Text)
			}
			return got
		}
		// In the order the provider's API took them: SMS does not promise
		// the handset that order (nor does the emulator, like carriers).
		for _, m := range sms.Outbound() {
			if m.To == phone(u) {
				got = append(got, m.Text)
			}
		}
		return got
	}
	if faults {
		err := e.le.SetFaults(liveengage.Faults{
			Endpoints: map[string]liveengage.EndpointFaults{
				liveengage.EndpointSend:         {Rate429: 0.03, Rate5xx: 0.03},
				liveengage.EndpointConversation: {Rate429: 0.05, Rate5xx: 0.05},
			},
			Webhooks: liveengage.WebhookFaults{DuplicateRate: 0.05, ReorderRate: 0.05},
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	var progress atomic.Int64 // messages handed to either side
	var wg sync.WaitGroup
	for u := 0; u < users; u++ {
		chat := int64(1000 + u)
		if err := e.tg.AddUser(tgemu.User{ID: chat, FirstName: fmt.Sprintf("User%d", u)}); err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() { // the consumer
			defer wg.Done()
			for i := 0; i < perUser; i++ {
				if err := consumerSays(u, fmt.Sprintf("u%d m%02d", u, i)); err != nil {
					t.Error(err)
					return
				}
				progress.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		}()
		go func() { // the agent, once the conversation exists
			defer wg.Done()
			conv := ""
			for deadline := time.Now().Add(60 * time.Second); conv == "" && time.Now().Before(deadline); {
				conv = conversationWith(e.le, fmt.Sprintf("u%d m00", u))
				time.Sleep(20 * time.Millisecond)
			}
			if conv == "" {
				t.Errorf("user %d: no conversation", u)
				return
			}
			for i := 0; i < perUser; i++ {
				if _, err := e.le.AgentSend(conv, fmt.Sprintf("u%d a%02d", u, i)); err != nil {
					t.Error(err)
					return
				}
				progress.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}

	// Stop the core mid-stream, then start it again on the same store.
	total := int64(users * perUser * 2)
	e.waitFor("traffic to be under way", func() bool { return progress.Load() >= total*2/5 })
	if midway != nil {
		midway(e)
	}
	if sig != 0 {
		exit := e.stopCore(sig)
		t.Logf("stopped the core with %v at %d of %d messages handed over (exit: %v)", sig, progress.Load(), total, exit)
		if sig == syscall.SIGTERM && exit != nil {
			t.Errorf("a graceful stop exited with %v", exit)
		}
		time.Sleep(200 * time.Millisecond)
		e.startCore()
	}
	wg.Wait()

	// Everything arrives, exactly once and in order.
	want := func(u int, kind string) string {
		out := make([]string, perUser)
		for i := range out {
			out[i] = fmt.Sprintf("u%d %s%02d", u, kind, i)
		}
		return strings.Join(out, ",")
	}
	var diff []string
	settled := func() bool {
		diff = diff[:0]
		byFirst := map[string]liveengage.Conversation{}
		for _, c := range e.le.Conversations() {
			if got := texts(c, "CONSUMER"); len(got) > 0 {
				byFirst[got[0]] = c
			}
		}
		for u := 0; u < users; u++ {
			c := byFirst[fmt.Sprintf("u%d m00", u)]
			if got := strings.Join(texts(c, "CONSUMER"), ","); got != want(u, "m") {
				diff = append(diff, fmt.Sprintf("user %d in LiveEngage: %s", u, got))
			}
			if got := strings.Join(consumerGot(u), ","); got != want(u, "a") {
				diff = append(diff, fmt.Sprintf("user %d (conversation %s) on the platform: %s", u, c.ID, got))
			}
		}
		return len(diff) == 0
	}
	deadline := time.Now().Add(90 * time.Second)
	for !settled() {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart, %d conversations differ from what was sent:\n%s", len(diff), strings.Join(diff, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("all %d messages arrived exactly once and in order; duplicates dropped: %v, echo timeouts: %v", total,
		metric(e, `leconnect_events_duplicate_total{queue="outbound"}`)+metric(e, `leconnect_events_duplicate_total{queue="inbound"}`),
		metric(e, "leconnect_echo_timeouts_total"))
	return e
}

// conversationWith finds the conversation whose first consumer message is text.
func conversationWith(le *liveengage.Emulator, text string) string {
	for _, c := range le.Conversations() {
		if got := texts(c, "CONSUMER"); len(got) > 0 && got[0] == text {
			return c.ID
		}
	}
	return ""
}
