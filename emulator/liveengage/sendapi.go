package liveengage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxRequestChars is the documented limit of one SEND request object (§4.5).
const maxRequestChars = 5000

// maxBody bounds what the Send API reads at all; larger bodies are answered
// like any other oversized request.
const maxBody = 1 << 20

// rawReq is the framing of one Send API request (§4.2).
type rawReq struct {
	Kind     string          `json:"kind"`
	ID       json.RawMessage `json:"id"`
	Type     string          `json:"type"`
	Body     json.RawMessage `json:"body"`
	Metadata json.RawMessage `json:"metadata"`
}

// reqID renders the request id as the response's reqId: string ids are
// echoed as is, numeric ids as their decimal text (the samples answer id 3
// with "reqId":"3").
func (r *rawReq) reqID() string {
	id := bytes.TrimSpace(r.ID)
	if len(id) == 0 || string(id) == "null" {
		return ""
	}
	if id[0] == '"' {
		var s string
		if json.Unmarshal(id, &s) == nil {
			return s
		}
	}
	return string(id)
}

// checkVersion enforces ?v=3; any other version is a 404 (§4.3).
func checkVersion(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Query().Get("v") != "3" {
		writeUnifiedError(w, http.StatusNotFound, "", 40400, "Not Found", "unsupported version, only v=3 is supported")
		return false
	}
	return true
}

// checkClientProperties validates the optional Client-Properties header: it
// must be a JSON object; its "type" may be any of the documented spellings.
func checkClientProperties(r *http.Request) (json.RawMessage, bool) {
	h := r.Header.Get("Client-Properties")
	if h == "" {
		return nil, true
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(h), &v); err != nil {
		return nil, false
	}
	return compactJSON(json.RawMessage(h)), true
}

func (e *Emulator) authConsumer(w http.ResponseWriter, r *http.Request) (*consumerToken, bool) {
	account := r.PathValue("account")
	if aerr := e.checkAppJWT(r, account); aerr != nil {
		writeAuthError(w, aerr)
		return nil, false
	}
	ct, aerr := e.checkConsumerJWS(r, account)
	if aerr != nil {
		writeAuthError(w, aerr)
		return nil, false
	}
	return ct, true
}

// conversationRequestBody is cm.ConsumerRequestConversation's body.
type conversationRequestBody struct {
	BrandID             *string         `json:"brandId"`
	ChannelType         string          `json:"channelType"`
	SkillID             json.RawMessage `json:"skillId"`
	TTRDefName          *string         `json:"ttrDefName"`
	CampaignInfo        json.RawMessage `json:"campaignInfo"`
	ConversationContext json.RawMessage `json:"conversationContext"`
}

// handleConversation implements CONVERSATION (§4.4).
func (e *Emulator) handleConversation(w http.ResponseWriter, r *http.Request) {
	if !checkVersion(w, r) {
		return
	}
	body, err := readLimited(r, maxBody)
	if e.injectFault(w, r, EndpointConversation, "") {
		return
	}
	ct, ok := e.authConsumer(w, r)
	if !ok {
		return
	}
	if err != nil {
		writeUnifiedError(w, http.StatusBadRequest, "", 40000, "Bad Request", "request body is too large or unreadable")
		return
	}
	props, ok := checkClientProperties(r)
	if !ok {
		writeUnifiedError(w, http.StatusBadRequest, "", 40000, "Bad Request", "Client-Properties header is not valid JSON")
		return
	}
	var reqs []rawReq
	if err := json.Unmarshal(body, &reqs); err != nil {
		writeUnifiedError(w, http.StatusBadRequest, "", 40000, "Bad Request", "body must be a JSON array of requests")
		return
	}
	var profile json.RawMessage
	crc := -1
	for i := range reqs {
		switch reqs[i].Type {
		case "userprofile.SetUserProfile":
			profile = compactJSON(reqs[i].Body)
		case "cm.ConsumerRequestConversation":
			if crc >= 0 {
				crc = -2
			}
			if crc == -1 {
				crc = i
			}
		}
	}
	if len(reqs) < 2 || profile == nil || crc < 0 {
		// The docs require SetUserProfile plus exactly one
		// ConsumerRequestConversation ("a set of at least two payloads").
		out := make([]msgResp, len(reqs))
		for i := range reqs {
			out[i] = badRequest(reqs[i].reqID(), "Bad Request")
		}
		writeJSON(w, http.StatusBadRequest, out)
		return
	}
	var cb conversationRequestBody
	if err := json.Unmarshal(reqs[crc].Body, &cb); err != nil {
		writeUnifiedError(w, http.StatusBadRequest, reqs[crc].reqID(), 40000, "Bad Request", "cm.ConsumerRequestConversation body is invalid")
		return
	}
	if cb.BrandID == nil || *cb.BrandID == "" {
		writeAuthError(w, errMissingParam)
		return
	}
	out := make([]msgResp, len(reqs))
	status := http.StatusOK
	for i := range reqs {
		id := reqs[i].reqID()
		switch {
		case reqs[i].Type == "userprofile.SetUserProfile":
			out[i] = okMsg(id, "OK User Profile set successfully")
		case i == crc:
			convID, msg := e.createConversation(ct, &cb, profile, props)
			if msg != "" {
				out[i] = badRequest(id, msg)
				status = http.StatusBadRequest
				continue
			}
			out[i] = msgResp{"OK", struct {
				ConversationID string `json:"conversationId"`
			}{convID}, id}
		default:
			out[i] = badRequest(id, "Bad Request")
			status = http.StatusBadRequest
		}
	}
	writeJSON(w, status, out)
}

