package liveengage

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// controlRoutes registers the agent-side and control JSON API. Every
// response is JSON; errors are {"error":"..."} with 400 (bad input), 404
// (unknown conversation) or 409 (conversation closed).
func (e *Emulator) controlRoutes(m *http.ServeMux) {
	const p = "/emulator/api/"
	m.HandleFunc("GET "+p+"conversations", e.apiListConversations)
	m.HandleFunc("GET "+p+"conversations/{id}", e.apiGetConversation)
	m.HandleFunc("POST "+p+"conversations/{id}/messages", e.apiSendMessage)
	m.HandleFunc("POST "+p+"conversations/{id}/richcontent", e.apiRichContent)
	m.HandleFunc("POST "+p+"conversations/{id}/events", e.apiSendEvent)
	m.HandleFunc("POST "+p+"conversations/{id}/accept", e.apiAccept)
	m.HandleFunc("POST "+p+"conversations/{id}/typing", e.apiTyping)
	m.HandleFunc("POST "+p+"conversations/{id}/read", e.apiRead)
	m.HandleFunc("POST "+p+"conversations/{id}/transfer", e.apiTransfer)
	m.HandleFunc("POST "+p+"conversations/{id}/resume", e.apiResume)
	m.HandleFunc("POST "+p+"conversations/{id}/back-to-queue", e.apiBackToQueue)
	m.HandleFunc("POST "+p+"conversations/{id}/close", e.apiClose)
	m.HandleFunc("GET "+p+"faults", e.apiGetFaults)
	m.HandleFunc("PUT "+p+"faults", e.apiPutFaults)
	m.HandleFunc("POST "+p+"faults", e.apiPutFaults)
	m.HandleFunc("DELETE "+p+"faults", e.apiClearFaults)
	m.HandleFunc("POST "+p+"tokens/expire", e.apiExpireTokens)
	m.HandleFunc("GET "+p+"webhooks", e.apiWebhooks)
	m.HandleFunc("POST "+p+"reset", e.apiReset)
	m.HandleFunc("GET "+p+"events", e.apiEvents)
	m.Handle("GET /emulator/", workspaceHandler())
}

func apiError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrClosed):
		status = http.StatusConflict
	case errors.Is(err, ErrInvalidInput):
		status = http.StatusBadRequest
	}
	writeAPI(w, status, map[string]string{"error": err.Error()})
}

func writeAPI(w http.ResponseWriter, status int, v any) {
	// The page or another origin may follow the API from a browser.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, status, v)
}

// decodeAPI decodes an optional JSON body; an empty body leaves v as is.
func decodeAPI(r *http.Request, v any) error {
	b, err := readLimited(r, 1<<20)
	if err != nil {
		return fmt.Errorf("read body: %w: %w", ErrInvalidInput, err)
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode body: %w: %w", ErrInvalidInput, err)
	}
	return nil
}

// apiListConversations answers the array of issue 3, oldest first. With
// ?limit=N only the newest N are listed (still oldest first), plus the one
// named by ?include=ID wherever it is, so a page left open under load does
// not fetch thousands; X-Total-Count and X-Open-Count then count them all.
func (e *Emulator) apiListConversations(w http.ResponseWriter, r *http.Request) {
	all := e.Conversations()
	q := r.URL.Query()
	if !q.Has("limit") {
		writeAPI(w, http.StatusOK, all)
		return
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 0 {
		apiError(w, fmt.Errorf("limit %q: want a whole number >= 0: %w", q.Get("limit"), ErrInvalidInput))
		return
	}
	include := q.Get("include")
	open := 0
	out := make([]Conversation, 0, min(limit+1, len(all)))
	for i, c := range all {
		if c.State == "OPEN" {
			open++
		}
		if i >= len(all)-limit || (include != "" && c.ID == include) {
			out = append(out, c)
		}
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(all)))
	w.Header().Set("X-Open-Count", strconv.Itoa(open))
	w.Header().Set("Access-Control-Expose-Headers", "X-Total-Count, X-Open-Count")
	writeAPI(w, http.StatusOK, out)
}

