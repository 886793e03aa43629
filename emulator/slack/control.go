package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Fault makes the next Count calls of Method fail: with ok:false Error, or
// with HTTP 429 and Retry-After when Error is "ratelimited". With
// HoldMillis and no Error the call succeeds (a message is posted) but its
// answer is held that long, or until the client goes away.
type Fault struct {
	Method     string `json:"method"`
	Error      string `json:"error,omitempty"`
	RetryAfter int    `json:"retry_after,omitempty"` // seconds, for ratelimited [1]
	Count      int    `json:"count"`                 // [1]
	HoldMillis int    `json:"hold_ms,omitempty"`
}

func (f *Fault) apiError(*Emulator) *apiError {
	if f.Error == "ratelimited" {
		return &apiError{status: http.StatusTooManyRequests, code: "ratelimited", retryAfter: max(f.RetryAfter, 1)}
	}
	return &apiError{code: f.Error}
}

// InjectFault queues a fault for a Web API method.
func (e *Emulator) InjectFault(f Fault) error {
	if f.Method == "" || (f.Error == "") == (f.HoldMillis <= 0) {
		return fmt.Errorf("fault needs a method and either an error or hold_ms: %w", ErrInvalidInput)
	}
	if f.Count == 0 {
		f.Count = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
	return nil
}

// ClearFaults removes every queued fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

func (e *Emulator) takeFault(method string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.Method == method {
			f.Count--
			if f.Count <= 0 {
				e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

// AddUser adds a workspace member; the app has a DM with every member.
func (e *Emulator) AddUser(u User) error {
	if !strings.HasPrefix(u.ID, "U") && !strings.HasPrefix(u.ID, "W") {
		return fmt.Errorf("user id %q must start with U or W: %w", u.ID, ErrInvalidInput)
	}
	if u.Name == "" {
		u.Name = strings.ToLower(u.ID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.users[u.ID] = &u
	e.dmLocked(u.ID)
	return nil
}

// DM returns the id of the app's DM channel with user.
func (e *Emulator) DM(user string) string { return "D" + strings.TrimPrefix(user, "U") }

// Channel describes a shared channel for AddChannel.
type Channel struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	BotIn    bool   `json:"bot_in"` // the app is a member
	Archived bool   `json:"archived,omitempty"`
}

// AddChannel adds (or replaces the settings of) a public or shared channel.
func (e *Emulator) AddChannel(c Channel) error {
	if !strings.HasPrefix(c.ID, "C") && !strings.HasPrefix(c.ID, "G") {
		return fmt.Errorf("channel id %q must start with C or G: %w", c.ID, ErrInvalidInput)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.channels[c.ID]; ok {
		old.Name, old.BotIn, old.Archived = c.Name, c.BotIn, c.Archived
		return nil
	}
	e.channels[c.ID] = &channel{ID: c.ID, Name: c.Name, BotIn: c.BotIn, Archived: c.Archived}
	return nil
}

// UserMessage is a message a user posts.
type UserMessage struct {
	User     string   `json:"user"`
	Channel  string   `json:"channel,omitempty"` // default: the user's DM with the app
	Text     string   `json:"text"`
	ThreadTS string   `json:"thread_ts,omitempty"`
	Files    []Upload `json:"files,omitempty"`
}

// Upload is a file a user shares.
type Upload struct {
	Name     string `json:"name"`
	Mimetype string `json:"mimetype,omitempty"`
	Data     []byte `json:"data"` // base64 in JSON
}

// Result says what a user action produced.
type Result struct {
	Channel string   `json:"channel"`
	TS      string   `json:"ts,omitempty"`
	EventID string   `json:"event_id,omitempty"`
	FileIDs []string `json:"file_ids,omitempty"`
}

// PostMessage posts as a user and sends the message event to the app.
func (e *Emulator) PostMessage(m UserMessage) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.users[m.User]; !ok {
		return Result{}, fmt.Errorf("user %q: %w", m.User, ErrUnknownUser)
	}
	chID := m.Channel
	if chID == "" {
		chID = e.DM(m.User)
	}
	c := e.channelLocked(chID)
	if c == nil {
		return Result{}, fmt.Errorf("channel %q: %w", chID, ErrUnknownChannel)
	}
	if m.Text == "" && len(m.Files) == 0 {
		return Result{}, fmt.Errorf("message needs text or files: %w", ErrInvalidInput)
	}
	if m.ThreadTS != "" && c.find(m.ThreadTS) == nil {
		return Result{}, fmt.Errorf("thread %q: %w", m.ThreadTS, ErrUnknownMessage)
	}
	msg := &Message{Type: "message", Channel: c.ID, User: m.User, Text: m.Text, TS: e.newTSLocked(), ThreadTS: m.ThreadTS}
	res := Result{Channel: c.ID, TS: msg.TS}
	for _, up := range m.Files {
		if up.Name == "" || len(up.Data) == 0 {
			return Result{}, fmt.Errorf("file needs a name and data: %w", ErrInvalidInput)
		}
		id := e.nextIDLocked("F")
		now := time.Now().Unix()
		f := &storedFile{File: File{ID: id, Created: now, Timestamp: now, Name: up.Name, Title: up.Name, Mimetype: up.Mimetype,
			User: m.User, Size: len(up.Data), Mode: "hosted"}, data: up.Data, uploaded: true, completed: true}
		if f.Mimetype == "" {
			f.Mimetype = mimeByName(up.Name)
		}
		f.Filetype = strings.TrimPrefix(strings.ToLower(fileExt(up.Name)), ".")
		f.URLPrivate = e.publicURL + "/files-pri/" + e.opts.TeamID + "-" + id + "/" + url.PathEscape(up.Name)
		f.URLPrivateDownload = e.publicURL + "/files-pri/" + e.opts.TeamID + "-" + id + "/download/" + url.PathEscape(up.Name)
		e.files[id] = f
		msg.Files = append(msg.Files, f.File)
		res.FileIDs = append(res.FileIDs, id)
	}
	c.messages = append(c.messages, msg)
	inner := map[string]any{"type": "message", "channel": c.ID, "user": m.User, "text": m.Text, "ts": msg.TS,
		"event_ts": msg.TS, "channel_type": channelType(c), "team": e.opts.TeamID}
	if m.ThreadTS != "" {
		inner["thread_ts"] = m.ThreadTS
	}
	if len(msg.Files) > 0 {
		inner["files"] = msg.Files
		inner["upload"] = true
		inner["display_as_bot"] = false
	}
	res.EventID, _ = e.sendEventLocked(inner)
	return res, nil
}

func fileExt(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		return name[i:]
	}
	return ""
}

func (e *Emulator) sendEventLocked(inner any) (string, json.RawMessage) {
	id, body := e.eventCallbackLocked(inner)
	e.enqueueLocked(&Delivery{EventID: id, Kind: "events_api", Payload: body})
	return id, body
}

// EditMessage edits a user's message: a message_changed event (§2.4).
func (e *Emulator) EditMessage(channelID, ts, text string) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(channelID)
	if c == nil {
		return Result{}, fmt.Errorf("channel %q: %w", channelID, ErrUnknownChannel)
	}
	m := c.find(ts)
	if m == nil || m.BotID != "" {
		return Result{}, fmt.Errorf("user message %q: %w", ts, ErrUnknownMessage)
	}
	now := e.newTSLocked()
	m.Text, m.Edited = text, &Edited{User: m.User, TS: now}
	inner := map[string]any{"type": "message", "subtype": "message_changed", "hidden": true, "channel": c.ID, "ts": now,
		"event_ts": now, "channel_type": channelType(c),
		"message": map[string]any{"type": "message", "user": m.User, "text": text, "ts": m.TS, "thread_ts": m.ThreadTS, "edited": m.Edited}}
	id, _ := e.sendEventLocked(inner)
	return Result{Channel: c.ID, TS: now, EventID: id}, nil
}

// DeleteMessage deletes a user's message: a message_deleted event (§2.4).
func (e *Emulator) DeleteMessage(channelID, ts string) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(channelID)
	if c == nil {
		return Result{}, fmt.Errorf("channel %q: %w", channelID, ErrUnknownChannel)
	}
	m := c.find(ts)
	if m == nil {
		return Result{}, fmt.Errorf("message %q: %w", ts, ErrUnknownMessage)
	}
	m.Deleted = true
	now := e.newTSLocked()
	id, _ := e.sendEventLocked(map[string]any{"type": "message", "subtype": "message_deleted", "hidden": true, "channel": c.ID,
		"ts": now, "deleted_ts": ts, "event_ts": now, "channel_type": channelType(c)})
	return Result{Channel: c.ID, TS: now, EventID: id}, nil
}

// PressButton clicks the button whose value, action_id or label is value
// on the app's message ts: a block_actions interactivity payload.
func (e *Emulator) PressButton(user, channelID, ts, value string) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, ok := e.users[user]
	if !ok {
		return Result{}, fmt.Errorf("user %q: %w", user, ErrUnknownUser)
	}
	c := e.channelLocked(channelID)
	if c == nil {
		return Result{}, fmt.Errorf("channel %q: %w", channelID, ErrUnknownChannel)
	}
	m := c.find(ts)
	if m == nil || m.BotID == "" {
		return Result{}, fmt.Errorf("app message %q: %w", ts, ErrUnknownMessage)
	}
	var action map[string]any
	for _, b := range m.Blocks {
		block, _ := b.(map[string]any)
		if block["type"] != "actions" {
			continue
		}
		els, _ := block["elements"].([]any)
		for _, el := range els {
			btn, _ := el.(map[string]any)
			label, _ := btn["text"].(map[string]any)
			if btn["type"] == "button" && action == nil && (btn["value"] == value || btn["action_id"] == value || label["text"] == value) {
				action = map[string]any{"action_id": btn["action_id"], "block_id": block["block_id"], "text": btn["text"],
					"value": btn["value"], "type": "button", "action_ts": e.newTSLocked()}
			}
		}
	}
	if action == nil {
		return Result{}, fmt.Errorf("button %q on message %s: %w", value, ts, ErrUnknownMessage)
	}
	e.seq++
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": e.opts.TeamID},
		"api_app_id": e.opts.AppID, "token": "emulator-verification-token",
		"container":  map[string]any{"type": "message", "message_ts": m.TS, "channel_id": c.ID, "is_ephemeral": false},
		"trigger_id": fmt.Sprintf("%d.%d.emulator", e.seq, time.Now().Unix()),
		"team":       map[string]any{"id": e.opts.TeamID, "domain": "emulated"}, "enterprise": nil, "is_enterprise_install": false,
		"channel": map[string]any{"id": c.ID, "name": c.Name}, "message": m, "state": map[string]any{"values": map[string]any{}},
		"response_url": e.publicURL + "/actions/" + c.ID + "/" + m.TS, "actions": []any{action},
	})
	id := fmt.Sprintf("interactive:%d", e.seq)
	e.enqueueLocked(&Delivery{EventID: id, Kind: "interactive", Payload: payload})
	return Result{Channel: c.ID, TS: m.TS, EventID: id}, nil
}

