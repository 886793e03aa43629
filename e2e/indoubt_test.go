package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
	slackemu "github.com/leconnect/leconnect/emulator/slack"
	smsemu "github.com/leconnect/leconnect/emulator/sms"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// The window no connector can close, opened on purpose: Telegram sends an
// agent's message but its answer is held, and the adapter is killed while
// waiting for it. The core had recorded the intent to send and finds no
// outcome, so the send is in doubt; Telegram offers no lookup, and the
// channel's policy decides: resend (the consumer sees it twice) or skip
// (the agent is told in the conversation). Either way it is counted.
func TestTelegramSendInDoubtFollowsThePolicy(t *testing.T) {
	for _, policy := range []string{"resend", "skip"} {
		t.Run(policy, func(t *testing.T) {
			u := telegramUser(t, envOptions{ChannelExtraYAML: "in_doubt_sends: " + policy})
			e := u.e
			u.say("Hello, where is my parcel?")
			conv := e.conversation("the consumer's message", func(c liveengage.Conversation) bool {
				return strings.Join(texts(c, "CONSUMER"), "|") == "Hello, where is my parcel?"
			})
			if err := e.tg.InjectFault(tgemu.Fault{Method: "sendMessage", HoldMillis: 120_000}); err != nil {
				t.Fatal(err)
			}
			const answer = "It left the depot this morning."
			if _, err := e.le.AgentSend(conv.ID, answer); err != nil {
				t.Fatal(err)
			}
			e.waitFor("the message to reach the consumer, its answer held", func() bool { return u.count(answer) == 1 })
			if err := syscall.Kill(adapterPID(t, e, "tg"), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}

			series := `leconnect_sends_in_doubt_total{channel="tg",outcome="` + map[string]string{"resend": "resent", "skip": "skipped"}[policy] + `"}`
			e.waitFor("the send in doubt counted", func() bool { return metric(e, series) == 1 })
			switch policy {
			case "resend":
				e.waitFor("the message sent again", func() bool { return u.count(answer) == 2 })
			case "skip":
				e.conversation("the agent told", func(c liveengage.Conversation) bool {
					for _, text := range texts(c, "CONSUMER") {
						if strings.HasPrefix(text, "[leconnect] This agent message may not have reached the consumer") && strings.Contains(text, answer) {
							return true
						}
					}
					return false
				})
				// Later messages flow; the skipped one was not sent again.
				if _, err := e.le.AgentSend(conv.ID, "Anything else?"); err != nil {
					t.Fatal(err)
				}
				u.received("the next message", "Anything else?")
				if n := u.count(answer); n != 1 {
					t.Fatalf("the skipped message reached the consumer %d times", n)
				}
			}
			if !strings.Contains(e.logs.String(), "a send may or may not have reached the platform") {
				t.Fatal("the send in doubt was not logged")
			}
		})
	}
}

// adapterPID is the pid of channel's adapter as last started.
func adapterPID(t *testing.T, e *env, channel string) int {
	t.Helper()
	all := regexp.MustCompile(`"adapter running"[^\n]*"channel":"`+regexp.QuoteMeta(channel)+`","pid":(\d+)`).FindAllStringSubmatch(e.logs.String(), -1)
	if len(all) == 0 {
		t.Fatalf("no pid of %s's adapter in the log", channel)
	}
	pid, _ := strconv.Atoi(all[len(all)-1][1])
	return pid
}

// Twilio can be asked: the same window, opened the same way, ends with
// one message, its send resolved from Twilio's Messages list and counted.
func TestTwilioSendInDoubtIsResolved(t *testing.T) {
	s := newSMSEnv(t)
	const ann = "+14155552345"
	s.phoneSend(ann, smsTwilioNumber, "Hello, where is my parcel?")
	conv := s.conversation("Ann's SMS", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Hello, where is my parcel?"
	})
	if err := s.sms.AddFault(smsemu.Fault{Provider: smsemu.Twilio, HoldMillis: 120_000, Count: 1}); err != nil {
		t.Fatal(err)
	}
	const answer = "It left the depot this morning."
	if _, err := s.le.AgentSend(conv.ID, answer); err != nil {
		t.Fatal(err)
	}
	if m := s.received(ann, 1); m.Text != answer {
		t.Fatalf("Ann received %+v", m)
	}
	if err := syscall.Kill(adapterPID(t, s.env, "sms-twilio"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the send in doubt resolved", func() bool {
		return metric(s.env, `leconnect_sends_in_doubt_total{channel="sms-twilio",outcome="resolved_sent"}`) == 1
	})
	if _, err := s.le.AgentSend(conv.ID, "Anything else?"); err != nil {
		t.Fatal(err)
	}
	if m := s.received(ann, 2); m.Text != "Anything else?" {
		t.Fatalf("Ann's second message is %q: the first was sent twice", m.Text)
	}
}

// Slack can be asked too: every post carries its send's key in message
// metadata, found again in conversations.history.
func TestSlackSendInDoubtIsResolved(t *testing.T) {
	s := newSlackEnv(t, "events")
	s.post(slackemu.UserMessage{Text: "Hello, where is my parcel?"})
	conv := s.conversation("Alice's message", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Hello, where is my parcel?"
	})
	count := func(text string) (n int) {
		for _, m := range s.slack.Posted(s.dm) {
			if m.Text == text {
				n++
			}
		}
		return n
	}
	if err := s.slack.InjectFault(slackemu.Fault{Method: "chat.postMessage", HoldMillis: 120_000, Count: 1}); err != nil {
		t.Fatal(err)
	}
	const answer = "It left the depot this morning."
	if _, err := s.le.AgentSend(conv.ID, answer); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the message posted, its answer held", func() bool { return count(answer) == 1 })
	if err := syscall.Kill(adapterPID(t, s.env, "slack"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the send in doubt resolved", func() bool {
		return metric(s.env, `leconnect_sends_in_doubt_total{channel="slack",outcome="resolved_sent"}`) == 1
	})
	if _, err := s.le.AgentSend(conv.ID, "Anything else?"); err != nil {
		t.Fatal(err)
	}
	s.waitPosted("the next message", func(m slackemu.Message) bool { return m.Text == "Anything else?" })
	if n := count(answer); n != 1 {
		t.Fatalf("the message in doubt was posted %d times", n)
	}
}
