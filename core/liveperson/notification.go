package liveperson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Notification envelope types (the "type" field of a webhook body).
const (
	TypeMessagingEventNotification = "ms.MessagingEventNotification"
	TypeExConversationNotification = "cqm.ExConversationChangeNotification"
)

// Participant roles seen in notifications.
const (
	RoleConsumer      = "CONSUMER"
	RoleAssignedAgent = "ASSIGNED_AGENT"
)

// ErrMalformedNotification: the body is not a notification we can read. → 400
var ErrMalformedNotification = errors.New("malformed webhook notification")

// Notification is one parsed webhook body: {"kind":"notification",
// "body":{"changes":[...]},"type":...}. Exactly one of Messaging and
// Conversations is filled, by Type. Unknown fields are ignored everywhere.
type Notification struct {
	Kind           string
	Type           string
	SubscriptionID string // present in some (HOWTO) bodies only
	// Messaging holds the changes of an ms.MessagingEventNotification:
	// ContentEvent, RichContentEvent, AcceptStatusEvent, ChatStateEvent.
	Messaging []MessagingChange
	// Conversations holds the changes of a
	// cqm.ExConversationChangeNotification.
	Conversations []ConversationChange
}

// MessagingChange is one messaging event.
type MessagingChange struct {
	// Sequence is nil on ChatStateEvents, which carry none.
	Sequence        *int       `json:"sequence"`
	OriginatorID    string     `json:"originatorId"`
	Originator      Originator `json:"originatorMetadata"`
	ServerTimestamp int64      `json:"serverTimestamp"` // ms; absent on ChatStateEvents
	// ConversationID is absent in the 2018 examples; use ConversationOrDialogID.
	ConversationID  string     `json:"conversationId"`
	DialogID        string     `json:"dialogId"`
	MessageAudience string     `json:"messageAudience"` // ALL or AGENTS_AND_MANAGERS
	Metadata        []Metadata `json:"metadata"`
	// Event is *ContentEvent, *RichContentEvent, *AcceptStatusEvent,
	// *ChatStateEvent or *UnknownEvent.
	Event Event `json:"-"`
	// Raw is the change as received.
	Raw json.RawMessage `json:"-"`
}

// Originator is originatorMetadata.
type Originator struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

// FromConsumer reports whether the consumer sent this event: LiveEngage
// echoes the consumer's own events, which a connector must drop.
func (m MessagingChange) FromConsumer() bool { return m.Originator.Role == RoleConsumer }

// ConversationOrDialogID is conversationId when present, else dialogId
// (equal for the MAIN dialog, which is all older bodies describe).
func (m MessagingChange) ConversationOrDialogID() string {
	if m.ConversationID != "" {
		return m.ConversationID
	}
	return m.DialogID
}

// Event is a messaging event.
type Event interface{ EventType() string }

// ContentEvent is a text message or a file.
type ContentEvent struct {
	ContentType string
	// Text is set when message is a string (text/plain and the like).
	Text string
	// File is set for hosted/file (and other object-valued) messages.
	File *HostedFile
	// QuickReplies, when present, is kept raw for the channel to render.
	QuickReplies json.RawMessage
	// Message is the raw message value.
	Message json.RawMessage
}

// HostedFile is the object message of a hosted/file ContentEvent.
type HostedFile struct {
	Caption      string `json:"caption"`
	RelativePath string `json:"relativePath"`
	FileType     string `json:"fileType"`
	Preview      string `json:"preview"`
}

// RichContentEvent is structured content. No Connector API webhook example
// is published: the element is read from "content" (agent side, NAS) or
// "message" (the ms/RichContent schema).
type RichContentEvent struct {
	Content      json.RawMessage
	QuickReplies json.RawMessage
}

// AcceptStatusEvent reports ACCEPT / READ / ACCESS / NACK / ACTION for the
// listed sequences.
type AcceptStatusEvent struct {
	Status       string
	SequenceList []int
}

// ChatStateEvent is COMPOSING, ACTIVE, PAUSE, INACTIVE, GONE or BACKGROUND.
type ChatStateEvent struct {
	ChatState string
}

// UnknownEvent is an event type this package does not model.
type UnknownEvent struct {
	Type string
	Raw  json.RawMessage
}

func (*ContentEvent) EventType() string      { return "ContentEvent" }
func (*RichContentEvent) EventType() string  { return "RichContentEvent" }
func (*AcceptStatusEvent) EventType() string { return "AcceptStatusEvent" }
func (*ChatStateEvent) EventType() string    { return "ChatStateEvent" }
func (u *UnknownEvent) EventType() string    { return u.Type }

// ConversationChange is one change of a cqm.ExConversationChangeNotification;
// it always carries the complete conversation state.
type ConversationChange struct {
	Type           string // UPSERT or DELETE
	ConversationID string // result.convId
	EffectiveTTR   int64
	Details        ConversationDetails
	Raw            json.RawMessage
}