// Posted returns the app's messages in a channel (chat.postMessage and
// shared files), oldest first.
func (e *Emulator) Posted(channelID string) []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(channelID)
	if c == nil {
		return nil
	}
	var out []Message
	for _, m := range c.messages {
		if m.BotID != "" {
			out = append(out, *m)
		}
	}
	return out
}

// FileData returns a file's bytes and mimetype.
func (e *Emulator) FileData(id string) ([]byte, string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.files[id]
	if !ok || !f.uploaded {
		return nil, "", false
	}
	return append([]byte(nil), f.data...), f.Mimetype, true
}

// Deliveries returns every event and interactivity delivery so far.
func (e *Emulator) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Delivery, len(e.deliveries))
	for i, d := range e.deliveries {
		out[i] = *d
		out[i].Attempts = append([]Attempt(nil), d.Attempts...)
	}
	return out
}

// RetryEvent sends an already delivered event again as a Slack retry
// (X-Slack-Retry-Num, or a Socket Mode retry_attempt), as Slack does when it
// did not see the ack in time.
func (e *Emulator) RetryEvent(eventID, reason string) error {
	if reason == "" {
		reason = "http_timeout"
	}
	return e.retry(eventID, reason)
}

// Wait blocks until cond (called without locks held) is true or ctx ends.
func (e *Emulator) Wait(ctx context.Context, cond func() bool) error {
	for {
		e.mu.Lock()
		ch := e.changed
		e.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // cond may read other clocks
		}
	}
}

