package conversation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// leconnect's own closing survey: after the agent closes, CSAT (1 to 5)
// and, when the channel asks for it, FCR (was the issue resolved), each
// offered as choices the adapter renders in the channel's best form
// (buttons, numbered options on SMS). The survey's state is typed on the
// consumer's record (store.Conversation.Survey).

// Choice ids of survey answers: "csat:1".."csat:5", "fcr:yes", "fcr:no".
const (
	csatChoicePrefix = "csat:"
	fcrChoicePrefix  = "fcr:"
)

func isSurveyChoice(id string) bool {
	return strings.HasPrefix(id, csatChoicePrefix) || strings.HasPrefix(id, fcrChoicePrefix)
}

// surveyQuestion is the question of stage with its answers as choices,
// after lead (said first, e.g. that the last answer was not understood).
func surveyQuestion(s ChannelSettings, stage, lead string) sdk.OutboundMessage {
	msg := sdk.OutboundMessage{Text: s.CSATPrompt}
	if stage == store.SurveyFCR {
		msg.Text = s.FCRPrompt
		msg.QuickReplies = []sdk.Choice{{ID: fcrChoicePrefix + "yes", Text: s.FCRYes}, {ID: fcrChoicePrefix + "no", Text: s.FCRNo}}
	} else {
		for n := 1; n <= 5; n++ {
			msg.QuickReplies = append(msg.QuickReplies, sdk.Choice{ID: csatChoicePrefix + strconv.Itoa(n), Text: strconv.Itoa(n)})
		}
	}
	if lead != "" {
		msg.Text = lead + "\n" + msg.Text
	}
	return msg
}

// csatAnswer reads a CSAT answer: a tapped choice, or the number typed.
func csatAnswer(m *sdk.Message, text string) (int, bool) {
	if m.Choice != nil {
		text, _ = strings.CutPrefix(m.Choice.ID, csatChoicePrefix)
	}
	n, err := strconv.Atoi(strings.TrimSpace(text))
	return n, err == nil && n >= 1 && n <= 5
}

// fcrAnswer reads an FCR answer: a tapped choice, or the answer typed.
func fcrAnswer(s ChannelSettings, m *sdk.Message, text string) (resolved, ok bool) {
	if m.Choice != nil {
		switch m.Choice.ID {
		case fcrChoicePrefix + "yes":
			return true, true
		case fcrChoicePrefix + "no":
			return false, true
		}
	}
	switch {
	case strings.EqualFold(text, s.FCRYes):
		return true, true
	case strings.EqualFold(text, s.FCRNo):
		return false, true
	}
	return false, false
}

// survey takes the consumer's message as an answer to the survey under
// way. answered is false when the survey is over without the message being
// an answer (it timed out, or a second wrong answer ended it): the caller
// lets the message open a new conversation.
func (in *inbound) survey(ctx context.Context, c store.Consumer, m *sdk.Message, text string) (r result, answered bool) {
	s := c.Conversation.Survey
	if s.Stage == "" { // a record from before surveys had stages
		s = store.Survey{Stage: store.SurveyCSAT, AskedAt: c.Conversation.ClosedAt}
	}
	if timeout := in.settings.SurveyTimeout; timeout > 0 && !s.AskedAt.IsZero() && time.Since(s.AskedAt) > timeout {
		in.log("survey abandoned: no answer in time", "conversation_id", c.Conversation.ID, "asked_at", s.AskedAt)
		return in.endSurvey(ctx, c, s, false)
	}
	switch s.Stage {
	case store.SurveyCSAT:
		rate, valid := csatAnswer(m, text)
		if !valid {
			return in.wrongAnswer(ctx, c, s)
		}
		if in.settings.FCRPrompt == "" {
			// CSAT only: PARTIALLY_FILLED says FCR was not asked (the
			// schema wants csatResolutionConfirmation set all the same).
			return in.submitSurvey(ctx, c, liveperson.CSAT{Rate: rate, Status: "PARTIALLY_FILLED"})
		}
		if err := in.tell(ctx, c, surveyQuestion(in.settings, store.SurveyFCR, ""), "fcr"); err != nil {
			return adapterResult(err), true
		}
		_, err := in.update(ctx, func(c *store.Consumer) {
			c.Conversation.Survey = store.Survey{Stage: store.SurveyFCR, Rate: rate, AskedAt: time.Now()}
		})
		if err != nil {
			return retryLater(err), true
		}
		in.log("csat answered; fcr asked", "conversation_id", c.Conversation.ID, "rate", rate)
		return ok(), true
	case store.SurveyFCR:
		resolved, valid := fcrAnswer(in.settings, m, text)
		if !valid {
			return in.wrongAnswer(ctx, c, s)
		}
		return in.submitSurvey(ctx, c, liveperson.CSAT{Rate: s.Rate, Resolved: resolved, Status: "FILLED"})
	}
	return in.endSurvey(ctx, c, s, false)
}

