package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo"
)

// A misbehaving third-party adapter runs beside a healthy channel: the
// daemon keeps serving, the healthy channel carries a whole conversation,
// and the bad one is contained the way its misbehaviour calls for.
func TestMisbehavingAdapterIsContained(t *testing.T) {
	tests := []struct {
		mode   string
		config string // the hostile channel's extra keys
		// check runs while the healthy conversation goes on, then after it.
		check func(t *testing.T, e *env)
	}{
		{"hang-configure", "timeouts: {configure: 300ms}", func(t *testing.T, e *env) {
			e.waitFor("/readyz naming the hung channel", func() bool {
				code, body := e.get("/readyz")
				return code == http.StatusServiceUnavailable && strings.Contains(body, "bad: configuring for")
			})
			e.waitFor("the hung adapter killed and restarted until its budget is spent", func() bool {
				_, body := e.get("/readyz")
				return strings.Contains(body, "bad: failed: adapter crashed 3 times") &&
					strings.Contains(body, "did not answer Configure within 300ms")
			})
		}},
		{"hang-send", "timeouts: {send: 300ms, max_missed: 2}", func(t *testing.T, e *env) {
			conv := e.sayOnBad("bob", "hello from a hung channel")
			if _, err := e.le.AgentSend(conv.ID, "this send hangs"); err != nil {
				t.Fatal(err)
			}
			e.waitFor("the hung adapter restarted", func() bool { return metric(e, `leconnect_adapter_restarts_total{channel="bad"}`) >= 1 })
			if !strings.Contains(e.logs.String(), "did not answer Send within 300ms") {
				t.Error("the missed deadline was not logged")
			}
		}},
		{"panic-send", "", func(t *testing.T, e *env) {
			conv := e.sayOnBad("carol", "hello from a panicking channel")
			if _, err := e.le.AgentSend(conv.ID, "this send panics"); err != nil {
				t.Fatal(err)
			}
			e.waitFor("the panic returned as an error and logged with its stack", func() bool {
				l := e.logs.String()
				return strings.Contains(l, "panic in /leconnect.adapter.v1.Adapter/Send") && strings.Contains(l, "hostile.(*Adapter).Send")
			})
			// Retried (the item waits in the store), never crashing the process.
			e.waitFor("the send retried", func() bool {
				return strings.Count(e.logs.String(), "panic in RPC handler") >= 3
			})
			if n := metric(e, `leconnect_adapter_restarts_total{channel="bad"}`); n != 0 {
				t.Fatalf("the adapter was restarted %v times; a panic must fail only its call", n)
			}
		}},
		{"oversize", `limits: {max_media_bytes: 1048576, max_in_flight_bytes: 4194304}
    config: {mode: oversize, event_bytes: 2097152, huge_bytes: 52428800, batch: true}`, func(t *testing.T, e *env) {
			for _, limit := range []string{"max_text_chars", "max_media_bytes", "max_batch_events", "max_request_bytes"} {
				e.waitFor("refusals over "+limit+" counted", func() bool {
					return metric(e, fmt.Sprintf(`leconnect_deliver_refused_total{channel="bad",limit=%q}`, limit)) >= 2
				})
			}
			if got := metric(e, `leconnect_events_accepted_total{channel="bad",queue="inbound"}`); got != 0 {
				t.Fatalf("%v events of the bad channel stored", got)
			}
			for _, c := range e.le.Conversations() {
				if got := strings.Join(texts(c, "CONSUMER"), "|"); !strings.HasSuffix(got, "on the healthy channel") {
					t.Fatalf("a conversation not from the healthy channel reached LiveEngage: %q", got)
				}
			}
		}},
		{"flood-stderr", "limits: {log_lines_per_second: 100}", func(t *testing.T, e *env) {
			began := time.Now()
			e.waitFor("flood lines in the core's log", func() bool { return floodLines(e.logs.String()) > 200 })
			time.Sleep(time.Second)
			// Since the adapter started (before began), at most the burst plus
			// the rate; a second of slack for the start.
			if n, bound := floodLines(e.logs.String()), 100+100*(time.Since(began).Seconds()+1); float64(n) > bound {
				t.Fatalf("%d flood lines mirrored; the limit allows %.0f", n, bound)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			// A case that brings its own config block replaces the plain one.
			config, extra := "config: {mode: "+tt.mode+"}", tt.config
			if strings.Contains(extra, "config:") {
				config = ""
			}
			channels := fmt.Sprintf(`  - name: echo
    adapter: echo
    path: %s
    restart: {initial_backoff: 50ms, max_backoff: 200ms}
    config:
      token: ${ECHO_TOKEN}
  - name: bad
    adapter: hostile
    path: %s
    restart: {max_crashes: 2, initial_backoff: 50ms, max_backoff: 200ms}
    %s
    %s`, echoBin, hostileBin, extra, config)
			e := newEnv(t, envOptions{Channel: "custom", ChannelYAML: channels, NotAllReady: true})

			// /healthz answers throughout.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var healthFailures []string
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					client := http.Client{Timeout: 2 * time.Second}
					res, err := client.Get(e.coreURL + "/healthz")
					if err != nil {
						healthFailures = append(healthFailures, err.Error())
						continue
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						healthFailures = append(healthFailures, res.Status)
					}
				}
			}()

			// The healthy channel carries a conversation while the bad one
			// misbehaves, and another once its containment is shown.
			healthyConversation(t, e, "alice")
			tt.check(t, e)
			healthyConversation(t, e, "dave")
			close(stop)
			wg.Wait()
			if len(healthFailures) > 0 {
				t.Fatalf("/healthz failed %d times: %v", len(healthFailures), healthFailures[:min(5, len(healthFailures))])
			}
		})
	}
}

// healthyConversation carries a conversation on the echo channel end to end.
func healthyConversation(t *testing.T, e *env, user string) {
	e.waitFor("the healthy channel ready", func() bool {
		_, body := e.get("/readyz")
		return !strings.Contains(body, "echo: ")
	})
	u := &echoUser{e: e, user: user, chat: "chat-" + user}
	text := "Hello from " + user + " on the healthy channel"
	u.send(echo.Inbound{Text: text})
	conv := e.conversation("the healthy channel's message in LiveEngage", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == text
	})
	if _, err := e.le.AgentSend(conv.ID, "Hi "+user); err != nil {
		t.Fatal(err)
	}
	u.waitAction("the agent's answer on the healthy channel", func(a echo.Action) bool { return a.Kind == "send" && a.Text == "Hi "+user })
}

// sayOnBad has a consumer on the hostile channel write, and returns their
// conversation once it is open in LiveEngage.
func (e *env) sayOnBad(user, text string) liveengage.Conversation {
	e.t.Helper()
	q := url.Values{"user": {user}, "text": {text}}
	e.waitFor("the hostile channel to take a message", func() bool {
		code, _ := e.post("/channels/bad/webhook/say?"+q.Encode(), nil, "")
		return code == http.StatusOK
	})
	return e.conversation("the hostile channel's conversation", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == text
	})
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	res, err := http.Get(e.coreURL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func floodLines(log string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "flood flood") {
			n++
		}
	}
	return n
}
