package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
	slackemu "github.com/leconnect/leconnect/emulator/slack"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// sdesOf reads the SDEs a conversation was opened with, as LiveEngage
// recorded its SetUserProfile: personal and ctmrinfo, by field.
func sdesOf(t *testing.T, c liveengage.Conversation) (personal map[string]any, info map[string]any) {
	t.Helper()
	var p struct {
		AuthenticatedData struct {
			SDEs []struct {
				Type     string         `json:"type"`
				Personal map[string]any `json:"personal"`
				Info     map[string]any `json:"info"`
			} `json:"lp_sdes"`
		} `json:"authenticatedData"`
	}
	if err := json.Unmarshal(c.UserProfile, &p); err != nil {
		t.Fatalf("user profile %s: %v", c.UserProfile, err)
	}
	for _, s := range p.AuthenticatedData.SDEs {
		switch s.Type {
		case "personal":
			personal = s.Personal
		case "ctmrinfo":
			info = s.Info
		}
	}
	return personal, info
}

// A Telegram profile becomes the conversation's SDEs: the defaults, plus a
// configured customer-info mapping with a literal.
func TestSDEsFromTheTelegramProfile(t *testing.T) {
	e := newEnv(t, envOptions{Channel: "telegram-webhook",
		ChannelExtraYAML: "sdes:\n  ctmrinfo:\n    ctype: \"=telegram\"\n    customerId: \"consumer_id\""})
	const chat = int64(777001)
	if err := e.tg.AddUser(tgemu.User{ID: chat, FirstName: "Tess", LastName: "Gram", Username: "tessg", LanguageCode: "de"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tg.SendText(chat, "Hallo"); err != nil {
		t.Fatal(err)
	}
	conv := e.conversation("the conversation", func(c liveengage.Conversation) bool { return strings.Join(texts(c, "CONSUMER"), "|") == "Hallo" })
	personal, info := sdesOf(t, conv)
	if personal["firstname"] != "Tess" || personal["lastname"] != "Gram" || personal["language"] != "de" {
		t.Errorf("personal SDE %v; want Tess Gram, de", personal)
	}
	if info["userName"] != "tessg" || info["ctype"] != "telegram" || info["customerId"] != "777001" {
		t.Errorf("ctmrinfo SDE %v; want userName tessg, ctype telegram, customerId 777001", info)
	}
}

// An SMS consumer's phone number becomes the conversation's personal SDE.
func TestSDEsFromTheSMSNumber(t *testing.T) {
	s := newSMSEnv(t)
	const phone = "+15005550177"
	s.phoneSend(phone, smsTwilioNumber, "Hello by SMS")
	conv := s.conversation("the conversation", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Hello by SMS"
	})
	personal, _ := sdesOf(t, conv)
	contacts, _ := personal["contacts"].([]any)
	if len(contacts) != 1 || contacts[0].(map[string]any)["phone"] != phone {
		t.Fatalf("personal SDE %v; want the phone %s in contacts", personal, phone)
	}
}

// A Slack consumer's users.info profile becomes the conversation's SDEs.
func TestSDEsFromTheSlackProfile(t *testing.T) {
	s := newSlackEnv(t, "events")
	s.post(slackemu.UserMessage{Text: "Hello from Slack"})
	conv := s.conversation("the conversation", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Hello from Slack"
	})
	personal, info := sdesOf(t, conv)
	contacts, _ := personal["contacts"].([]any)
	if personal["firstname"] != "Alice" || personal["lastname"] != "Example" || personal["language"] != "en-GB" ||
		len(contacts) != 1 || contacts[0].(map[string]any)["email"] != "alice@example.com" || info["userName"] != "alice" {
		t.Fatalf("SDEs personal %v ctmrinfo %v; want Alice Example's profile from users.info", personal, info)
	}
}
