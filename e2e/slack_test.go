package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
	slackemu "github.com/leconnect/leconnect/emulator/slack"
)

const slackAlice = "U0ALICE01"

// slackEnv is a running system with the Slack adapter and emulator.
type slackEnv struct {
	*env
	slack *slackemu.Emulator
	dm    string
}

func newSlackEnv(t *testing.T, mode string, conversationYAML ...string) *slackEnv {
	t.Helper()
	se, err := slackemu.New(slackemu.Options{SocketMode: mode == "socket", TimeScale: 0.01, PostRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(se.Handler())
	t.Cleanup(func() { srv.Close(); se.Close() })
	se.SetPublicURL(srv.URL)
	if err := se.AddUser(slackemu.User{ID: slackAlice, Name: "alice", RealName: "Alice Example", FirstName: "Alice", LastName: "Example",
		Title: "Head of Purchasing", Email: "alice@example.com", Locale: "en-GB"}); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`  - name: slack
    adapter: slack
    restart: {initial_backoff: 50ms, max_backoff: 200ms}%s
    config:
      bot_token: ${SLACK_BOT_TOKEN}
      signing_secret: ${SLACK_SIGNING_SECRET}
      app_token: ${SLACK_APP_TOKEN}
      mode: %s
      api_base_url: %s/api
      rate_scale: 100
      reconnect_backoff: 20ms`, conversationBlock(conversationYAML), mode, srv.URL)
	e := newEnv(t, envOptions{Channel: "custom", ChannelYAML: yaml, Env: []string{
		"SLACK_BOT_TOKEN=" + se.BotToken(), "SLACK_SIGNING_SECRET=" + se.SigningSecret(), "SLACK_APP_TOKEN=" + se.AppToken(),
	}})
	if mode == "events" {
		se.SetRequestURL(e.coreURL + "/channels/slack/webhook")
	}
	return &slackEnv{env: e, slack: se, dm: se.DM(slackAlice)}
}

// waitPosted waits for the app's post in Alice's DM that match accepts.
func (s *slackEnv) waitPosted(what string, match func(slackemu.Message) bool) slackemu.Message {
	s.t.Helper()
	var found slackemu.Message
	defer func() {
		if s.t.Failed() {
			b, _ := json.MarshalIndent(s.slack.Posted(s.dm), "", " ")
			s.t.Logf("app posts in the DM: %s", b)
		}
	}()
	s.waitFor(what, func() bool {
		for _, m := range s.slack.Posted(s.dm) {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func (s *slackEnv) post(m slackemu.UserMessage) slackemu.Result {
	s.t.Helper()
	m.User = slackAlice
	res, err := s.slack.PostMessage(m)
	if err != nil {
		s.t.Fatal(err)
	}
	return res
}

// A 1x1 PNG.
var slackPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

// A whole Slack conversation through the real core, the Slack adapter as
// a subprocess, the Slack emulator and the LiveEngage emulator, once over
// the Events API and once over Socket Mode.
func TestSlackConversation(t *testing.T) {
	for _, mode := range []string{"events", "socket"} {
		t.Run(mode, func(t *testing.T) {
			s := newSlackEnv(t, mode)

			// Consumer → agent: text, then a file with a caption.
			first := s.post(slackemu.UserMessage{Text: "Hello from Slack"})
			s.post(slackemu.UserMessage{Text: "here is the photo", Files: []slackemu.Upload{{Name: "photo.png", Mimetype: "image/png", Data: slackPNG}}})
			conv := s.conversation("the consumer's text and file in LiveEngage", func(c liveengage.Conversation) bool {
				return strings.Contains(strings.Join(texts(c, "CONSUMER"), "|"), "Hello from Slack") && hasEvent(c, "CONSUMER", `hosted/file`)
			})
			relPath := consumerFilePath(t, conv)

			// Slack retries the first event as if its ack had been lost: it
			// is acknowledged, and LiveEngage does not see it twice.
			if err := s.slack.RetryEvent(first.EventID, "http_timeout"); err != nil {
				t.Fatal(err)
			}
			s.waitFor("the retry to be acknowledged", func() bool {
				for _, d := range s.slack.Deliveries() {
					if d.EventID == first.EventID {
						n := len(d.Attempts)
						return n >= 2 && d.Attempts[n-1].RetryNum >= 1 && d.Attempts[n-1].Acked
					}
				}
				return false
			})
			s.post(slackemu.UserMessage{Text: "after the retry"})
			conv = s.conversation("the message after the retry", func(c liveengage.Conversation) bool {
				return c.ID == conv.ID && strings.Contains(strings.Join(texts(c, "CONSUMER"), "|"), "after the retry")
			})
			if got := strings.Join(texts(conv, "CONSUMER"), "|"); strings.Count(got, "Hello from Slack") != 1 {
				t.Fatalf("consumer messages in LiveEngage after a Slack retry: %q; want the retried one once", got)
			}

			// Agent → consumer: text, then a file.
			if _, err := s.le.AgentSend(conv.ID, "Hi Alice, how can I help?"); err != nil {
				t.Fatal(err)
			}
			s.waitPosted("the agent's text in Slack", func(m slackemu.Message) bool { return m.Text == "Hi Alice, how can I help?" })
			fileEvent, _ := json.Marshal(map[string]any{"type": "ContentEvent", "contentType": "hosted/file",
				"message": map[string]any{"caption": "your photo back", "relativePath": relPath, "fileType": "PNG"}})
			if _, err := s.le.AgentSendEvent(conv.ID, fileEvent, nil); err != nil {
				t.Fatal(err)
			}
			posted := s.waitPosted("the agent's file in Slack", func(m slackemu.Message) bool { return len(m.Files) == 1 })
			data, _, ok := s.slack.FileData(posted.Files[0].ID)
			if !ok || !bytes.Equal(data, slackPNG) {
				t.Fatalf("the agent's file in Slack: %d bytes (found %v); want the %d-byte PNG", len(data), ok, len(slackPNG))
			}
			s.waitPosted("the file's caption in Slack", func(m slackemu.Message) bool { return m.Text == "your photo back" })

			// A button: structured content with a publishText button; the
			// consumer clicks it in Slack.
			rich, _ := json.Marshal(map[string]any{"type": "RichContentEvent", "content": map[string]any{"type": "vertical",
				"elements": []any{
					map[string]any{"type": "text", "text": "Was this helpful?"},
					map[string]any{"type": "button", "title": "Yes, thanks", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "yes"}}}},
					map[string]any{"type": "button", "title": "No", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "no"}}}},
				}}})
			if _, err := s.le.AgentSendEvent(conv.ID, rich, nil); err != nil {
				t.Fatal(err)
			}
			buttons := s.waitPosted("the buttons in Slack", func(m slackemu.Message) bool { return len(m.Blocks) > 0 })
			if _, err := s.slack.PressButton(slackAlice, s.dm, buttons.TS, "Yes, thanks"); err != nil {
				t.Fatal(err)
			}
			conv = s.conversation("the button choice in LiveEngage", func(c liveengage.Conversation) bool {
				got := texts(c, "CONSUMER")
				return c.ID == conv.ID && len(got) > 0 && got[len(got)-1] == "yes"
			})

			// The agent closes: the consumer gets the closing message.
			if err := s.le.AgentClose(conv.ID, false); err != nil {
				t.Fatal(err)
			}
			s.waitPosted("the closing message in Slack", func(m slackemu.Message) bool { return strings.Contains(m.Text, "conversation has ended") })
			closed, _ := s.le.Conversation(conv.ID)
			if closed.State != "CLOSE" {
				t.Fatalf("conversation state after agent close: %s", closed.State)
			}
		})
	}
}

