package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
)

// A consumer taps a structured-content button (on a card of buttons only)
// and a quick reply: each click reaches LiveEngage as an ACTION accept
// status with the element's click metadata, for the agent event that
// offered it, and the text it publishes carries the same metadata first.
func TestClicksCarryTheElementsMetadata(t *testing.T) {
	button := func(title, text, externalID string) map[string]any {
		return map[string]any{"type": "button", "title": title, "click": map[string]any{
			"metadata": []any{map[string]any{"type": "ExternalId", "id": externalID}},
			"actions":  []any{map[string]any{"type": "publishText", "text": text}},
		}}
	}
	eachChannel(t, envOptions{}, func(t *testing.T, _ string, u channelUser) {
		e := u.e
		u.say("I need help with a parcel")
		conv := e.conversation("the conversation", func(c liveengage.Conversation) bool {
			return strings.Join(texts(c, "CONSUMER"), "|") == "I need help with a parcel"
		})

		card, _ := json.Marshal(map[string]any{"type": "RichContentEvent", "content": map[string]any{
			"type": "vertical", "elements": []any{button("Track my parcel", "track", "track-parcel")}}})
		cardSeq, err := e.le.AgentSendEvent(conv.ID, card, nil)
		if err != nil {
			t.Fatal(err)
		}
		u.tap("Track my parcel")
		checkClick(t, e, conv.ID, cardSeq, "track", "track-parcel")

		qr, _ := json.Marshal(map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "Anything else?",
			"quickReplies": map[string]any{"type": "quickReplies", "itemsPerRow": 2, "replies": []any{
				button("Yes", "yes", "qr-yes"), button("No", "no", "qr-no")}}})
		qrSeq, err := e.le.AgentSendEvent(conv.ID, qr, nil)
		if err != nil {
			t.Fatal(err)
		}
		u.tap("No")
		checkClick(t, e, conv.ID, qrSeq, "no", "qr-no")
	})
}

// checkClick waits for the click's ACTION and published text in the
// emulator, and checks both carry the element's ExternalId, first.
func checkClick(t *testing.T, e *env, convID string, offeredSeq int, text, externalID string) {
	t.Helper()
	type metadata []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	var action, content *liveengage.EventRecord
	e.conversation("the click in LiveEngage: ACTION, then "+text, func(c liveengage.Conversation) bool {
		action, content = nil, nil
		if c.ID != convID {
			return false
		}
		for i, r := range c.Events {
			var ev struct {
				Type         string `json:"type"`
				Status       string `json:"status"`
				Message      string `json:"message"`
				SequenceList []int  `json:"sequenceList"`
			}
			if r.Role != "CONSUMER" || json.Unmarshal(r.Event, &ev) != nil {
				continue
			}
			if ev.Type == "AcceptStatusEvent" && ev.Status == "ACTION" && len(ev.SequenceList) == 1 && ev.SequenceList[0] == offeredSeq {
				action = &c.Events[i]
			}
			if ev.Type == "ContentEvent" && ev.Message == text && action != nil {
				content = &c.Events[i]
			}
		}
		return action != nil && content != nil
	})
	for what, r := range map[string]*liveengage.EventRecord{"ACTION": action, "published text": content} {
		var md metadata
		if err := json.Unmarshal(r.Metadata, &md); err != nil || len(md) == 0 || md[0].Type != "ExternalId" || md[0].ID != externalID {
			t.Errorf("%s metadata = %s; want the element's ExternalId %q first", what, r.Metadata, externalID)
		}
	}
}
