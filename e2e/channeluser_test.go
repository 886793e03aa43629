package e2e

import (
	"strings"
	"testing"

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
	// count is how many app messages to the consumer had this text.
	count func(text string) int
	// tap picks the offered choice labelled label, as the platform lets
	// the consumer: a button, or (SMS) answering with the option.
	tap func(label string)
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
		tap: func(label string) {
			e.waitFor("a button labelled "+label, func() bool {
				sent := e.tg.Sent(chat)
				for i := len(sent) - 1; i >= 0; i-- {
					if _, err := e.tg.PressButton(chat, sent[i].MessageID, label); err == nil {
						return true
					}
				}
				return false
			})
		},
		count: func(text string) (n int) {
			for _, m := range e.tg.Sent(chat) {
				if m.Text == text {
					n++
				}
			}
			return n
		},
	}
}

func slackUser(t *testing.T, o envOptions) channelUser {
	s := newSlackEnv(t, "events", o.conversationYAML())
	return channelUser{e: s.env,
		// Slack's Events API does not promise order, and its emulator pushes
		// events concurrently: the next message is written once the last
		// one was acknowledged, as a person would after seeing it sent.
		say: func(text string) {
			res := s.post(slackemu.UserMessage{Text: text})
			s.waitFor("Slack's event acknowledged", func() bool {
				for _, d := range s.slack.Deliveries() {
					if d.EventID == res.EventID && len(d.Attempts) > 0 && d.Attempts[len(d.Attempts)-1].Acked {
						return true
					}
				}
				return false
			})
		},
		received: func(what, text string) {
			s.waitPosted(what, func(m slackemu.Message) bool { return m.Text == text })
		},
		tap: func(label string) {
			s.waitFor("a button labelled "+label, func() bool {
				posted := s.slack.Posted(s.dm)
				for i := len(posted) - 1; i >= 0; i-- {
					if _, err := s.slack.PressButton(slackAlice, s.dm, posted[i].TS, label); err == nil {
						return true
					}
				}
				return false
			})
		},
		count: func(text string) (n int) {
			for _, m := range s.slack.Posted(s.dm) {
				if m.Text == text {
					n++
				}
			}
			return n
		},
	}
}

func smsUser(t *testing.T, o envOptions) channelUser {
	s := newSMSEnv(t, o.conversationYAML())
	const phone = "+15005550123"
	return channelUser{e: s.env,
		say: func(text string) { s.phoneSend(phone, smsTwilioNumber, text) },
		received: func(what, text string) {
			s.waitFor(what, func() bool {
				for _, m := range s.sms.Received(phone) {
					// Offered options follow the text, one per line.
					if m.Text == text || strings.HasPrefix(m.Text, text+"\n") {
						return true
					}
				}
				return false
			})
		},
		// The consumer answers with the option's number, as the message
		// offers ("2. No").
		tap: func(label string) {
			var number string
			s.waitFor("the option "+label, func() bool {
				received := s.sms.Received(phone)
				for i := len(received) - 1; i >= 0 && number == ""; i-- {
					for _, line := range strings.Split(received[i].Text, "\n") {
						if n, text, ok := strings.Cut(line, ". "); ok && text == label {
							number = n
							break
						}
					}
				}
				return number != ""
			})
			s.phoneSend(phone, smsTwilioNumber, number)
		},
		count: func(text string) (n int) {
			for _, m := range s.sms.Received(phone) {
				if m.Text == text {
					n++
				}
			}
			return n
		},
	}
}

// eachChannel runs test on Telegram, Slack and SMS, each started with o
// (LiveEngage options, the conversation block; the rest is Telegram's).
func eachChannel(t *testing.T, o envOptions, test func(t *testing.T, channel string, u channelUser)) {
	for name, newUser := range map[string]func(*testing.T, envOptions) channelUser{
		"telegram": telegramUser,
		"slack":    slackUser,
		"sms":      smsUser,
	} {
		t.Run(name, func(t *testing.T) { test(t, name, newUser(t, o)) })
	}
}