// ConversationDetails is result.conversationDetails.
type ConversationDetails struct {
	SkillID                    string
	BrandID                    string
	Participants               []Participant
	Dialogs                    []Dialog
	State                      string // OPEN or CLOSE
	Stage                      string
	CloseReason                string
	StartTs                    int64
	EndTs                      int64
	MetaDataLastUpdateTs       int64 // orders out-of-order notifications
	TTR                        *TTR
	CSAT                       *CSATDetails
	ConversationHandlerDetails *HandlerDetails
	FirstConversation          bool
	Delay                      json.RawMessage
	Context                    json.RawMessage
}

// Participant is a conversation participant.
type Participant struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

// Dialog is one dialog of a conversation (MAIN or POST_SURVEY).
type Dialog struct {
	DialogID             string              `json:"dialogId"`
	ParticipantsDetails  []ParticipantDetail `json:"participantsDetails"`
	DialogType           string              `json:"dialogType"`
	ChannelType          string              `json:"channelType"`
	State                string              `json:"state"`
	CreationTs           int64               `json:"creationTs"`
	EndTs                int64               `json:"endTs"`
	MetaDataLastUpdateTs int64               `json:"metaDataLastUpdateTs"`
	ClosedBy             string              `json:"closedBy"`
	ClosedCause          string              `json:"closedCause"`
}

// ParticipantDetail is a dialog participant with its state.
type ParticipantDetail struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	State string `json:"state"`
}

// TTR is the time-to-respond setting.
type TTR struct {
	TTRType string `json:"ttrType"`
	Value   int64  `json:"value"`
}

// CSATDetails is the CSAT answer recorded on the conversation.
type CSATDetails struct {
	CSATRate                   int    `json:"csatRate"`
	CSATResolutionConfirmation bool   `json:"csatResolutionConfirmation"`
	Status                     string `json:"status"`
}

// HandlerDetails is conversationHandlerDetails.
type HandlerDetails struct {
	AccountID string
	SkillID   string
}

// Closed reports whether the conversation is closed.
func (d ConversationDetails) Closed() bool { return d.State == "CLOSE" }

// ConsumerID returns the CONSUMER participant's id.
func (d ConversationDetails) ConsumerID() string { return d.participant(RoleConsumer) }

// AssignedAgentID returns the ASSIGNED_AGENT's id, "" when none.
func (d ConversationDetails) AssignedAgentID() string { return d.participant(RoleAssignedAgent) }

func (d ConversationDetails) participant(role string) string {
	for _, p := range d.Participants {
		if p.Role == role {
			return p.ID
		}
	}
	return ""
}

// ActiveDialog returns the open dialog consumer messages should go to,
// preferring a POST_SURVEY one; nil when none is open.
func (d ConversationDetails) ActiveDialog() *Dialog {
	var open *Dialog
	for i := range d.Dialogs {
		dl := &d.Dialogs[i]
		if dl.State != "OPEN" {
			continue
		}
		if dl.DialogType == "POST_SURVEY" {
			return dl
		}
		if open == nil {
			open = dl
		}
	}
	return open
}

func (d *ConversationDetails) UnmarshalJSON(b []byte) error {
	var w struct {
		SkillID                    flexString      `json:"skillId"`
		BrandID                    flexString      `json:"brandId"`
		Participants               []Participant   `json:"participants"`
		Dialogs                    []Dialog        `json:"dialogs"`
		State                      string          `json:"state"`
		Stage                      string          `json:"stage"`
		CloseReason                string          `json:"closeReason"`
		StartTs                    int64           `json:"startTs"`
		EndTs                      int64           `json:"endTs"`
		MetaDataLastUpdateTs       int64           `json:"metaDataLastUpdateTs"`
		TTR                        *TTR            `json:"ttr"`
		CSAT                       *CSATDetails    `json:"csat"`
		FirstConversation          bool            `json:"firstConversation"`
		Delay                      json.RawMessage `json:"delay"`
		Context                    json.RawMessage `json:"context"`
		ConversationHandlerDetails *struct {
			AccountID flexString `json:"accountId"`
			SkillID   flexString `json:"skillId"`
		} `json:"conversationHandlerDetails"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = ConversationDetails{
		SkillID: string(w.SkillID), BrandID: string(w.BrandID), Participants: w.Participants, Dialogs: w.Dialogs,
		State: w.State, Stage: w.Stage, CloseReason: w.CloseReason, StartTs: w.StartTs, EndTs: w.EndTs,
		MetaDataLastUpdateTs: w.MetaDataLastUpdateTs, TTR: w.TTR, CSAT: w.CSAT, FirstConversation: w.FirstConversation,
		Delay: w.Delay, Context: w.Context,
	}
	if h := w.ConversationHandlerDetails; h != nil {
		d.ConversationHandlerDetails = &HandlerDetails{AccountID: string(h.AccountID), SkillID: string(h.SkillID)}
	}
	return nil
}

// ParseNotification decodes a verified webhook body. Errors wrap
// ErrMalformedNotification (→ 400).
func ParseNotification(body []byte) (*Notification, error) {
	var env struct {
		Kind string `json:"kind"`
		Type string `json:"type"`
		Body struct {
			SubscriptionID string            `json:"subscriptionId"`
			Changes        []json.RawMessage `json:"changes"`
		} `json:"body"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedNotification, err)
	}
	n := &Notification{Kind: env.Kind, Type: env.Type, SubscriptionID: env.Body.SubscriptionID}
	if env.Body.Changes == nil {
		return nil, fmt.Errorf("%w: no body.changes", ErrMalformedNotification)
	}
	for i, raw := range env.Body.Changes {
		typ := n.Type
		if typ != TypeMessagingEventNotification && typ != TypeExConversationNotification {
			// Unknown or missing envelope type: tell by shape.
			typ = guessChangeType(raw)
		}
		switch typ {
		case TypeMessagingEventNotification:
			m, err := parseMessagingChange(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: change %d: %v", ErrMalformedNotification, i, err)
			}
			n.Messaging = append(n.Messaging, m)
		case TypeExConversationNotification:
			c, err := parseConversationChange(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: change %d: %v", ErrMalformedNotification, i, err)
			}
			n.Conversations = append(n.Conversations, c)
		default:
			return nil, fmt.Errorf("%w: change %d: neither a messaging event nor a conversation change (type %q)", ErrMalformedNotification, i, env.Type)
		}
	}
	return n, nil
}