// parseSkillID accepts the documented string form and DEMO's number form.
func parseSkillID(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "-1", true
	}
	var s string
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
	} else {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		s = n.String()
	}
	if s == "" {
		return "-1", true
	}
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		return "", false
	}
	// Skill ids are at most 10 digits (release note CO-34).
	if len(strings.TrimPrefix(s, "-")) > 10 {
		return "", false
	}
	return s, true
}

// createConversation opens a conversation, or returns the business error
// message of §4.4 / §5.3.
func (e *Emulator) createConversation(ct *consumerToken, cb *conversationRequestBody, profile, props json.RawMessage) (string, string) {
	if *cb.BrandID != e.opts.AccountID {
		return "", "Consumer request conversation failed: brandId " + *cb.BrandID + " does not match account " + e.opts.AccountID
	}
	skill, ok := parseSkillID(cb.SkillID)
	if !ok {
		return "", "Consumer request conversation failed: invalid skillId"
	}
	ttr := "NORMAL"
	if cb.TTRDefName != nil && *cb.TTRDefName != "" {
		switch *cb.TTRDefName {
		case "NORMAL", "URGENT", "PRIORITIZED":
			ttr = *cb.TTRDefName
		default:
			return "", "Consumer request conversation failed: invalid ttrDefName"
		}
	}
	id := randomUUID()
	now := nowMs()
	c := &conv{
		id: id, extID: ct.extID, lpID: ct.lpID, participantID: e.participantID(ct.lpID), state: "OPEN", skillID: skill,
		ttrDefName: ttr, campaign: compactJSON(cb.CampaignInfo), context: compactJSON(cb.ConversationContext),
		profile: profile, clientProps: props, startTs: now, metaTs: now,
		lane: laneFor(id, e.opts.WebhookWorkers),
	}
	c.dialogs = []*dialog{{Dialog: Dialog{DialogID: id, DialogType: "MAIN", State: "OPEN", CreationTs: now}, metaTs: now}}
	if !e.convs.register(c) {
		return "", "Consumer request conversation failed: User " + ct.lpID + " already has open conversation. Can't open another one."
	}
	e.emitConversationLocked(c)
	c.mu.Unlock()
	e.log.Debug("conversation created", "conversation_id", id, "skill_id", skill)
	return id, ""
}

// handleSend implements SEND (§4.5–§4.9).
func (e *Emulator) handleSend(w http.ResponseWriter, r *http.Request) {
	if !checkVersion(w, r) {
		return
	}
	body, rerr := readLimited(r, maxBody)
	var req rawReq
	perr := json.Unmarshal(body, &req)
	reqID := req.reqID()
	if e.injectFault(w, r, EndpointSend, reqID) {
		return
	}
	ct, ok := e.authConsumer(w, r)
	if !ok {
		return
	}
	if rerr != nil || utf8.RuneCount(body) > maxRequestChars {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
		return
	}
	if perr != nil {
		writeUnifiedError(w, http.StatusBadRequest, reqID, 40000, "Bad Request", "body is not a valid request object")
		return
	}
	if _, ok := checkClientProperties(r); !ok {
		writeUnifiedError(w, http.StatusBadRequest, reqID, 40000, "Bad Request", "Client-Properties header is not valid JSON")
		return
	}
	switch req.Type {
	case "ms.PublishEvent":
		e.handlePublish(w, ct, &req, reqID)
	case "cm.UpdateConversationField":
		e.handleUpdateField(w, ct, &req, reqID)
	case "ms.GenerateURLForUploadFile":
		e.handleUploadURL(w, &req, reqID)
	case "ms.GenerateURLForDownloadFile":
		e.handleDownloadURL(w, &req, reqID)
	default:
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
	}
}

