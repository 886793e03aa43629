package liveperson

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMessagingSamples(t *testing.T) {
	tests := []struct {
		file         string
		conversation string // ConversationOrDialogID
		role         string
		sequence     int // -1: absent
		check        func(t *testing.T, ev Event)
	}{
		{"webhook-content-event-consumer.json", "5491244f-e462-4c63-bf4e-faf4b2d3e7b5", RoleConsumer, 0, func(t *testing.T, ev Event) {
			if ce := ev.(*ContentEvent); ce.Text != "Hello from Consumer" || ce.ContentType != "text/plain" {
				t.Errorf("content = %+v", ce)
			}
		}},
		{"webhook-content-event-agent.json", "5491244f-e462-4c63-bf4e-faf4b2d3e7b5", RoleAssignedAgent, 2, func(t *testing.T, ev Event) {
			if ce := ev.(*ContentEvent); ce.Text != "Hello from the Agent\n" {
				t.Errorf("text = %q", ce.Text)
			}
		}},
		{"webhook-content-event-consumer-with-audience.json", "4fe52a76-7316-45fe-acf3-482cfb621d9c", RoleConsumer, 39, nil},
		{"webhook-content-event-agent-non-ascii.json", "5491244f-e462-4c63-bf4e-faf4b2d3e7b5", RoleAssignedAgent, 3, func(t *testing.T, ev Event) {
			if ce := ev.(*ContentEvent); ce.Text != "Привет 👋 — ça va? 日本語 <b>&</b> é" {
				t.Errorf("text = %q", ce.Text)
			}
		}},
		{"webhook-accept-status-read-agent.json", "5491244f-e462-4c63-bf4e-faf4b2d3e7b5", RoleAssignedAgent, 1, func(t *testing.T, ev Event) {
			if as := ev.(*AcceptStatusEvent); as.Status != "READ" || len(as.SequenceList) != 1 || as.SequenceList[0] != 0 {
				t.Errorf("accept status = %+v", as)
			}
		}},
		{"webhook-accept-status-read-agent-demoapp.json", "f66ad121-8dcb-4430-9fc2-731e961f6eae", RoleAssignedAgent, 9, nil},
		{"webhook-chat-state-composing-agent.json", "5491244f-e462-4c63-bf4e-faf4b2d3e7b5", RoleAssignedAgent, -1, func(t *testing.T, ev Event) {
			if cs := ev.(*ChatStateEvent); cs.ChatState != "COMPOSING" {
				t.Errorf("chat state = %+v", cs)
			}
		}},
		{"webhook-chat-state-composing-agent-demoapp.json", "b3aea67d-01ca-4bf7-af4f-9897cf6b77a7", RoleAssignedAgent, -1, nil},
		{"webhook-chat-state-active-agent.json", "5491244f-e462-4c63-bf4e-faf4b2d3e7b5", RoleAssignedAgent, -1, nil},
		{"webhook-chat-state-active-consumer-demoapp.json", "b3aea67d-01ca-4bf7-af4f-9897cf6b77a7", RoleConsumer, -1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			n, err := ParseNotification(readTestdata(t, tc.file))
			if err != nil {
				t.Fatalf("ParseNotification: %v", err)
			}
			if n.Type != TypeMessagingEventNotification || len(n.Messaging) != 1 || len(n.Conversations) != 0 {
				t.Fatalf("notification = %+v", n)
			}
			m := n.Messaging[0]
			if m.ConversationOrDialogID() != tc.conversation {
				t.Errorf("conversation = %q, want %q", m.ConversationOrDialogID(), tc.conversation)
			}
			if m.Originator.Role != tc.role || m.FromConsumer() != (tc.role == RoleConsumer) {
				t.Errorf("role = %q", m.Originator.Role)
			}
			switch {
			case tc.sequence < 0 && m.Sequence != nil:
				t.Errorf("sequence = %d, want absent", *m.Sequence)
			case tc.sequence >= 0 && (m.Sequence == nil || *m.Sequence != tc.sequence):
				t.Errorf("sequence = %v, want %d", m.Sequence, tc.sequence)
			}
			if tc.check != nil {
				tc.check(t, m.Event)
			}
		})
	}
}