func (e *Emulator) apiGetConversation(w http.ResponseWriter, r *http.Request) {
	c, ok := e.Conversation(r.PathValue("id"))
	if !ok {
		apiError(w, fmt.Errorf("conversation %s: %w", r.PathValue("id"), ErrNotFound))
		return
	}
	writeAPI(w, http.StatusOK, c)
}

type seqResp struct {
	Sequence int `json:"sequence"`
}

// apiSendMessage: {"text":"...", "quickReplies":{...}?, "metadata":[...]?}.
func (e *Emulator) apiSendMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Text         *string         `json:"text"`
		QuickReplies json.RawMessage `json:"quickReplies"`
		Metadata     json.RawMessage `json:"metadata"`
	}
	if err := decodeAPI(r, &in); err != nil {
		apiError(w, err)
		return
	}
	if in.Text == nil || *in.Text == "" {
		apiError(w, fmt.Errorf("text: %w: required", ErrInvalidInput))
		return
	}
	ev, _ := json.Marshal(struct {
		Type         string          `json:"type"`
		Message      string          `json:"message"`
		ContentType  string          `json:"contentType"`
		QuickReplies json.RawMessage `json:"quickReplies,omitempty"`
	}{"ContentEvent", *in.Text, "text/plain", in.QuickReplies})
	seq, err := e.AgentSendEvent(r.PathValue("id"), ev, in.Metadata)
	if err != nil {
		apiError(w, err)
		return
	}
	writeAPI(w, http.StatusOK, seqResp{seq})
}

// apiRichContent: {"content":{structured content}, "quickReplies"?, "metadata"?}.
func (e *Emulator) apiRichContent(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Content      json.RawMessage `json:"content"`
		QuickReplies json.RawMessage `json:"quickReplies"`
		Metadata     json.RawMessage `json:"metadata"`
	}
	if err := decodeAPI(r, &in); err != nil {
		apiError(w, err)
		return
	}
	if len(in.Content) == 0 {
		apiError(w, fmt.Errorf("content: %w: required", ErrInvalidInput))
		return
	}
	ev, _ := json.Marshal(struct {
		Type         string          `json:"type"`
		Content      json.RawMessage `json:"content"`
		QuickReplies json.RawMessage `json:"quickReplies,omitempty"`
	}{"RichContentEvent", in.Content, in.QuickReplies})
	seq, err := e.AgentSendEvent(r.PathValue("id"), ev, in.Metadata)
	if err != nil {
		apiError(w, err)
		return
	}
	writeAPI(w, http.StatusOK, seqResp{seq})
}

// apiSendEvent: {"event":{any agent-side event}, "metadata"?}.
func (e *Emulator) apiSendEvent(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Event    json.RawMessage `json:"event"`
		Metadata json.RawMessage `json:"metadata"`
	}
	if err := decodeAPI(r, &in); err != nil {
		apiError(w, err)
		return
	}
	seq, err := e.AgentSendEvent(r.PathValue("id"), in.Event, in.Metadata)
	if err != nil {
		apiError(w, err)
		return
	}
	writeAPI(w, http.StatusOK, seqResp{seq})
}

func (e *Emulator) apiAccept(w http.ResponseWriter, r *http.Request) {
	if err := e.AgentAccept(r.PathValue("id")); err != nil {
		apiError(w, err)
		return
	}
	e.apiGetConversation(w, r)
}

// apiTyping: {"chatState":"COMPOSING"} (default COMPOSING).
func (e *Emulator) apiTyping(w http.ResponseWriter, r *http.Request) {
	in := struct {
		ChatState string `json:"chatState"`
	}{"COMPOSING"}
	if err := decodeAPI(r, &in); err != nil {
		apiError(w, err)
		return
	}
	if err := e.AgentTyping(r.PathValue("id"), in.ChatState); err != nil {
		apiError(w, err)
		return
	}
	writeAPI(w, http.StatusOK, seqResp{0})
}