const msgConversationClosed = "Bad Request, Conversation is close"

var (
	chatStates   = map[string]bool{"ACTIVE": true, "INACTIVE": true, "GONE": true, "COMPOSING": true, "PAUSE": true}
	acceptStates = map[string]bool{"ACCEPT": true, "READ": true, "ACCESS": true, "NACK": true, "ACTION": true}
)

type publishBody struct {
	DialogID       string          `json:"dialogId"`
	ConversationID string          `json:"conversationId"`
	Event          json.RawMessage `json:"event"`
	Metadata       json.RawMessage `json:"metadata"`
}

func (e *Emulator) handlePublish(w http.ResponseWriter, ct *consumerToken, req *rawReq, reqID string) {
	var pb publishBody
	if err := json.Unmarshal(req.Body, &pb); err != nil || pb.DialogID == "" || len(pb.Event) == 0 {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
		return
	}
	var head eventHead
	if err := json.Unmarshal(pb.Event, &head); err != nil {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
		return
	}
	c := e.convs.getByDialog(pb.DialogID)
	if c == nil {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request, Conversation not found"))
		return
	}
	if c.lpID != ct.lpID {
		writeAuthError(w, errJWSBad)
		return
	}
	// Metadata: top-level on the req per the schema; also accepted inside
	// body or event (placement UNCONFIRMED, §4.10).
	meta := req.Metadata
	if len(meta) == 0 {
		meta = pb.Metadata
	}
	if len(meta) == 0 {
		meta = head.Metadata
	}
	if msg := validateMetadata(meta); msg != "" {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, msg))
		return
	}
	c.mu.Lock()
	d := c.dialog(pb.DialogID)
	if c.state != "OPEN" || d == nil || d.State != "OPEN" {
		c.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, msgConversationClosed))
		return
	}
	if msg := e.validateConsumerEvent(&head, d); msg != "" {
		c.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, msg))
		return
	}
	seq := e.publishLocked(c, RoleConsumer, c.participantID, d.DialogID, &head, pb.Event, meta)
	if d.DialogType == "POST_SURVEY" && head.Type == "ContentEvent" {
		e.surveyAnswerLocked(c, d, head.text())
	}
	c.mu.Unlock()
	writeSequence(w, reqID, seq)
}

// maxExternalID is the longest ExternalId metadata id (§4.10, the
// conversation metadata guide: "max 64 characters").
const maxExternalID = 64

// validateMetadata returns "" or the BAD_REQUEST message for a request's
// metadata: an array of objects, each with a type; an ExternalId with an
// id of 1 to 64 characters.
func validateMetadata(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var list []map[string]any
	if err := json.Unmarshal(raw, &list); err != nil {
		return "Bad Request, metadata must be an array of objects"
	}
	for _, md := range list {
		typ, _ := md["type"].(string)
		if typ == "" {
			return "Bad Request, metadata without a type"
		}
		if typ == "ExternalId" {
			id, _ := md["id"].(string)
			if n := utf8.RuneCountInString(id); n == 0 || n > maxExternalID {
				return fmt.Sprintf("Bad Request, ExternalId id must be 1 to %d characters", maxExternalID)
			}
		}
	}
	return ""
}

// validateConsumerEvent returns "" or the BAD_REQUEST message.
func (e *Emulator) validateConsumerEvent(h *eventHead, d *dialog) string {
	switch h.Type {
	case "ContentEvent":
		switch h.ContentType {
		case "text/plain":
			var s string
			if json.Unmarshal(h.Message, &s) != nil || s == "" {
				return "Bad Request"
			}
		case "hosted/file":
			return e.files.validateHosted(h.Message)
		default:
			return "Bad Request"
		}
	case "ChatStateEvent":
		if !chatStates[h.ChatState] {
			return "Bad Request"
		}
		if d.DialogType == "POST_SURVEY" {
			// A PCS dialog does not accept chat states (DEMO).
			return "Bad Request"
		}
	case "AcceptStatusEvent":
		if !acceptStates[h.Status] || len(h.SequenceList) == 0 {
			return "Bad Request"
		}
	case "RichContentEvent":
		// Key UNCONFIRMED for consumers: accept "content" and "message".
		if len(h.Content) == 0 && len(h.Message) == 0 {
			return "Bad Request"
		}
	default:
		return "Bad Request"
	}
	return ""
}