func guessChangeType(raw json.RawMessage) string {
	var probe struct {
		Event  json.RawMessage `json:"event"`
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	switch {
	case len(probe.Event) > 0:
		return TypeMessagingEventNotification
	case len(probe.Result) > 0:
		return TypeExConversationNotification
	}
	return ""
}

func parseMessagingChange(raw json.RawMessage) (MessagingChange, error) {
	// One pass over the change; the event is decoded from its own bytes.
	var w struct {
		Sequence        *int            `json:"sequence"`
		OriginatorID    string          `json:"originatorId"`
		Originator      Originator      `json:"originatorMetadata"`
		ServerTimestamp int64           `json:"serverTimestamp"`
		ConversationID  flexString      `json:"conversationId"`
		DialogID        flexString      `json:"dialogId"`
		MessageAudience string          `json:"messageAudience"`
		Metadata        []Metadata      `json:"metadata"`
		Event           json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return MessagingChange{}, err
	}
	if len(w.Event) == 0 {
		return MessagingChange{}, errors.New("no event")
	}
	ev, err := parseEvent(w.Event)
	if err != nil {
		return MessagingChange{}, err
	}
	return MessagingChange{Sequence: w.Sequence, OriginatorID: w.OriginatorID, Originator: w.Originator,
		ServerTimestamp: w.ServerTimestamp, ConversationID: string(w.ConversationID), DialogID: string(w.DialogID),
		MessageAudience: w.MessageAudience, Metadata: w.Metadata, Event: ev, Raw: raw}, nil
}

func parseEvent(raw json.RawMessage) (Event, error) {
	var e struct {
		Type         string          `json:"type"`
		ContentType  string          `json:"contentType"`
		Message      json.RawMessage `json:"message"`
		Content      json.RawMessage `json:"content"`
		QuickReplies json.RawMessage `json:"quickReplies"`
		Status       string          `json:"status"`
		SequenceList []int           `json:"sequenceList"`
		ChatState    string          `json:"chatState"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	switch e.Type {
	case "ContentEvent":
		ce := &ContentEvent{ContentType: e.ContentType, QuickReplies: e.QuickReplies, Message: e.Message}
		msg := bytes.TrimSpace(e.Message)
		switch {
		case len(msg) > 0 && msg[0] == '"':
			if err := json.Unmarshal(msg, &ce.Text); err != nil {
				return nil, fmt.Errorf("content event message: %w", err)
			}
		case len(msg) > 0 && msg[0] == '{':
			var f HostedFile
			if err := json.Unmarshal(msg, &f); err != nil {
				return nil, fmt.Errorf("content event file: %w", err)
			}
			ce.File = &f
		}
		return ce, nil
	case "RichContentEvent":
		content := e.Content
		if len(content) == 0 {
			content = e.Message
		}
		return &RichContentEvent{Content: content, QuickReplies: e.QuickReplies}, nil
	case "AcceptStatusEvent":
		return &AcceptStatusEvent{Status: e.Status, SequenceList: e.SequenceList}, nil
	case "ChatStateEvent":
		return &ChatStateEvent{ChatState: e.ChatState}, nil
	}
	return &UnknownEvent{Type: e.Type, Raw: raw}, nil
}

func parseConversationChange(raw json.RawMessage) (ConversationChange, error) {
	var w struct {
		Type   string `json:"type"`
		Result *struct {
			ConvID              flexString          `json:"convId"`
			EffectiveTTR        int64               `json:"effectiveTTR"`
			ConversationDetails ConversationDetails `json:"conversationDetails"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return ConversationChange{}, err
	}
	if w.Result == nil {
		return ConversationChange{}, errors.New("no result")
	}
	return ConversationChange{
		Type:           w.Type,
		ConversationID: string(w.Result.ConvID),
		EffectiveTTR:   w.Result.EffectiveTTR,
		Details:        w.Result.ConversationDetails,
		Raw:            raw,
	}, nil
}