// Socket Mode: a disconnect frame and a dropped connection are followed by
// a reconnect, and events sent meanwhile arrive once.
func TestSlackSocketReconnect(t *testing.T) {
	s := newSlackEnv(t, "socket")
	s.post(slackemu.UserMessage{Text: "before"})
	conv := s.conversation("the first message", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "before"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opened := 0 // the connections opened before the cut: the next must be a new one
	for i, cut := range []func() int{
		func() int { return s.slack.DisconnectSockets("refresh_requested") },
		s.slack.DropSockets,
	} {
		if err := s.slack.Wait(ctx, func() bool { return s.slack.SocketsOpened() > opened && s.slack.Sockets() == 1 }); err != nil {
			t.Fatalf("cut %d: no socket: %v", i, err)
		}
		opened = s.slack.SocketsOpened()
		if n := cut(); n != 1 {
			t.Fatalf("cut %d: %d sockets open, want 1", i, n)
		}
		s.post(slackemu.UserMessage{Text: fmt.Sprintf("during reconnect %d", i)})
	}
	if err := s.slack.Wait(ctx, func() bool { return s.slack.Sockets() == 1 }); err != nil {
		t.Fatalf("no reconnect: %v", err)
	}
	conv = s.conversation("messages sent across reconnects", func(c liveengage.Conversation) bool {
		return c.ID == conv.ID && len(texts(c, "CONSUMER")) >= 3
	})
	if got := strings.Join(texts(conv, "CONSUMER"), "|"); got != "before|during reconnect 0|during reconnect 1" {
		t.Fatalf("consumer messages across reconnects: %q", got)
	}
}

// consumerFilePath finds the relativePath of the consumer's hosted file.
func consumerFilePath(t *testing.T, c liveengage.Conversation) string {
	t.Helper()
	for _, ev := range c.Events {
		var e struct {
			ContentType string `json:"contentType"`
			Message     struct {
				RelativePath string `json:"relativePath"`
			} `json:"message"`
		}
		if ev.Role == "CONSUMER" && json.Unmarshal(ev.Event, &e) == nil && e.ContentType == "hosted/file" && e.Message.RelativePath != "" {
			return e.Message.RelativePath
		}
	}
	t.Fatalf("no consumer hosted file in conversation %s", c.ID)
	return ""
}