func TestParseConversationSamples(t *testing.T) {
	tests := []struct {
		file         string
		conversation string
		agent        string
		skill        string
		subscription string
		dialogs      int
	}{
		{"webhook-exconversation-created-minimal.json", "5491244f-e462-4c63-bf4e-faf4b2d3e7b5", "", "", "", 0},
		{"webhook-exconversation-agent-assigned-minimal.json", "5491244f-e462-4c63-bf4e-faf4b2d3e7b5", "29c3019d-fe0b-5200-afe8-737abfeae4b4", "", "", 0},
		{"webhook-exconversation-created-full.json", "f2384f56-57d5-4087-bd47-8df0ec3102f6", "", "558327413", "ea7ecc5a-58c4-4a16-9510-4868bef08d79", 1},
		{"webhook-exconversation-agent-joined-full.json", "f2384f56-57d5-4087-bd47-8df0ec3102f6", "e9b2867c-f984-5727-b034-fc9c6800bd9c", "558327413", "ea7ecc5a-58c4-4a16-9510-4868bef08d79", 1},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			n, err := ParseNotification(readTestdata(t, tc.file))
			if err != nil {
				t.Fatalf("ParseNotification: %v", err)
			}
			if n.Type != TypeExConversationNotification || len(n.Conversations) != 1 {
				t.Fatalf("notification = %+v", n)
			}
			c := n.Conversations[0]
			d := c.Details
			if c.Type != "UPSERT" || c.ConversationID != tc.conversation || d.Closed() || d.State != "OPEN" {
				t.Errorf("change = %+v", c)
			}
			if d.AssignedAgentID() != tc.agent || d.SkillID != tc.skill || n.SubscriptionID != tc.subscription {
				t.Errorf("agent %q skill %q subscription %q", d.AssignedAgentID(), d.SkillID, n.SubscriptionID)
			}
			if d.ConsumerID() == "" || d.TTR == nil || d.TTR.TTRType != "PRIORITIZED" || d.MetaDataLastUpdateTs == 0 {
				t.Errorf("details = %+v", d)
			}
			if len(d.Dialogs) != tc.dialogs {
				t.Errorf("dialogs = %d, want %d", len(d.Dialogs), tc.dialogs)
			}
			if tc.dialogs > 0 && (d.ActiveDialog() == nil || d.ActiveDialog().DialogType != "MAIN") {
				t.Errorf("active dialog = %+v", d.ActiveDialog())
			}
		})
	}
}