// WaitPosted waits until the app posted at least n messages in channel.
func (e *Emulator) WaitPosted(ctx context.Context, channelID string, n int) ([]Message, error) {
	var out []Message
	err := e.Wait(ctx, func() bool { out = e.Posted(channelID); return len(out) >= n })
	return out, err
}

func (e *Emulator) controlRoutes(m *http.ServeMux) {
	const p = "/fake/slack/api/"
	m.HandleFunc("POST "+p+"users", func(w http.ResponseWriter, r *http.Request) {
		var u User
		if decode(w, r, &u) {
			reply(w, u, e.AddUser(u))
		}
	})
	m.HandleFunc("POST "+p+"channels", func(w http.ResponseWriter, r *http.Request) {
		var c Channel
		if decode(w, r, &c) {
			reply(w, c, e.AddChannel(c))
		}
	})
	m.HandleFunc("POST "+p+"messages", func(w http.ResponseWriter, r *http.Request) {
		var um UserMessage
		if decode(w, r, &um) {
			res, err := e.PostMessage(um)
			reply(w, res, err)
		}
	})
	m.HandleFunc("POST "+p+"channels/{channel}/messages/{ts}/edit", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Text string `json:"text"`
		}
		if decode(w, r, &b) {
			res, err := e.EditMessage(r.PathValue("channel"), r.PathValue("ts"), b.Text)
			reply(w, res, err)
		}
	})
	m.HandleFunc("POST "+p+"channels/{channel}/messages/{ts}/delete", func(w http.ResponseWriter, r *http.Request) {
		res, err := e.DeleteMessage(r.PathValue("channel"), r.PathValue("ts"))
		reply(w, res, err)
	})
	m.HandleFunc("POST "+p+"channels/{channel}/messages/{ts}/press", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			User  string `json:"user"`
			Value string `json:"value"`
		}
		if decode(w, r, &b) {
			res, err := e.PressButton(b.User, r.PathValue("channel"), r.PathValue("ts"), b.Value)
			reply(w, res, err)
		}
	})
	m.HandleFunc("GET "+p+"channels/{channel}/posted", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nonNil(e.Posted(r.PathValue("channel"))), nil)
	})
	m.HandleFunc("GET "+p+"files/{id}", func(w http.ResponseWriter, r *http.Request) {
		data, ct, ok := e.FileData(r.PathValue("id"))
		if !ok {
			reply(w, nil, ErrUnknownMessage)
			return
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(data)
	})
	m.HandleFunc("GET "+p+"deliveries", func(w http.ResponseWriter, r *http.Request) { reply(w, nonNil(e.Deliveries()), nil) })
	m.HandleFunc("POST "+p+"deliveries/{event_id}/retry", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"event_id": r.PathValue("event_id")}, e.RetryEvent(r.PathValue("event_id"), r.URL.Query().Get("reason")))
	})
	m.HandleFunc("POST "+p+"request-url", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			URL string `json:"url"`
		}
		if decode(w, r, &b) {
			e.SetRequestURL(b.URL)
			reply(w, b, nil)
		}
	})
	m.HandleFunc("POST "+p+"socket/disconnect", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Reason string `json:"reason"`
		}
		if decode(w, r, &b) {
			reply(w, map[string]int{"sockets": e.DisconnectSockets(b.Reason)}, nil)
		}
	})
	m.HandleFunc("POST "+p+"socket/drop", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]int{"sockets": e.DropSockets()}, nil)
	})
	m.HandleFunc("GET "+p+"socket", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]int{"sockets": e.Sockets()}, nil)
	})
	m.HandleFunc("POST "+p+"faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if decode(w, r, &f) {
			reply(w, f, e.InjectFault(f))
		}
	})
	m.HandleFunc("DELETE "+p+"faults", func(w http.ResponseWriter, r *http.Request) {
		e.ClearFaults()
		reply(w, map[string]bool{"cleared": true}, nil)
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, v)
	case errors.Is(err, ErrInvalidInput):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	}
}
