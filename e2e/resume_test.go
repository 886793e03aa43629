package e2e

import (
	"strings"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
	slackemu "github.com/leconnect/leconnect/emulator/slack"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// channelUser is one consumer on one channel, as the resume and transfer
// tests drive them.
type channelUser struct {
	e *env
	// say sends text from the consumer on the platform.
	say func(text string)
	// received waits for an app message to the consumer with this text.
	received func(what, text string)
}

func telegramUser(t *testing.T, o envOptions) channelUser {
	o.Channel = "telegram-webhook"
	e := newEnv(t, o)
	const chat = int64(515151)
	if err := e.tg.AddUser(tgemu.User{ID: chat, FirstName: "Rae"}); err != nil {
		t.Fatal(err)
	}
	return channelUser{e: e,
		say: func(text string) {
			if _, err := e.tg.SendText(chat, text); err != nil {
				t.Fatal(err)
			}
		},
		received: func(what, text string) {
			waitSent(e, chat, what, func(m tgemu.SentMessage) bool { return m.Text == text })
		},
	}
}

func slackUser(t *testing.T) channelUser {
	s := newSlackEnv(t, "events")
	return channelUser{e: s.env,
		say: func(text string) { s.post(slackemu.UserMessage{Text: text}) },
		received: func(what, text string) {
			s.waitPosted(what, func(m slackemu.Message) bool { return m.Text == text })
		},
	}
}

func smsUser(t *testing.T) channelUser {
	s := newSMSEnv(t)
	const phone = "+15005550123"
	return channelUser{e: s.env,
		say: func(text string) { s.phoneSend(phone, smsTwilioNumber, text) },
		received: func(what, text string) {
			s.waitFor(what, func() bool {
				for _, m := range s.sms.Received(phone) {
					if m.Text == text {
						return true
					}
				}
				return false
			})
		},
	}
}

// An agent resumes a consumer's closed conversation: LiveEngage opens a new
// one leconnect did not open, and the agent's message reaches the consumer
// on their channel without the consumer writing first; the consumer's
// answer lands in the resumed conversation.
func TestAgentResumesAClosedConversation(t *testing.T) {
	channels := map[string]func(t *testing.T) channelUser{
		// LiveEngage's consumer participant id is a UUID here, unlike the
		// lp_consumer_id in the consumer's token: leconnect must not care.
		"telegram": func(t *testing.T) channelUser {
			return telegramUser(t, envOptions{LiveEngageOptions: func(o *liveengage.Options) { o.ConsumerParticipantIDs = "uuid" }})
		},
		"slack": slackUser,
		"sms":   smsUser,
	}
	for name, newUser := range channels {
		t.Run(name, func(t *testing.T) {
			u := newUser(t)
			e := u.e
			u.say("Where is my refund?")
			first := e.conversation("the first conversation", func(c liveengage.Conversation) bool {
				return strings.Join(texts(c, "CONSUMER"), "|") == "Where is my refund?"
			})
			if err := e.le.AgentClose(first.ID, false); err != nil {
				t.Fatal(err)
			}
			u.received("the closing message", "This conversation has ended. Thank you for contacting us.")

			resumedID, err := e.le.AgentResume(first.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.le.AgentSend(resumedID, "Good news: your refund went out today."); err != nil {
				t.Fatal(err)
			}
			u.received("the agent's message in the resumed conversation", "Good news: your refund went out today.")

			u.say("Thank you!")
			resumed := e.conversation("the consumer's answer in the resumed conversation", func(c liveengage.Conversation) bool {
				return c.ID == resumedID && strings.Join(texts(c, "CONSUMER"), "|") == "Thank you!"
			})
			if resumed.State != "OPEN" {
				t.Fatalf("resumed conversation is %s", resumed.State)
			}
			if n := len(e.le.Conversations()); n != 2 {
				t.Fatalf("%d conversations in LiveEngage; want the first and the resumed one", n)
			}
		})
	}
}
