package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
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
			pids := regexp.MustCompile(`"adapter running".*?"pid":(\d+)`).FindAllStringSubmatch(e.logs.String(), -1)
			if len(pids) == 0 {
				t.Fatal("no adapter pid in the log")
			}
			pid, _ := strconv.Atoi(pids[len(pids)-1][1])
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
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
