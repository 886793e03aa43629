package liveengage

import (
	"encoding/json"
	"fmt"
)

// SurveyQuestion is one question of LiveEngage's post-conversation survey,
// asked by the survey bot on the POST_SURVEY dialog.
type SurveyQuestion struct {
	Text string `json:"text"`
	// Options are offered as quick replies; none asks for free text.
	Options []string `json:"options,omitempty"`
}

// SurveyAnswer is a consumer's answer to a survey question.
type SurveyAnswer struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// DefaultSurvey is what a post-conversation survey asks unless
// Options.Survey or the close request says otherwise.
var DefaultSurvey = []SurveyQuestion{
	{Text: "How would you rate this conversation?", Options: []string{"1", "2", "3", "4", "5"}},
	{Text: "Was your issue resolved?", Options: []string{"Yes", "No"}},
}

// RoleController is the survey bot's role in the conversation.
const RoleController = "CONTROLLER"

// surveyBotID is the survey bot's participant id.
func (e *Emulator) surveyBotID() string { return nameUUID("survey-bot:" + e.opts.AccountID) }

// askLocked sends the next survey question on dialog d, or, when every
// question is answered, closes the conversation as LiveEngage does at the
// end of a survey. Caller holds c.mu.
func (e *Emulator) askLocked(c *conv, d *dialog) {
	if c.surveyNext >= len(c.survey) {
		e.closeConvLocked(c, "SURVEY", ClosedByAgent)
		return
	}
	q := c.survey[c.surveyNext]
	ev := map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": q.Text}
	if len(q.Options) > 0 {
		var replies []any
		for _, o := range q.Options {
			replies = append(replies, map[string]any{"type": "button", "title": o, "tooltip": o,
				"click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": o}}}})
		}
		ev["quickReplies"] = map[string]any{"type": "quickReplies", "itemsPerRow": len(replies), "replies": replies}
	}
	raw, _ := json.Marshal(ev)
	var head eventHead
	_ = json.Unmarshal(raw, &head)
	e.publishLocked(c, RoleController, e.surveyBotID(), d.DialogID, &head, raw, nil)
}

// surveyAnswerLocked takes a consumer's text on the survey dialog as the
// answer to the question asked, then asks the next. An answer that is not
// one of the options asks the same question again. Caller holds c.mu.
func (e *Emulator) surveyAnswerLocked(c *conv, d *dialog, text string) {
	if c.surveyNext >= len(c.survey) {
		return
	}
	q := c.survey[c.surveyNext]
	if len(q.Options) > 0 && !contains(q.Options, text) {
		e.askLocked(c, d)
		return
	}
	c.surveyAnswers = append(c.surveyAnswers, SurveyAnswer{Question: q.Text, Answer: text})
	c.surveyNext++
	e.askLocked(c, d)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AgentCloseSurvey closes the MAIN dialog as the agent and runs a
// post-conversation survey of questions (DefaultSurvey, or Options.Survey,
// when nil) on a new POST_SURVEY dialog.
func (e *Emulator) AgentCloseSurvey(id string, questions []SurveyQuestion) error {
	c, err := e.lockOpenConv(id)
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	d := c.currentDialog()
	if d.DialogType != "MAIN" {
		return fmt.Errorf("conversation %s is in its survey already: %w", id, ErrInvalidInput)
	}
	for _, q := range questions {
		if q.Text == "" {
			return fmt.Errorf("survey question without text: %w", ErrInvalidInput)
		}
	}
	e.openSurveyLocked(c, d, ClosedByAgent, "Closed by agent", questions)
	return nil
}
