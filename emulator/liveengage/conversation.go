package liveengage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// Roles as they appear in originatorMetadata and participants.
const (
	RoleConsumer      = "CONSUMER"
	RoleAssignedAgent = "ASSIGNED_AGENT"
)

// Conversation is a snapshot of one conversation, as served by
// GET /emulator/api/conversations.
type Conversation struct {
	ID    string `json:"id"`
	State string `json:"state"` // OPEN or CLOSE
	// ConsumerID is the ext_consumer_id; LPConsumerID the lp_consumer_id;
	// ParticipantID what notifications call the consumer.
	ConsumerID    string    `json:"consumerId"`
	LPConsumerID  string    `json:"lpConsumerId"`
	ParticipantID string    `json:"participantId"`
	Messages      []Message `json:"messages"`

	SkillID string `json:"skillId"`
	// SurveyAnswers are the consumer's answers to the post-conversation survey.
	SurveyAnswers    []SurveyAnswer  `json:"surveyAnswers,omitempty"`
	AgentID          string          `json:"agentId,omitempty"`
	Dialogs          []Dialog        `json:"dialogs"`
	TTRDefName       string          `json:"ttrDefName,omitempty"`
	CampaignInfo     json.RawMessage `json:"campaignInfo,omitempty"`
	Context          json.RawMessage `json:"conversationContext,omitempty"`
	UserProfile      json.RawMessage `json:"userProfile,omitempty"`
	ClientProperties json.RawMessage `json:"clientProperties,omitempty"`
	CSAT             *CSAT           `json:"csat,omitempty"`
	CloseReason      string          `json:"closeReason,omitempty"`
	StartTs          int64           `json:"startTs"`
	EndTs            int64           `json:"endTs,omitempty"`
	// Events is every messaging event in order, including chat states and
	// accept statuses, with the full event object.
	Events []EventRecord `json:"events"`
}

// Message is one ContentEvent of a conversation, in sequence order.
type Message struct {
	Sequence int    `json:"sequence"`
	Role     string `json:"role"`
	Text     string `json:"text"`
}

// Dialog is one dialog of a conversation (MAIN or POST_SURVEY).
type Dialog struct {
	DialogID    string `json:"dialogId"`
	DialogType  string `json:"dialogType"`
	State       string `json:"state"`
	CreationTs  int64  `json:"creationTs"`
	EndTs       int64  `json:"endTs,omitempty"`
	ClosedBy    string `json:"closedBy,omitempty"`
	ClosedCause string `json:"closedCause,omitempty"`
}