// wrongAnswer asks the question again, once; a second wrong answer ends
// the survey politely.
func (in *inbound) wrongAnswer(ctx context.Context, c store.Consumer, s store.Survey) (result, bool) {
	if s.Retried {
		in.log("a second answer the survey cannot read; survey over", "conversation_id", c.Conversation.ID)
		return in.endSurvey(ctx, c, s, true)
	}
	if err := in.tell(ctx, c, surveyQuestion(in.settings, s.Stage, in.settings.SurveyRetry), s.Stage+"-again"); err != nil {
		return adapterResult(err), true
	}
	s.Retried = true
	if _, err := in.update(ctx, func(c *store.Consumer) { c.Conversation.Survey = s }); err != nil {
		return retryLater(err), true
	}
	return ok(), true
}

// submitSurvey records a finished survey in LiveEngage and thanks the
// consumer.
func (in *inbound) submitSurvey(ctx context.Context, c store.Consumer, answers liveperson.CSAT) (result, bool) {
	if r, done := in.finishSurvey(ctx, c, &answers, true); !done {
		return r, true
	}
	in.log("survey recorded", "conversation_id", c.Conversation.ID, "rate", answers.Rate, "status", answers.Status)
	return ok(), true
}

// endSurvey ends a survey that was not finished: a CSAT answer already
// given is recorded as such (PARTIALLY_FILLED); polite ends the survey
// with thanks. The message at hand is not an answer.
func (in *inbound) endSurvey(ctx context.Context, c store.Consumer, s store.Survey, polite bool) (result, bool) {
	var answers *liveperson.CSAT
	if s.Rate > 0 {
		answers = &liveperson.CSAT{Rate: s.Rate, Status: "PARTIALLY_FILLED"}
	}
	if r, done := in.finishSurvey(ctx, c, answers, polite); !done {
		return r, true
	}
	return result{}, false
}

// finishSurvey records answers (if any) in LiveEngage, thanks the consumer
// (if thank) and closes the survey; done is false, with the verdict to
// retry by, when a step failed.
func (in *inbound) finishSurvey(ctx context.Context, c store.Consumer, answers *liveperson.CSAT, thank bool) (r result, done bool) {
	if answers != nil {
		err := in.e.opts.LiveEngage.SubmitCSAT(ctx, in.conversation(c), *answers)
		if err != nil && !errors.Is(err, liveperson.ErrConversationClosed) {
			return liveEngageResult(err), false
		}
	}
	if thank && in.settings.SurveyThanks != "" {
		if err := in.tell(ctx, c, sdk.OutboundMessage{Text: in.settings.SurveyThanks}, "thanks"); err != nil {
			return adapterResult(err), false
		}
	}
	if err := in.closeSurvey(ctx); err != nil {
		return retryLater(err), false
	}
	return ok(), true
}

func (in *inbound) closeSurvey(ctx context.Context) error {
	_, err := in.update(ctx, func(c *store.Consumer) {
		if c.Conversation.State == store.StateCSATPending {
			c.Conversation.State = store.StateClosed
			c.Conversation.Survey = store.Survey{}
		}
	})
	return err
}

// tell sends a message of the engine's own to the consumer, keyed by the
// event at hand, so a retry of this item does not send it twice.
func (in *inbound) tell(ctx context.Context, c store.Consumer, msg sdk.OutboundMessage, what string) error {
	a, running := in.e.opts.Adapters.Adapter(in.channel)
	if !running {
		return sdk.NotConnected(fmt.Errorf("channel %q has no running adapter", in.channel))
	}
	msg.To = sdk.Address{ChatID: c.Address.ChatID, ThreadID: c.Address.ThreadID}
	msg.IdempotencyKey = "lc:" + c.Conversation.ID + ":survey:" + what + ":" + in.ev.ID
	_, err := a.Send(ctx, msg)
	return err
}