// fieldReq is one conversationField entry.
type fieldReq struct {
	Field             string `json:"field"`
	ConversationState string `json:"conversationState"`
	Type              string `json:"type"`
	Dialog            *struct {
		DialogID    string `json:"dialogId"`
		State       string `json:"state"`
		ClosedCause string `json:"closedCause"`
	} `json:"dialog"`
	CSATRate                   *int    `json:"csatRate"`
	CSATResolutionConfirmation *bool   `json:"csatResolutionConfirmation"`
	Status                     *string `json:"status"`
}

func (e *Emulator) handleUpdateField(w http.ResponseWriter, ct *consumerToken, req *rawReq, reqID string) {
	var ub struct {
		ConversationID    string          `json:"conversationId"`
		ConversationField json.RawMessage `json:"conversationField"`
	}
	if err := json.Unmarshal(req.Body, &ub); err != nil || ub.ConversationID == "" {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
		return
	}
	// conversationField: one object (Connector API examples) or an array
	// (Messaging Window API and the schema); both are accepted.
	var fields []fieldReq
	raw := bytes.TrimSpace(ub.ConversationField)
	if len(raw) > 0 && raw[0] == '[' {
		if json.Unmarshal(raw, &fields) != nil {
			fields = nil
		}
	} else {
		var f fieldReq
		if json.Unmarshal(raw, &f) == nil {
			fields = []fieldReq{f}
		}
	}
	if len(fields) == 0 {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
		return
	}
	c := e.convs.get(ub.ConversationID)
	if c == nil {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request, Conversation not found"))
		return
	}
	if c.lpID != ct.lpID {
		writeAuthError(w, errJWSBad)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Validate every field before applying any.
	for i := range fields {
		if msg := validateField(c, &fields[i]); msg != "" {
			writeJSON(w, http.StatusBadRequest, badRequest(reqID, msg))
			return
		}
	}
	msg := ""
	for i := range fields {
		msg = e.applyFieldLocked(c, &fields[i])
	}
	writeJSON(w, http.StatusOK, okMsg(reqID, msg))
}

func validateField(c *conv, f *fieldReq) string {
	switch f.Field {
	case "ConversationStateField":
		if f.ConversationState != "CLOSE" {
			return "Bad Request"
		}
		if c.state != "OPEN" {
			return msgConversationClosed
		}
	case "DialogChange":
		if f.Dialog == nil || f.Dialog.State != "CLOSE" || (f.Type != "" && f.Type != "UPDATE") {
			return "Bad Request"
		}
		d := c.dialog(f.Dialog.DialogID)
		if d == nil {
			return "Bad Request"
		}
		if c.state != "OPEN" || d.State != "OPEN" {
			return msgConversationClosed
		}
	case "CSATRate":
		// All four fields are required (schema types/csat.json). CSAT is
		// accepted after close too, as the MWAPI tutorial sends it then.
		if f.CSATRate == nil || f.CSATResolutionConfirmation == nil || f.Status == nil {
			return "Bad Request"
		}
		if *f.CSATRate < 1 || *f.CSATRate > 5 {
			return "Bad Request"
		}
		switch *f.Status {
		case "FILLED", "PARTIALLY_FILLED", "SKIPPED":
		default:
			return "Bad Request"
		}
	default:
		return "Bad Request"
	}
	return ""
}

// applyFieldLocked applies a validated field and returns the OK message.
func (e *Emulator) applyFieldLocked(c *conv, f *fieldReq) string {
	switch f.Field {
	case "ConversationStateField":
		e.closeConvLocked(c, "CONSUMER", ClosedByConsumer)
		return "OK Conversation resolved successfully"
	case "DialogChange":
		d := c.dialog(f.Dialog.DialogID)
		if d.DialogType == "MAIN" && e.opts.PostSurvey {
			e.openSurveyLocked(c, d, ClosedByConsumer, f.Dialog.ClosedCause, nil)
		} else {
			e.closeConvLocked(c, "CONSUMER", ClosedByConsumer)
		}
		return "OK Dialog updated successfully"
	case "CSATRate":
		c.csat = &CSAT{CSATRate: *f.CSATRate, CSATResolutionConfirmation: *f.CSATResolutionConfirmation, Status: *f.Status}
		c.touch()
		e.emitConversationLocked(c)
		return "OK CSAT updated successfully"
	}
	return fmt.Sprintf("OK %s updated successfully", f.Field)
}