// EventRecord is one messaging event as recorded by the emulator.
type EventRecord struct {
	Sequence        *int            `json:"sequence,omitempty"`
	Role            string          `json:"role"`
	OriginatorID    string          `json:"originatorId"`
	DialogID        string          `json:"dialogId"`
	ServerTimestamp int64           `json:"serverTimestamp"`
	Event           json.RawMessage `json:"event"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
}

// CSAT is the recorded CSATRate field (csatResolutionConfirmation = FCR).
type CSAT struct {
	CSATRate                   int    `json:"csatRate"`
	CSATResolutionConfirmation bool   `json:"csatResolutionConfirmation"`
	Status                     string `json:"status"`
}

type dialog struct {
	Dialog
	metaTs int64
}

type conv struct {
	mu sync.Mutex

	id, extID, lpID string
	participantID   string // the consumer in notifications
	state           string
	skillID         string
	ttrDefName      string
	campaign        json.RawMessage
	context         json.RawMessage
	profile         json.RawMessage
	clientProps     json.RawMessage
	agentID         string
	dialogs         []*dialog
	nextSeq         int
	messages        []Message
	events          []EventRecord
	csat            *CSAT
	closeReason     string
	survey          []SurveyQuestion // the post-conversation survey's questions
	surveyNext      int              // the question being asked
	surveyAnswers   []SurveyAnswer
	startTs, endTs  int64
	metaTs          int64
	lane            int
}

// currentDialog is the newest open dialog, or the last one when all are closed.
func (c *conv) currentDialog() *dialog {
	for i := len(c.dialogs) - 1; i >= 0; i-- {
		if c.dialogs[i].State == "OPEN" {
			return c.dialogs[i]
		}
	}
	return c.dialogs[len(c.dialogs)-1]
}

func (c *conv) dialog(id string) *dialog {
	for _, d := range c.dialogs {
		if d.DialogID == id {
			return d
		}
	}
	return nil
}

// touch advances metaDataLastUpdateTs strictly, so receivers can order
// ExConversationChangeNotifications by it.
func (c *conv) touch() int64 {
	now := nowMs()
	if now <= c.metaTs {
		now = c.metaTs + 1
	}
	c.metaTs = now
	return now
}

func (c *conv) snapshot() Conversation {
	out := Conversation{
		ID: c.id, State: c.state, ConsumerID: c.extID, LPConsumerID: c.lpID, ParticipantID: c.participantID,
		Messages: append([]Message{}, c.messages...),
		SkillID:  c.skillID, AgentID: c.agentID, TTRDefName: c.ttrDefName,
		CampaignInfo: c.campaign, Context: c.context, UserProfile: c.profile,
		ClientProperties: c.clientProps, CloseReason: c.closeReason,
		StartTs: c.startTs, EndTs: c.endTs, SurveyAnswers: append([]SurveyAnswer(nil), c.surveyAnswers...),
		Events: append([]EventRecord{}, c.events...),
	}
	if c.csat != nil {
		v := *c.csat
		out.CSAT = &v
	}
	for _, d := range c.dialogs {
		out.Dialogs = append(out.Dialogs, d.Dialog)
	}
	return out
}

// conversationStore indexes conversations. Its lock guards only the maps;
// each conversation has its own lock, so SENDs to different conversations
// never contend beyond a read lock.
type conversationStore struct {
	mu             sync.RWMutex
	byID           map[string]*conv
	byDialog       map[string]*conv
	openByConsumer map[string]*conv
	order          []*conv
}

func newConversationStore() *conversationStore {
	return &conversationStore{
		byID:           map[string]*conv{},
		byDialog:       map[string]*conv{},
		openByConsumer: map[string]*conv{},
	}
}

func (s *conversationStore) get(id string) *conv {
	s.mu.RLock()
	c := s.byID[id]
	s.mu.RUnlock()
	return c
}

func (s *conversationStore) getByDialog(id string) *conv {
	s.mu.RLock()
	c := s.byDialog[id]
	s.mu.RUnlock()
	return c
}

// register adds c, a new open conversation, unless its consumer has one
// open already. On success c is returned locked, so that its "created"
// notification is queued (emit, then unlock) before any event a concurrent
// SEND could add.
func (s *conversationStore) register(c *conv) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.openByConsumer[c.lpID]; busy {
		return false
	}
	s.openByConsumer[c.lpID] = c
	s.byID[c.id] = c
	s.byDialog[c.id] = c
	s.order = append(s.order, c)
	c.mu.Lock()
	return true
}

func (s *conversationStore) addDialog(c *conv, dialogID string) {
	s.mu.Lock()
	s.byDialog[dialogID] = c
	s.mu.Unlock()
}

func (s *conversationStore) closed(c *conv) {
	s.mu.Lock()
	if s.openByConsumer[c.lpID] == c {
		delete(s.openByConsumer, c.lpID)
	}
	s.mu.Unlock()
}

// Conversations returns a snapshot of every conversation, oldest first.
func (e *Emulator) Conversations() []Conversation {
	e.convs.mu.RLock()
	list := append([]*conv{}, e.convs.order...)
	e.convs.mu.RUnlock()
	out := make([]Conversation, 0, len(list))
	for _, c := range list {
		c.mu.Lock()
		out = append(out, c.snapshot())
		c.mu.Unlock()
	}
	return out
}

// Conversation returns one conversation by id.
func (e *Emulator) Conversation(id string) (Conversation, bool) {
	c := e.convs.get(id)
	if c == nil {
		return Conversation{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshot(), true
}

// Reset forgets every conversation and uploaded file. Issued tokens stay
// valid and queued webhooks are still delivered.
func (e *Emulator) Reset() {
	e.convs.mu.Lock()
	e.convs.byID = map[string]*conv{}
	e.convs.byDialog = map[string]*conv{}
	e.convs.openByConsumer = map[string]*conv{}
	e.convs.order = nil
	e.convs.mu.Unlock()
	e.files.reset()
}

// lockConv finds and locks a conversation for an agent action.
func (e *Emulator) lockConv(id string) (*conv, error) {
	c := e.convs.get(id)
	if c == nil {
		return nil, fmt.Errorf("conversation %s: %w", id, ErrNotFound)
	}
	c.mu.Lock()
	return c, nil
}

// lockOpenConv is lockConv for an action only an open conversation takes:
// a closed one is ErrClosed (and left unlocked).
func (e *Emulator) lockOpenConv(id string) (*conv, error) {
	c, err := e.lockConv(id)
	if err != nil {
		return nil, err
	}
	if c.state != "OPEN" {
		c.mu.Unlock()
		return nil, fmt.Errorf("conversation %s: %w", id, ErrClosed)
	}
	return c, nil
}

// assignLocked makes the emulated agent the ASSIGNED_AGENT. Caller holds c.mu.
func (e *Emulator) assignLocked(c *conv) {
	if c.agentID != "" {
		return
	}
	c.agentID = e.opts.AgentID
	c.touch()
	e.emitConversationLocked(c)
}

// AgentAccept makes the emulated agent accept (join) the conversation; it
// emits the "agent assigned" ExConversationChangeNotification.
func (e *Emulator) AgentAccept(id string) error {
	c, err := e.lockOpenConv(id)
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	e.assignLocked(c)
	return nil
}

// AgentSend sends a text ContentEvent as the assigned agent (joining first
// if nobody is assigned) and returns its sequence number.
func (e *Emulator) AgentSend(id, text string) (int, error) {
	ev, _ := json.Marshal(struct {
		Type        string `json:"type"`
		Message     string `json:"message"`
		ContentType string `json:"contentType"`
	}{"ContentEvent", text, "text/plain"})
	return e.AgentSendEvent(id, ev, nil)
}

// AgentSendEvent publishes any agent-side messaging event: a ContentEvent
// (optionally with quickReplies), a RichContentEvent (structured content,
// key "content"), an AcceptStatusEvent or a ChatStateEvent. metadata, if
// not nil, is the change's metadata array.
func (e *Emulator) AgentSendEvent(id string, event, metadata json.RawMessage) (int, error) {
	var head eventHead
	if err := json.Unmarshal(event, &head); err != nil {
		return 0, fmt.Errorf("agent event: %w: %w", ErrInvalidInput, err)
	}
	switch head.Type {
	case "ContentEvent", "RichContentEvent", "AcceptStatusEvent", "ChatStateEvent":
	default:
		return 0, fmt.Errorf("agent event type %q: %w", head.Type, ErrInvalidInput)
	}
	c, err := e.lockOpenConv(id)
	if err != nil {
		return 0, err
	}
	defer c.mu.Unlock()
	e.assignLocked(c)
	d := c.currentDialog()
	return e.publishLocked(c, RoleAssignedAgent, c.agentID, d.DialogID, &head, event, metadata), nil
}

// AgentTyping sends a ChatStateEvent (COMPOSING, ACTIVE, PAUSE, …) as the agent.
func (e *Emulator) AgentTyping(id, chatState string) error {
	if chatState == "" {
		return fmt.Errorf("chat state: %w", ErrInvalidInput)
	}
	ev, _ := json.Marshal(map[string]string{"type": "ChatStateEvent", "chatState": chatState})
	_, err := e.AgentSendEvent(id, ev, nil)
	return err
}

// AgentAcceptStatus sends an AcceptStatusEvent (ACCEPT, READ, …) as the
// agent for the consumer's messages in seqs and returns its sequence.
func (e *Emulator) AgentAcceptStatus(id, status string, seqs []int) (int, error) {
	if status == "" || len(seqs) == 0 {
		return 0, fmt.Errorf("accept status: %w", ErrInvalidInput)
	}
	ev, _ := json.Marshal(struct {
		Type         string `json:"type"`
		Status       string `json:"status"`
		SequenceList []int  `json:"sequenceList"`
	}{"AcceptStatusEvent", status, seqs})
	return e.AgentSendEvent(id, ev, nil)
}

// AgentRead marks consumer messages as READ.
func (e *Emulator) AgentRead(id string, seqs []int) (int, error) {
	return e.AgentAcceptStatus(id, "READ", seqs)
}

// TransferToSkill moves the conversation back to the queue of skillID: the
// agent leaves the participants and skillId changes.
func (e *Emulator) TransferToSkill(id, skillID string) error {
	if skillID == "" {
		return fmt.Errorf("skill id: %w", ErrInvalidInput)
	}
	c, err := e.lockOpenConv(id)
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.skillID = skillID
	c.agentID = ""
	c.touch()
	e.emitConversationLocked(c)
	return nil
}

// AgentResume resumes a closed conversation as an agent does in the
// workspace: LiveEngage opens a new conversation for the same consumer,
// with the same skill and profile, the resuming agent assigned, and
// announces it. It fails when the consumer has an open conversation.
func (e *Emulator) AgentResume(id string) (string, error) {
	old, err := e.lockConv(id)
	if err != nil {
		return "", err
	}
	if old.state != "CLOSE" {
		old.mu.Unlock()
		return "", fmt.Errorf("conversation %s is open; only a closed one can be resumed: %w", id, ErrInvalidInput)
	}
	now := nowMs()
	nid := randomUUID()
	c := &conv{
		id: nid, extID: old.extID, lpID: old.lpID, participantID: old.participantID, state: "OPEN",
		skillID: old.skillID, ttrDefName: old.ttrDefName, campaign: old.campaign, context: old.context,
		profile: old.profile, clientProps: old.clientProps, agentID: e.opts.AgentID,
		startTs: now, metaTs: now, lane: laneFor(nid, e.opts.WebhookWorkers),
	}
	old.mu.Unlock()
	c.dialogs = []*dialog{{Dialog: Dialog{DialogID: nid, DialogType: "MAIN", State: "OPEN", CreationTs: now}, metaTs: now}}
	if !e.convs.register(c) {
		return "", fmt.Errorf("consumer of conversation %s already has an open conversation: %w", id, ErrInvalidInput)
	}
	e.emitConversationLocked(c)
	c.mu.Unlock()
	e.log.Debug("conversation resumed", "conversation_id", nid, "resumed", id)
	return nid, nil
}

// AgentBackToQueue puts the conversation back in its skill's queue: the
// agent leaves the participants, the skill stays.
func (e *Emulator) AgentBackToQueue(id string) error {
	c, err := e.lockOpenConv(id)
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.agentID = ""
	c.touch()
	e.emitConversationLocked(c)
	return nil
}

// AgentClose closes the conversation as the agent. With survey, only the
// MAIN dialog closes and a POST_SURVEY dialog opens; closing again (or the
// consumer closing the survey dialog) ends the conversation.
func (e *Emulator) AgentClose(id string, survey bool) error {
	c, err := e.lockOpenConv(id)
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	d := c.currentDialog()
	if survey && d.DialogType == "MAIN" {
		e.openSurveyLocked(c, d, ClosedByAgent, "Closed by agent", nil)
		return nil
	}
	e.closeConvLocked(c, "AGENT", ClosedByAgent)
	return nil
}

// openSurveyLocked closes the MAIN dialog, opens a POST_SURVEY one and asks
// the survey's first question (questions, or the configured default).
func (e *Emulator) openSurveyLocked(c *conv, main *dialog, closedBy, cause string, questions []SurveyQuestion) {
	ts := c.touch()
	main.State = "CLOSE"
	main.EndTs = ts
	main.ClosedBy = closedBy
	main.ClosedCause = cause
	main.metaTs = ts
	sd := &dialog{Dialog: Dialog{DialogID: randomUUID(), DialogType: "POST_SURVEY", State: "OPEN", CreationTs: ts}, metaTs: ts}
	c.dialogs = append(c.dialogs, sd)
	e.convs.addDialog(c, sd.DialogID)
	e.emitConversationLocked(c)
	if questions == nil {
		questions = e.opts.Survey
	}
	if questions == nil {
		questions = DefaultSurvey
	}
	c.survey, c.surveyNext = questions, 0
	e.askLocked(c, sd)
}

// A dialog's closedBy, as LivePerson's post-conversation survey tutorial
// shows it: "CONSUMER" for the consumer, "AGENT" for an agent or the
// survey bot (not the participant roles ASSIGNED_AGENT or CONTROLLER).
const (
	ClosedByAgent    = "AGENT"
	ClosedByConsumer = "CONSUMER"
)

func (e *Emulator) closeConvLocked(c *conv, reason, closedBy string) {
	ts := c.touch()
	c.state = "CLOSE"
	c.closeReason = reason
	c.endTs = ts
	for _, d := range c.dialogs {
		if d.State == "OPEN" {
			d.State = "CLOSE"
			d.EndTs = ts
			d.ClosedBy = closedBy
			d.metaTs = ts
		}
	}
	e.convs.closed(c)
	e.emitConversationLocked(c)
}

// publishLocked records a messaging event, assigns its sequence number and
// queues its webhook and live event. Caller holds c.mu. ChatStateEvents carry
// no sequence and answer 0 (§4.5).
func (e *Emulator) publishLocked(c *conv, role, originator, dialogID string, head *eventHead, event, metadata json.RawMessage) int {
	rec := EventRecord{Role: role, OriginatorID: originator, DialogID: dialogID, Event: compactJSON(event), Metadata: compactJSON(metadata)}
	seq := 0
	if head.Type != "ChatStateEvent" {
		seq = c.nextSeq
		c.nextSeq++
		s := seq
		rec.Sequence = &s
		rec.ServerTimestamp = nowMs()
	}
	if head.Type == "ContentEvent" {
		c.messages = append(c.messages, Message{Sequence: seq, Role: role, Text: head.text()})
	}
	c.events = append(c.events, rec)
	e.emitMessagingLocked(c, head.Type, rec)
	return seq
}

// eventHead is the part of an event the emulator interprets.
type eventHead struct {
	Type         string          `json:"type"`
	ContentType  string          `json:"contentType"`
	Message      json.RawMessage `json:"message"`
	Content      json.RawMessage `json:"content"`
	ChatState    string          `json:"chatState"`
	Status       string          `json:"status"`
	SequenceList []int           `json:"sequenceList"`
	Metadata     json.RawMessage `json:"metadata"`
}

// text is the human-readable text of a ContentEvent: the message for
// text/plain, the caption (or relativePath) for hosted/file.
func (h *eventHead) text() string {
	var s string
	if json.Unmarshal(h.Message, &s) == nil {
		return s
	}
	var f struct {
		Caption      string `json:"caption"`
		RelativePath string `json:"relativePath"`
	}
	if json.Unmarshal(h.Message, &f) == nil {
		if f.Caption != "" {
			return f.Caption
		}
		return f.RelativePath
	}
	return ""
}

func compactJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var out bytes.Buffer
	out.Grow(len(b))
	if err := json.Compact(&out, b); err != nil {
		return append(json.RawMessage{}, b...)
	}
	return out.Bytes()
}
