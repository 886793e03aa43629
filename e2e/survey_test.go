package e2e

import (
	"strings"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
)

// LiveEngage runs its post-conversation survey after the agent closes: its
// two questions reach the consumer, each answer goes back to the survey
// dialog with a bounded number of Send API calls (no loop), and the
// conversation ends when LiveEngage closes the survey. leconnect's own CSAT
// question is not asked on top.
func TestLiveEngagePostConversationSurvey(t *testing.T) {
	const ourCSAT = "Please rate us from 1 to 5"
	for name, newUser := range map[string]func(*testing.T) channelUser{
		"telegram": func(t *testing.T) channelUser { return telegramUser(t, envOptions{CSATPrompt: ourCSAT}) },
		"sms":      func(t *testing.T) channelUser { return smsUser(t, envOptions{}) },
	} {
		t.Run(name, func(t *testing.T) {
			u := newUser(t)
			e := u.e
			u.say("My order never came")
			conv := e.conversation("the conversation", func(c liveengage.Conversation) bool {
				return strings.Join(texts(c, "CONSUMER"), "|") == "My order never came"
			})
			if _, err := e.le.AgentSend(conv.ID, "A new one is on its way."); err != nil {
				t.Fatal(err)
			}
			u.received("the agent's answer", "A new one is on its way.")

			if err := e.le.AgentCloseSurvey(conv.ID, nil); err != nil {
				t.Fatal(err)
			}
			for i, answer := range []string{"4", "Yes"} {
				q := liveengage.DefaultSurvey[i]
				u.received("survey question "+q.Text, q.Text)
				before := e.le.Calls(liveengage.EndpointSend)
				u.tap(answer)
				e.conversation("the answer to "+q.Text, func(c liveengage.Conversation) bool {
					return c.ID == conv.ID && len(c.SurveyAnswers) == i+1
				})
				calls := e.le.Calls(liveengage.EndpointSend) - before
				t.Logf("answering %q: %d Send API calls", q.Text, calls)
				if calls > 6 {
					t.Fatalf("answering %q took %d Send API calls; want a handful", q.Text, calls)
				}
			}
			done := e.conversation("the survey over and the conversation closed", func(c liveengage.Conversation) bool {
				return c.ID == conv.ID && c.State == "CLOSE"
			})
			want := []liveengage.SurveyAnswer{{Question: liveengage.DefaultSurvey[0].Text, Answer: "4"}, {Question: liveengage.DefaultSurvey[1].Text, Answer: "Yes"}}
			if len(done.SurveyAnswers) != 2 || done.SurveyAnswers[0] != want[0] || done.SurveyAnswers[1] != want[1] {
				t.Fatalf("survey answers %+v, want %+v", done.SurveyAnswers, want)
			}
			u.received("the closing message", "This conversation has ended. Thank you for contacting us.")
			if n := u.count(ourCSAT); n != 0 {
				t.Fatalf("leconnect asked its own CSAT question %d times after LiveEngage's survey", n)
			}
			// The next message opens a new conversation.
			u.say("One more thing")
			e.conversation("a new conversation", func(c liveengage.Conversation) bool {
				return c.ID != conv.ID && c.State == "OPEN" && strings.Join(texts(c, "CONSUMER"), "|") == "One more thing"
			})
		})
	}
}