// apiRead: {"sequenceList":[..], "status":"READ"}; without a list, every
// consumer message so far is marked.
func (e *Emulator) apiRead(w http.ResponseWriter, r *http.Request) {
	in := struct {
		SequenceList []int  `json:"sequenceList"`
		Status       string `json:"status"`
	}{Status: "READ"}
	if err := decodeAPI(r, &in); err != nil {
		apiError(w, err)
		return
	}
	id := r.PathValue("id")
	if len(in.SequenceList) == 0 {
		c, ok := e.Conversation(id)
		if !ok {
			apiError(w, fmt.Errorf("conversation %s: %w", id, ErrNotFound))
			return
		}
		for _, m := range c.Messages {
			if m.Role == RoleConsumer {
				in.SequenceList = append(in.SequenceList, m.Sequence)
			}
		}
		if len(in.SequenceList) == 0 {
			apiError(w, fmt.Errorf("sequenceList: %w: no consumer messages to mark", ErrInvalidInput))
			return
		}
	}
	seq, err := e.AgentAcceptStatus(id, in.Status, in.SequenceList)
	if err != nil {
		apiError(w, err)
		return
	}
	writeAPI(w, http.StatusOK, seqResp{seq})
}

// apiTransfer: {"skillId":"..."}.
func (e *Emulator) apiTransfer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SkillID string `json:"skillId"`
	}
	if err := decodeAPI(r, &in); err != nil {
		apiError(w, err)
		return
	}
	if err := e.TransferToSkill(r.PathValue("id"), in.SkillID); err != nil {
		apiError(w, err)
		return
	}
	e.apiGetConversation(w, r)
}

// apiBackToQueue puts the conversation back in its skill's queue.
func (e *Emulator) apiBackToQueue(w http.ResponseWriter, r *http.Request) {
	if err := e.AgentBackToQueue(r.PathValue("id")); err != nil {
		apiError(w, err)
		return
	}
	e.apiGetConversation(w, r)
}

// apiResume resumes a closed conversation; it answers the new one.
func (e *Emulator) apiResume(w http.ResponseWriter, r *http.Request) {
	id, err := e.AgentResume(r.PathValue("id"))
	if err != nil {
		apiError(w, err)
		return
	}
	c, _ := e.Conversation(id)
	writeAPI(w, http.StatusOK, c)
}

// apiClose: {"survey":true} opens a POST_SURVEY dialog instead of closing,
// and its survey bot asks "questions" (or the default ones).
func (e *Emulator) apiClose(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Survey    bool             `json:"survey"`
		Questions []SurveyQuestion `json:"questions"`
	}
	if err := decodeAPI(r, &in); err != nil {
		apiError(w, err)
		return
	}
	var err error
	if in.Survey || in.Questions != nil {
		err = e.AgentCloseSurvey(r.PathValue("id"), in.Questions)
	} else {
		err = e.AgentClose(r.PathValue("id"), false)
	}
	if err != nil {
		apiError(w, err)
		return
	}
	e.apiGetConversation(w, r)
}

func (e *Emulator) apiGetFaults(w http.ResponseWriter, r *http.Request) {
	writeAPI(w, http.StatusOK, e.Faults())
}

func (e *Emulator) apiPutFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decodeAPI(r, &f); err != nil {
		apiError(w, err)
		return
	}
	if err := e.SetFaults(f); err != nil {
		apiError(w, err)
		return
	}
	writeAPI(w, http.StatusOK, e.Faults())
}

func (e *Emulator) apiClearFaults(w http.ResponseWriter, r *http.Request) {
	_ = e.SetFaults(Faults{})
	writeAPI(w, http.StatusOK, e.Faults())
}

func (e *Emulator) apiExpireTokens(w http.ResponseWriter, r *http.Request) {
	e.ExpireTokens()
	writeAPI(w, http.StatusOK, map[string]bool{"expired": true})
}

func (e *Emulator) apiWebhooks(w http.ResponseWriter, r *http.Request) {
	writeAPI(w, http.StatusOK, e.WebhookStatus())
}

func (e *Emulator) apiReset(w http.ResponseWriter, r *http.Request) {
	e.Reset()
	writeAPI(w, http.StatusOK, map[string]bool{"reset": true})
}

// apiEvents streams live events as Server-Sent Events: "event: <type>" and
// "data: <json>" per LiveEvent, plus a comment heartbeat every 15 s.
func (e *Emulator) apiEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, cancel := e.Subscribe(1024)
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": liveengage emulator events\n\n")
	fl.Flush()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			_, _ = fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		case ev, ok := <-ch:
			if !ok {
				return
			}
			b, _ := json.Marshal(ev)
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, b); err != nil {
				return
			}
			fl.Flush()
		}
	}
}
