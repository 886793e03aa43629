package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
)

const (
	csatQuestion = "How would you rate us from 1 to 5?"
	fcrQuestion  = "Was your issue resolved?"
	surveyRetry  = "Sorry, I did not get that."
	surveyThanks = "Thank you for your feedback!"
)

// leconnect's own closing survey: CSAT then FCR, offered as buttons on
// Telegram and Slack and as numbered options on SMS, answered so; a wrong
// answer gets the question again; both answers land in LiveEngage's
// conversation record as documented.
func TestClosingSurveyCSATAndFCR(t *testing.T) {
	o := envOptions{CSATPrompt: csatQuestion, ConversationYAML: "fcr_prompt: \"" + fcrQuestion + "\""}
	eachChannel(t, o, func(t *testing.T, name string, u channelUser) {
		e := u.e
		u.say("Can you change my address?")
		conv := e.conversation("the conversation", func(c liveengage.Conversation) bool {
			return strings.Join(texts(c, "CONSUMER"), "|") == "Can you change my address?"
		})
		if err := e.le.AgentClose(conv.ID, false); err != nil {
			t.Fatal(err)
		}
		u.received("the CSAT question", csatQuestion)
		u.say("seven")
		u.received("the CSAT question asked again", surveyRetry+"\n"+csatQuestion)
		u.tap("4")
		u.received("the FCR question", fcrQuestion)
		u.tap("Yes")
		u.received("the thanks", surveyThanks)
		rated := e.conversation("CSAT and FCR in LiveEngage", func(c liveengage.Conversation) bool { return c.ID == conv.ID && c.CSAT != nil })
		if *rated.CSAT != (liveengage.CSAT{CSATRate: 4, CSATResolutionConfirmation: true, Status: "FILLED"}) {
			t.Fatalf("CSAT in LiveEngage %+v; want 4, resolved, FILLED", *rated.CSAT)
		}
		if got := strings.Join(texts(rated, "CONSUMER"), "|"); got != "Can you change my address?" {
			t.Fatalf("survey answers leaked into the conversation: %q", got)
		}
		// After the survey, the next message opens a new conversation.
		u.say("And my phone number?")
		e.conversation("a new conversation", func(c liveengage.Conversation) bool {
			return c.ID != conv.ID && strings.Join(texts(c, "CONSUMER"), "|") == "And my phone number?"
		})
	})
}

// CSAT only (no FCR asked) says so with PARTIALLY_FILLED; an unanswered
// survey is abandoned after its timeout and the next message opens a new
// conversation.
func TestClosingSurveyCSATOnlyAndTimeout(t *testing.T) {
	u := telegramUser(t, envOptions{CSATPrompt: csatQuestion, ConversationYAML: "survey_timeout: 1s"})
	e := u.e
	u.say("First question")
	first := e.conversation("the first conversation", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "First question"
	})
	if err := e.le.AgentClose(first.ID, false); err != nil {
		t.Fatal(err)
	}
	u.received("the CSAT question", csatQuestion)
	u.tap("5")
	u.received("the thanks", surveyThanks)
	rated := e.conversation("CSAT in LiveEngage", func(c liveengage.Conversation) bool { return c.ID == first.ID && c.CSAT != nil })
	if rated.CSAT.CSATRate != 5 || rated.CSAT.Status != "PARTIALLY_FILLED" {
		t.Fatalf("CSAT only: %+v; want 5 and PARTIALLY_FILLED (FCR not asked)", *rated.CSAT)
	}

	u.say("Second question")
	second := e.conversation("the second conversation", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Second question"
	})
	if err := e.le.AgentClose(second.ID, false); err != nil {
		t.Fatal(err)
	}
	u.received("the CSAT question again", csatQuestion)
	time.Sleep(1500 * time.Millisecond) // past survey_timeout
	u.say("3")
	third := e.conversation("the answer after the timeout opening a new conversation", func(c liveengage.Conversation) bool {
		return c.ID != first.ID && c.ID != second.ID && strings.Join(texts(c, "CONSUMER"), "|") == "3"
	})
	if s, _ := e.le.Conversation(second.ID); s.CSAT != nil {
		t.Fatalf("an abandoned survey was recorded: %+v", *s.CSAT)
	}
	if third.State != "OPEN" {
		t.Fatalf("new conversation %s", third.State)
	}
}