func TestParseVariants(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, n *Notification)
	}{
		{"rich content under content, unknown fields ignored", `{"kind":"notification","type":"ms.MessagingEventNotification","extra":1,
			"body":{"changes":[{"sequence":4,"originatorMetadata":{"id":"a","role":"ASSIGNED_AGENT","x":true},"dialogId":"d",
			"metadata":[{"type":"ExternalId","id":"card-1"}],
			"event":{"type":"RichContentEvent","content":{"type":"vertical","elements":[]},"new":"field"}}]}}`,
			func(t *testing.T, n *Notification) {
				rc := n.Messaging[0].Event.(*RichContentEvent)
				if len(rc.Content) == 0 || n.Messaging[0].Metadata[0]["id"] != "card-1" {
					t.Errorf("rich content = %s, metadata %v", rc.Content, n.Messaging[0].Metadata)
				}
			}},
		{"rich content under message", `{"kind":"notification","type":"ms.MessagingEventNotification",
			"body":{"changes":[{"dialogId":"d","event":{"type":"RichContentEvent","message":{"type":"vertical"}}}]}}`,
			func(t *testing.T, n *Notification) {
				if rc := n.Messaging[0].Event.(*RichContentEvent); string(rc.Content) != `{"type":"vertical"}` {
					t.Errorf("content = %s", rc.Content)
				}
			}},
		{"hosted file", `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":5,"dialogId":"d",
			"event":{"type":"ContentEvent","contentType":"hosted/file","message":{"caption":"c","relativePath":"/v1/x.PNG","fileType":"PNG"}}}]}}`,
			func(t *testing.T, n *Notification) {
				if f := n.Messaging[0].Event.(*ContentEvent).File; f == nil || f.RelativePath != "/v1/x.PNG" {
					t.Errorf("file = %+v", f)
				}
			}},
		{"unknown event type kept", `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"dialogId":"d","event":{"type":"FutureEvent"}}]}}`,
			func(t *testing.T, n *Notification) {
				if u, ok := n.Messaging[0].Event.(*UnknownEvent); !ok || u.EventType() != "FutureEvent" {
					t.Errorf("event = %#v", n.Messaging[0].Event)
				}
			}},
		{"numeric skill id, closed with survey dialog", `{"kind":"notification","type":"cqm.ExConversationChangeNotification","body":{"changes":[{"type":"UPSERT",
			"result":{"convId":"c1","conversationDetails":{"skillId":-1,"state":"CLOSE","closeReason":"CONSUMER",
			"dialogs":[{"dialogId":"c1","dialogType":"MAIN","state":"CLOSE"},{"dialogId":"s1","dialogType":"POST_SURVEY","state":"OPEN"}],
			"csat":{"csatRate":5,"csatResolutionConfirmation":true,"status":"FILLED"}}}}]}}`,
			func(t *testing.T, n *Notification) {
				d := n.Conversations[0].Details
				if d.SkillID != "-1" || !d.Closed() || d.ActiveDialog().DialogID != "s1" || d.CSAT.CSATRate != 5 {
					t.Errorf("details = %+v", d)
				}
			}},
		{"missing envelope type guessed by shape", `{"body":{"changes":[{"type":"UPSERT","result":{"convId":"c2","conversationDetails":{}}}]}}`,
			func(t *testing.T, n *Notification) {
				if len(n.Conversations) != 1 || n.Conversations[0].ConversationID != "c2" {
					t.Errorf("notification = %+v", n)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseNotification([]byte(tc.body))
			if err != nil {
				t.Fatalf("ParseNotification: %v", err)
			}
			tc.check(t, n)
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      `{"kind":`,
		"no changes":    `{"kind":"notification","type":"ms.MessagingEventNotification","body":{}}`,
		"no event":      `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"dialogId":"d"}]}}`,
		"shapeless":     `{"kind":"notification","body":{"changes":[{"x":1}]}}`,
		"cqm no result": `{"kind":"notification","type":"cqm.ExConversationChangeNotification","body":{"changes":[{"type":"UPSERT"}]}}`,
		// encoding/json's depth limit (10,000) refuses this without
		// recursing 100,000 deep; the body cap bounds the rest.
		"too deep": `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[` +
			strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseNotification([]byte(body))
			if !errors.Is(err, ErrMalformedNotification) || WebhookStatus(err) != 400 {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// Bytes that are not UTF-8 in an agent's text (LiveEngage signs what it
// sends, whatever it is) become U+FFFD, not an error: the consumer gets
// the message, and the adapter protocol, which refuses such strings, can
// carry it.
func TestTextThatIsNotUTF8(t *testing.T) {
	body := `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":3,` +
		`"originatorId":"a1","originatorMetadata":{"id":"a1","role":"ASSIGNED_AGENT"},"serverTimestamp":1,` +
		`"event":{"type":"ContentEvent","contentType":"text/plain","message":"` + "caf\xe9 \xff" + `"},"conversationId":"c","dialogId":"c"}]}}`
	n, err := ParseNotification([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	ce, ok := n.Messaging[0].Event.(*ContentEvent)
	if !ok || ce.Text != "caf\uFFFD \uFFFD" {
		t.Fatalf("event %#v", n.Messaging[0].Event)
	}
}
