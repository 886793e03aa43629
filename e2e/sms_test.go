package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
	smsemu "github.com/leconnect/leconnect/emulator/sms"
)

const (
	smsTwilioNumber = "+14155550100"
	smsVonageNumber = "+447700900000"
	smsVonageToken  = "e2e-vonage-webhook-token"
)

// A 1x1 PNG: LiveEngage checks the magic bytes of hosted files.
var smsPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

// smsEnv is the core with two SMS channels (Twilio and Vonage; the built-in
// adapter runs as a subprocess for each), the LiveEngage emulator, and
// the SMS emulator playing both providers and the phones.
type smsEnv struct {
	*env
	sms *smsemu.Emulator
}

func newSMSEnv(t *testing.T, conversationYAML ...string) *smsEnv {
	t.Helper()
	// Shuffle: status callbacks and receipts arrive in random order.
	em, err := smsemu.New(smsemu.Options{TimeScale: 0.05, Shuffle: true, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(em.Handler())
	t.Cleanup(func() { srv.Close(); em.Close() })
	em.SetBaseURL(srv.URL)
	yaml := fmt.Sprintf(`  - name: sms-twilio
    adapter: sms
    restart: {initial_backoff: 50ms, max_backoff: 200ms}%[4]s
    config:
      provider: twilio
      account_sid: ${TWILIO_ACCOUNT_SID}
      auth_token: ${TWILIO_AUTH_TOKEN}
      from: "%[1]s"
      api_base_url: %[2]s
  - name: sms-vonage
    adapter: sms
    restart: {initial_backoff: 50ms, max_backoff: 200ms}%[4]s
    config:
      provider: vonage
      api_key: ${VONAGE_API_KEY}
      api_secret: ${VONAGE_API_SECRET}
      webhook_token: ${VONAGE_WEBHOOK_TOKEN}
      from: "%[3]s"
      api_base_url: %[2]s`, smsTwilioNumber, srv.URL, smsVonageNumber, conversationBlock(conversationYAML))
	e := newEnv(t, envOptions{Channel: "custom", ChannelYAML: yaml, Env: []string{
		"TWILIO_ACCOUNT_SID=" + em.AccountSID(), "TWILIO_AUTH_TOKEN=" + em.AuthToken(),
		"VONAGE_API_KEY=" + em.VonageAPIKey(), "VONAGE_API_SECRET=" + em.VonageAPISecret(),
		"VONAGE_WEBHOOK_TOKEN=" + smsVonageToken,
	}})
	// The numbers' webhooks, as set in the providers' consoles.
	for _, n := range []smsemu.Number{
		{Provider: smsemu.Twilio, Number: smsTwilioNumber, WebhookURL: e.coreURL + "/channels/sms-twilio/webhook"},
		{Provider: smsemu.Vonage, Number: smsVonageNumber, WebhookURL: e.coreURL + "/channels/sms-vonage/webhook?token=" + smsVonageToken,
			StatusURL: e.coreURL + "/channels/sms-vonage/webhook/status?token=" + smsVonageToken},
	} {
		if err := em.AddNumber(n); err != nil {
			t.Fatal(err)
		}
	}
	return &smsEnv{env: e, sms: em}
}

// phoneSend sends from a phone and checks every webhook was accepted.
func (s *smsEnv) phoneSend(phone, to, text string, media ...smsemu.Media) {
	s.t.Helper()
	sent, err := s.sms.PhoneSend(phone, to, text, media...)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, d := range sent.Deliveries {
		if d.StatusCode/100 != 2 || d.Err != "" {
			s.t.Fatalf("webhook for %q answered %d %q (%s)", text, d.StatusCode, d.Body, d.Err)
		}
	}
}

// received waits for the phone's n-th message (1-based) and returns it.
func (s *smsEnv) received(phone string, n int) smsemu.Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := s.sms.WaitReceived(ctx, phone, n)
	if err != nil {
		s.t.Fatalf("phone %s received %d messages, want %d: %v; got %+v", phone, len(got), n, err, got)
	}
	return got[n-1]
}

// consumerFile returns the relativePath of the consumer's hosted file.
func consumerFile(c liveengage.Conversation) string {
	for _, ev := range c.Events {
		var ce struct {
			ContentType string `json:"contentType"`
			Message     struct {
				RelativePath string `json:"relativePath"`
			} `json:"message"`
		}
		if ev.Role == "CONSUMER" && json.Unmarshal(ev.Event, &ce) == nil && ce.ContentType == "hosted/file" {
			return ce.Message.RelativePath
		}
	}
	return ""
}

func agentEvent(t *testing.T, le *liveengage.Emulator, convID string, ev any) {
	t.Helper()
	b, _ := json.Marshal(ev)
	if _, err := le.AgentSendEvent(convID, b, nil); err != nil {
		t.Fatal(err)
	}
}

var quickReplies = map[string]any{"type": "quickReplies", "itemsPerRow": 8, "replies": []any{
	map[string]any{"type": "button", "title": "Red", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "colour-red"}}}},
	map[string]any{"type": "button", "title": "Blue", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "colour-blue"}}}},
}}

