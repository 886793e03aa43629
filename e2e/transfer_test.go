package e2e

import (
	"strings"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
)

// The agent transfers the conversation to another skill, then a new agent
// takes it and later puts it back in the queue: the consumer's messages
// before, during (nobody assigned) and after reach the same conversation,
// each once and in order, and the consumer hears from the new agent. On
// Telegram the channel tells the consumer of the transfer.
func TestTransferKeepsTheConversationFlowing(t *testing.T) {
	const notice = "You are being transferred; please hold on."
	eachChannel(t, envOptions{TransferMessage: notice}, func(t *testing.T, name string, u channelUser) {
		e := u.e
		u.say("one: my order is wrong")
		conv := e.conversation("the conversation", func(c liveengage.Conversation) bool {
			return strings.Join(texts(c, "CONSUMER"), "|") == "one: my order is wrong"
		})
		if _, err := e.le.AgentSend(conv.ID, "Let me pass you to billing."); err != nil {
			t.Fatal(err)
		}
		u.received("the first agent's message", "Let me pass you to billing.")

		if err := e.le.TransferToSkill(conv.ID, "77"); err != nil {
			t.Fatal(err)
		}
		if name == "telegram" {
			u.received("the transfer notice", notice)
		}
		u.say("two: while nobody is assigned")
		u.say("three: still waiting")
		e.conversation("the messages sent while unassigned", func(c liveengage.Conversation) bool {
			return c.ID == conv.ID && c.SkillID == "77" && c.AgentID == "" &&
				strings.Join(texts(c, "CONSUMER"), "|") == "one: my order is wrong|two: while nobody is assigned|three: still waiting"
		})

		if _, err := e.le.AgentSend(conv.ID, "Billing here, I have your order."); err != nil {
			t.Fatal(err)
		}
		u.received("the new agent's message", "Billing here, I have your order.")
		u.say("four: thanks")
		if err := e.le.AgentBackToQueue(conv.ID); err != nil {
			t.Fatal(err)
		}
		u.say("five: after going back to the queue")
		final := e.conversation("every consumer message in the one conversation", func(c liveengage.Conversation) bool {
			return c.ID == conv.ID && len(texts(c, "CONSUMER")) >= 5
		})
		want := "one: my order is wrong|two: while nobody is assigned|three: still waiting|four: thanks|five: after going back to the queue"
		if got := strings.Join(texts(final, "CONSUMER"), "|"); got != want {
			t.Fatalf("consumer messages in LiveEngage:\n got %q\nwant %q", got, want)
		}
		if n := len(e.le.Conversations()); n != 1 {
			t.Fatalf("%d conversations in LiveEngage; want one", n)
		}

		// The next conversation's first agent is no transfer: the notice
		// went out for the transfer and for going back to the queue (the
		// agent leaving again), and only where the channel asks for it.
		if err := e.le.AgentClose(conv.ID, false); err != nil {
			t.Fatal(err)
		}
		u.received("the closing message", "This conversation has ended. Thank you for contacting us.")
		u.say("six: a new question")
		next := e.conversation("a second conversation", func(c liveengage.Conversation) bool {
			return c.ID != conv.ID && strings.Join(texts(c, "CONSUMER"), "|") == "six: a new question"
		})
		if _, err := e.le.AgentSend(next.ID, "Hello again."); err != nil {
			t.Fatal(err)
		}
		u.received("the second conversation's agent", "Hello again.")
		notices := 0
		if name == "telegram" {
			notices = 2 // the transfer, and back to the queue
		}
		if n := u.count(notice); n != notices {
			t.Fatalf("the transfer notice reached the consumer %d times; want %d", n, notices)
		}
	})
}
