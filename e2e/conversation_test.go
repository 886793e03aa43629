package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/leconnect/leconnect/core/store/pgstore/pgtest"
	"github.com/leconnect/leconnect/emulator/liveengage"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo"
)

// echoUser drives the echo adapter's "platform": its webhook on the core.
type echoUser struct {
	e    *env
	user string
	chat string
	n    int
}

func (u *echoUser) send(in echo.Inbound) {
	u.e.t.Helper()
	u.n++
	if in.ID == "" {
		in.ID = fmt.Sprintf("%s-%d", u.user, u.n)
	}
	in.User, in.Chat = u.user, u.chat
	body, _ := json.Marshal(in)
	status, resp := u.e.post("/channels/echo/webhook", http.Header{"X-Echo-Token": {echoToken}}, string(body))
	if status != http.StatusOK {
		u.e.t.Fatalf("echo webhook = %d %s", status, resp)
	}
}

// actions lists what the core asked the echo adapter to do.
func (u *echoUser) actions() []echo.Action {
	u.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u.e.coreURL+"/channels/echo/webhook/sent", nil)
	req.Header.Set("X-Echo-Token", echoToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		u.e.t.Fatal(err)
	}
	defer res.Body.Close()
	var acts []echo.Action
	if err := json.NewDecoder(res.Body).Decode(&acts); err != nil {
		u.e.t.Fatal(err)
	}
	return acts
}

func (u *echoUser) waitAction(what string, match func(echo.Action) bool) echo.Action {
	u.e.t.Helper()
	var found echo.Action
	defer func() {
		if u.e.t.Failed() {
			u.e.t.Logf("echo adapter actions: %+v", u.actions())
		}
	}()
	u.e.waitFor(what, func() bool {
		for _, a := range u.actions() {
			if a.ChatID == u.chat && match(a) {
				found = a
				return true
			}
		}
		return false
	})
	return found
}

// conversation waits for the consumer's conversation in the emulator to
// satisfy cond.
func (e *env) conversation(what string, cond func(liveengage.Conversation) bool) liveengage.Conversation {
	e.t.Helper()
	var found liveengage.Conversation
	defer func() {
		if e.t.Failed() {
			for _, c := range e.le.Conversations() {
				b, _ := json.MarshalIndent(c, "", " ")
				e.t.Logf("emulator conversation: %s", b)
			}
		}
	}()
	e.waitFor(what, func() bool {
		for _, c := range e.le.Conversations() {
			if cond(c) {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

func texts(c liveengage.Conversation, role string) []string {
	var out []string
	for _, m := range c.Messages {
		if m.Role == role {
			out = append(out, m.Text)
		}
	}
	return out
}

func hasEvent(c liveengage.Conversation, role, needle string) bool {
	for _, ev := range c.Events {
		if ev.Role == role && strings.Contains(string(ev.Event), needle) {
			return true
		}
	}
	return false
}

// A whole conversation through the real core, the echo adapter as a
// subprocess, and the LiveEngage emulator.
func TestWholeConversation(t *testing.T) {
	wholeConversation(t, envOptions{})
}

// The same conversation with the core on the PostgreSQL store.
func TestWholeConversationOnPostgres(t *testing.T) {
	wholeConversation(t, envOptions{PostgresDSN: pgtest.DSN(t)})
}

func wholeConversation(t *testing.T, o envOptions) {
	o.Channel, o.CSATPrompt = "echo", "How did we do? Reply 1 to 5."
	e := newEnv(t, o)
	u := &echoUser{e: e, user: "alice", chat: "chat-alice"}

	// The consumer opens the conversation.
	u.send(echo.Inbound{ID: "m1", Text: "Hello, I need help"})
	u.send(echo.Inbound{ID: "m2", Text: "with my order 🚚"})
	conv := e.conversation("the consumer's messages in LiveEngage", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Hello, I need help|with my order 🚚"
	})
	if conv.State != "OPEN" {
		t.Fatalf("conversation state %s", conv.State)
	}

	// Typing, consumer → agent.
	typing := true
	u.send(echo.Inbound{Typing: &typing})
	e.conversation("consumer typing in LiveEngage", func(c liveengage.Conversation) bool {
		return c.ID == conv.ID && hasEvent(c, "CONSUMER", `"COMPOSING"`)
	})

	// The agent answers, typing first.
	if err := e.le.AgentTyping(conv.ID, "COMPOSING"); err != nil {
		t.Fatal(err)
	}
	u.waitAction("agent typing on the channel", func(a echo.Action) bool { return a.Kind == "typing" && a.Active })
	for _, text := range []string{"Hi Alice!", "Let me check that order.", "It ships tomorrow."} {
		if _, err := e.le.AgentSend(conv.ID, text); err != nil {
			t.Fatal(err)
		}
	}
	u.waitAction("the agent's last message", func(a echo.Action) bool { return a.Kind == "send" && a.Text == "It ships tomorrow." })
	var got []string
	var lastID string
	for _, a := range u.actions() {
		if a.Kind == "send" {
			got = append(got, a.Text)
			lastID = a.MessageIDs[0]
		}
	}
	if strings.Join(got, "|") != "Hi Alice!|Let me check that order.|It ships tomorrow." {
		t.Fatalf("agent messages on the channel, in order: %q", got)
	}

	// Receipts, both ways. The echo adapter reports every send as delivered
	// (ACCEPT); the consumer then reads the last one (READ).
	u.send(echo.Inbound{Read: lastID})
	e.conversation("the consumer's READ in LiveEngage", func(c liveengage.Conversation) bool {
		return c.ID == conv.ID && hasEvent(c, "CONSUMER", `"READ"`) && hasEvent(c, "CONSUMER", `"ACCEPT"`)
	})
	if _, err := e.le.AgentRead(conv.ID, []int{conv.Messages[0].Sequence}); err != nil {
		t.Fatal(err)
	}
	u.waitAction("the agent's READ on the channel", func(a echo.Action) bool {
		return a.Kind == "read" && len(a.MessageIDs) == 1 && a.MessageIDs[0] == "m1"
	})

	// The agent closes; the consumer gets the closing message and the CSAT
	// question, and answers it.
	if err := e.le.AgentClose(conv.ID, false); err != nil {
		t.Fatal(err)
	}
	u.waitAction("the closing message", func(a echo.Action) bool {
		return a.Kind == "send" && strings.Contains(a.Text, "conversation has ended")
	})
	u.waitAction("the CSAT question", func(a echo.Action) bool { return a.Kind == "send" && a.Text == "How did we do? Reply 1 to 5." })
	u.send(echo.Inbound{Text: "5"})
	closed := e.conversation("CSAT recorded", func(c liveengage.Conversation) bool { return c.ID == conv.ID && c.CSAT != nil })
	if closed.State != "CLOSE" || closed.CSAT.CSATRate != 5 {
		t.Fatalf("conversation after close: state %s csat %+v", closed.State, closed.CSAT)
	}

	// The next message opens a new conversation.
	u.send(echo.Inbound{Text: "One more thing"})
	e.conversation("a second conversation", func(c liveengage.Conversation) bool {
		return c.ID != conv.ID && c.ConsumerID == conv.ConsumerID && c.State == "OPEN" &&
			strings.Join(texts(c, "CONSUMER"), "|") == "One more thing"
	})
}