// Both providers through the real core: texts both ways, an image each
// way, delivery receipts as ACCEPT, a numbered quick reply, and STOP.
func TestSMSConversations(t *testing.T) {
	s := newSMSEnv(t)
	le := s.le

	// --- Twilio ---
	const ann = "+14155552345"
	s.phoneSend(ann, smsTwilioNumber, "Hello from my phone")
	conv := s.conversation("Ann's SMS in LiveEngage", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Hello from my phone"
	})
	if _, err := le.AgentSend(conv.ID, "Hi Ann, how can I help?"); err != nil {
		t.Fatal(err)
	}
	if m := s.received(ann, 1); m.Text != "Hi Ann, how can I help?" || m.From != smsTwilioNumber {
		t.Fatalf("Ann received %+v", m)
	}
	s.conversation("Twilio delivery receipt as ACCEPT", func(c liveengage.Conversation) bool {
		return c.ID == conv.ID && hasEvent(c, "CONSUMER", `"ACCEPT"`)
	})

	// MMS to LiveEngage, then the agent sends the image back.
	s.phoneSend(ann, smsTwilioNumber, "here is a photo", smsemu.Media{ContentType: "image/png", Data: smsPNG})
	conv = s.conversation("Ann's MMS as a hosted file", func(c liveengage.Conversation) bool {
		return c.ID == conv.ID && consumerFile(c) != ""
	})
	file := consumerFile(conv)
	agentEvent(t, le, conv.ID, map[string]any{"type": "ContentEvent", "contentType": "hosted/file",
		"message": map[string]any{"caption": "your photo", "relativePath": file, "fileType": "PNG"}})
	if m := s.received(ann, 2); len(m.Media) != 1 || !bytes.Equal(m.Media[0].Data, smsPNG) || m.Text != "your photo" {
		t.Fatalf("Ann's MMS from the agent: text %q, %d media", m.Text, len(m.Media))
	}

	// A numbered quick reply, answered by number.
	agentEvent(t, le, conv.ID, map[string]any{"type": "ContentEvent", "contentType": "text/plain",
		"message": "Which colour?", "quickReplies": quickReplies})
	if m := s.received(ann, 3); m.Text != "Which colour?\n1. Red\n2. Blue" {
		t.Fatalf("Ann received the options as %q", m.Text)
	}
	s.phoneSend(ann, smsTwilioNumber, "2")
	s.conversation("Ann's choice in LiveEngage", func(c liveengage.Conversation) bool {
		tx := texts(c, "CONSUMER")
		return c.ID == conv.ID && len(tx) > 0 && tx[len(tx)-1] == "colour-blue"
	})

	// STOP closes the conversation.
	s.phoneSend(ann, smsTwilioNumber, "STOP")
	s.conversation("Ann's conversation closed by STOP", func(c liveengage.Conversation) bool {
		return c.ID == conv.ID && c.State == "CLOSE"
	})

	// --- Vonage ---
	const bob = "+447700900001"
	long := strings.Repeat("This message is long enough to need several parts. ", 8)
	s.phoneSend(bob, smsVonageNumber, "Hello over Vonage")
	s.phoneSend(bob, smsVonageNumber, long)
	vconv := s.conversation("Bob's SMS and reassembled long SMS", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Hello over Vonage|"+long
	})
	if _, err := le.AgentSend(vconv.ID, "Hi Bob!"); err != nil {
		t.Fatal(err)
	}
	if m := s.received(bob, 1); m.Text != "Hi Bob!" {
		t.Fatalf("Bob received %+v", m)
	}
	s.conversation("Vonage delivery receipt as ACCEPT", func(c liveengage.Conversation) bool {
		return c.ID == vconv.ID && hasEvent(c, "CONSUMER", `"ACCEPT"`)
	})

	// The Vonage SMS API has no MMS: the image arrives as a signed link
	// that serves the file.
	agentEvent(t, le, vconv.ID, map[string]any{"type": "ContentEvent", "contentType": "hosted/file",
		"message": map[string]any{"caption": "a picture", "relativePath": file, "fileType": "PNG"}})
	m := s.received(bob, 2)
	link := regexp.MustCompile(`https?://\S+/media/\S+`).FindString(m.Text)
	if !strings.HasPrefix(m.Text, "a picture\n") || link == "" {
		t.Fatalf("Bob received %q; want the caption and a media link", m.Text)
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, smsPNG) {
		t.Fatalf("media link answered %d with %d bytes", res.StatusCode, len(got))
	}

	agentEvent(t, le, vconv.ID, map[string]any{"type": "ContentEvent", "contentType": "text/plain",
		"message": "Which colour?", "quickReplies": quickReplies})
	if m := s.received(bob, 3); m.Text != "Which colour?\n1. Red\n2. Blue" {
		t.Fatalf("Bob received the options as %q", m.Text)
	}
	s.phoneSend(bob, smsVonageNumber, "red") // the option's text works too
	s.conversation("Bob's choice in LiveEngage", func(c liveengage.Conversation) bool {
		tx := texts(c, "CONSUMER")
		return c.ID == vconv.ID && len(tx) > 0 && tx[len(tx)-1] == "colour-red"
	})

	s.phoneSend(bob, smsVonageNumber, "stop")
	s.conversation("Bob's conversation closed by STOP", func(c liveengage.Conversation) bool {
		return c.ID == vconv.ID && c.State == "CLOSE"
	})
}
