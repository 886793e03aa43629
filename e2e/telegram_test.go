package e2e

import (
	"bytes"
	"encoding/json"

	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// A Telegram user and an emulated agent converse through the real core and
// the built-in Telegram adapter (a subprocess of the core), in both of the
// adapter's receiving modes.
func TestTelegramConversation(t *testing.T) {
	for _, mode := range []string{"telegram-webhook", "telegram-polling"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOptions{Channel: mode, CSATPrompt: "Rate us from 1 to 5"})
			const chat = int64(424242)
			if err := e.tg.AddUser(tgemu.User{ID: chat, FirstName: "Tess", LastName: "Gram", Username: "tess"}); err != nil {
				t.Fatal(err)
			}

			// Text, consumer → agent.
			if _, err := e.tg.SendText(chat, "Hi, my parcel is late"); err != nil {
				t.Fatal(err)
			}
			conv := e.conversation("the Telegram text in LiveEngage", func(c liveengage.Conversation) bool {
				return strings.Join(texts(c, "CONSUMER"), "|") == "Hi, my parcel is late"
			})
			if !strings.Contains(string(conv.UserProfile), "Tess") {
				t.Errorf("the consumer's profile did not reach LiveEngage: %s", conv.UserProfile)
			}

			// A photo, consumer → agent: a hosted file with its caption.
			if _, err := e.tg.SendPhoto(chat, testPNG(t), "the label"); err != nil {
				t.Fatal(err)
			}
			var relativePath string
			e.conversation("the photo in LiveEngage", func(c liveengage.Conversation) bool {
				relativePath = hostedFile(c, "CONSUMER", "the label")
				return c.ID == conv.ID && relativePath != ""
			})

			// Typing and text, agent → consumer.
			if err := e.le.AgentTyping(conv.ID, "COMPOSING"); err != nil {
				t.Fatal(err)
			}
			e.waitFor("the typing action on Telegram", func() bool {
				for _, a := range e.tg.ChatActions(chat) {
					if a.Action == "typing" {
						return true
					}
				}
				return false
			})
			if _, err := e.le.AgentSend(conv.ID, "Sorry to hear that! Checking now."); err != nil {
				t.Fatal(err)
			}
			waitSent(e, chat, "the agent's text on Telegram", func(m tgemu.SentMessage) bool {
				return m.Method == "sendMessage" && m.Text == "Sorry to hear that! Checking now."
			})

			// A photo, agent → consumer.
			photo, _ := json.Marshal(map[string]any{"type": "ContentEvent", "contentType": "hosted/file",
				"message": map[string]any{"caption": "your label, stamped", "relativePath": relativePath, "fileType": "PNG"}})
			if _, err := e.le.AgentSendEvent(conv.ID, photo, nil); err != nil {
				t.Fatal(err)
			}
			waitSent(e, chat, "the agent's photo on Telegram", func(m tgemu.SentMessage) bool {
				return m.Method == "sendPhoto" && m.Caption == "your label, stamped"
			})

			// Quick replies become an inline keyboard; a press goes back as the choice.
			qr, _ := json.Marshal(map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "Resend it?",
				"quickReplies": map[string]any{"type": "quickReplies", "itemsPerRow": 2, "replies": []any{
					map[string]any{"type": "button", "title": "Yes please", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "yes"}}}},
					map[string]any{"type": "button", "title": "No", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "no"}}}},
				}}})
			if _, err := e.le.AgentSendEvent(conv.ID, qr, nil); err != nil {
				t.Fatal(err)
			}
			question := waitSent(e, chat, "the question with buttons", func(m tgemu.SentMessage) bool {
				return m.Text == "Resend it?" && m.ReplyMarkup != nil
			})
			if _, err := e.tg.PressButton(chat, question.MessageID, "Yes please"); err != nil {
				t.Fatal(err)
			}
			e.conversation("the button choice in LiveEngage", func(c liveengage.Conversation) bool {
				got := texts(c, "CONSUMER")
				return c.ID == conv.ID && len(got) > 0 && got[len(got)-1] == "yes"
			})

			// The agent closes; closing message, CSAT question, answer.
			if err := e.le.AgentClose(conv.ID, false); err != nil {
				t.Fatal(err)
			}
			waitSent(e, chat, "the CSAT question on Telegram", func(m tgemu.SentMessage) bool { return m.Text == "Rate us from 1 to 5" })
			if _, err := e.tg.SendText(chat, "4"); err != nil {
				t.Fatal(err)
			}
			closed := e.conversation("CSAT in LiveEngage", func(c liveengage.Conversation) bool { return c.ID == conv.ID && c.CSAT != nil })
			if closed.State != "CLOSE" || closed.CSAT.CSATRate != 4 {
				t.Fatalf("after close: state %s, csat %+v", closed.State, closed.CSAT)
			}
			// Nothing was sent twice.
			seen := map[string]int{}
			for _, m := range e.tg.Sent(chat) {
				seen[m.Method+":"+m.Text+m.Caption]++
			}
			for k, n := range seen {
				if n > 1 {
					t.Errorf("%q sent %d times", k, n)
				}
			}
		})
	}
}

// waitSent waits for a message the bot sent to chat.
func waitSent(e *env, chat int64, what string, match func(tgemu.SentMessage) bool) tgemu.SentMessage {
	e.t.Helper()
	var found tgemu.SentMessage
	e.waitFor(what, func() bool {
		for _, m := range e.tg.Sent(chat) {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// hostedFile returns the relativePath of a hosted file with the caption.
func hostedFile(c liveengage.Conversation, role, caption string) string {
	for _, ev := range c.Events {
		var e struct {
			ContentType string `json:"contentType"`
			Message     struct {
				Caption      string `json:"caption"`
				RelativePath string `json:"relativePath"`
			} `json:"message"`
		}
		if ev.Role == role && json.Unmarshal(ev.Event, &e) == nil && e.ContentType == "hosted/file" && e.Message.Caption == caption {
			return e.Message.RelativePath
		}
	}
	return ""
}

func testPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := 0; x < 64; x++ {
		for y := 0; y < 48; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
