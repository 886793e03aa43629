package e2e

import (
	"strings"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
)

// An agent resumes a consumer's closed conversation: LiveEngage opens a new
// one leconnect did not open, and the agent's message reaches the consumer
// on their channel without the consumer writing first; the consumer's
// answer lands in the resumed conversation.
func TestAgentResumesAClosedConversation(t *testing.T) {
	// On Telegram, LiveEngage names the consumer by a UUID-style participant
	// id, unlike the lp_consumer_id in their token: leconnect must not care.
	uuids := envOptions{LiveEngageOptions: func(o *liveengage.Options) { o.ConsumerParticipantIDs = "uuid" }}
	eachChannel(t, uuids, func(t *testing.T, _ string, u channelUser) {
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
