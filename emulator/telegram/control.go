package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders for user photos
	_ "image/jpeg"
	"image/png"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Upload is a file a user sends. In the control API's JSON, Data is base64.
type Upload struct {
	FileName string `json:"file_name,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	Data     []byte `json:"data"`
	Duration int    `json:"duration,omitempty"` // voice and audio, seconds
	Title    string `json:"title,omitempty"`    // audio
}

// UserMessage is a message a Telegram user sends to the bot. Set Text, or
// one of Photo, Document, Voice and Audio (with an optional Caption).
type UserMessage struct {
	From     *User   `json:"from,omitempty"` // profile; the id is the chat's
	Text     string  `json:"text,omitempty"`
	Caption  string  `json:"caption,omitempty"`
	Photo    *Upload `json:"photo,omitempty"`
	Document *Upload `json:"document,omitempty"`
	Voice    *Upload `json:"voice,omitempty"`
	Audio    *Upload `json:"audio,omitempty"`
}

// Result identifies the update a user action produced.
type Result struct {
	UpdateID        int64  `json:"update_id"`
	MessageID       int64  `json:"message_id,omitempty"`
	CallbackQueryID string `json:"callback_query_id,omitempty"`
}

// Fault makes the next Times calls of Method (case-insensitive; "" for any
// method) fail with ErrorCode. Description defaults to the reference's
// string for the code; RetryAfter (429) defaults to 1. With HoldMillis and
// no ErrorCode the call succeeds (a message is sent) but its answer is
// held that long, or until the client goes away: what a slow platform
// answer looks like to a client that dies waiting for it.
type Fault struct {
	Method      string `json:"method,omitempty"`
	ErrorCode   int    `json:"error_code,omitempty"`
	Description string `json:"description,omitempty"`
	RetryAfter  int    `json:"retry_after,omitempty"`
	Times       int    `json:"times,omitempty"`
	HoldMillis  int    `json:"hold_ms,omitempty"`
}

func (f *Fault) apiError() *apiError {
	e := &apiError{Code: f.ErrorCode, Description: f.Description}
	if f.ErrorCode == http.StatusTooManyRequests {
		e.RetryAfter = max(f.RetryAfter, 1)
	}
	if e.Description != "" {
		return e
	}
	switch f.ErrorCode {
	case http.StatusBadRequest:
		e.Description = errChatNotFound.Description
	case http.StatusUnauthorized:
		e.Description = errUnauthorized.Description
	case http.StatusForbidden:
		e.Description = errBlocked.Description
	case http.StatusNotFound:
		e.Description = errMethodNotFound.Description
	case http.StatusConflict:
		e.Description = errOtherGetUpdate.Description
	case http.StatusTooManyRequests:
		e.Description = tooManyRequests(e.RetryAfter).Description
	default:
		e.Description = "Internal Server Error"
	}
	return e
}

// InjectFault adds a fault; faults are used in the order added.
func (e *Emulator) InjectFault(f Fault) error {
	switch {
	case f.ErrorCode == 0 && f.HoldMillis > 0:
	case f.ErrorCode < 400 || f.ErrorCode > 599:
		return fmt.Errorf("%w: error_code must be 400-599 (or 0 with hold_ms), got %d", ErrInvalidInput, f.ErrorCode)
	case f.HoldMillis != 0:
		return fmt.Errorf("%w: hold_ms goes without error_code: the call succeeds, its answer is late", ErrInvalidInput)
	}
	if f.Times <= 0 {
		f.Times = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
	return nil
}

// ClearFaults removes every pending fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// Faults lists the pending faults.
func (e *Emulator) Faults() []Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Fault, 0, len(e.faults))
	for _, f := range e.faults {
		out = append(out, *f)
	}
	return out
}

func (e *Emulator) takeFault(method string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.Method == "" || strings.EqualFold(f.Method, method) {
			f.Times--
			if f.Times <= 0 {
				e.faults = slices.Delete(e.faults, i, i+1)
			}
			return f
		}
	}
	return nil
}

// AddUser creates or updates the user (and private chat) with u.ID.
func (e *Emulator) AddUser(u User) error {
	if u.ID <= 0 {
		return fmt.Errorf("%w: user id must be positive", ErrInvalidInput)
	}
	u.IsBot = false
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.chatLocked(u.ID, true)
	if u.FirstName == "" {
		u.FirstName = c.user.FirstName
	}
	c.user = u
	return nil
}

// SendText sends a text message from the user of chatID to the bot.
func (e *Emulator) SendText(chatID int64, text string) (Result, error) {
	return e.SendMessage(chatID, UserMessage{Text: text})
}

// SendPhoto sends a photo (PNG, JPEG or GIF) with an optional caption. The
// update lists a thumbnail first and the original last, as Telegram lists
// sizes smallest first.
func (e *Emulator) SendPhoto(chatID int64, data []byte, caption string) (Result, error) {
	return e.SendMessage(chatID, UserMessage{Photo: &Upload{Data: data}, Caption: caption})
}

// SendMessage sends a message from the user of chatID to the bot.
func (e *Emulator) SendMessage(chatID int64, um UserMessage) (Result, error) {
	if chatID <= 0 {
		return Result{}, fmt.Errorf("%w: chat id must be a positive user id", ErrInvalidInput)
	}
	files := 0
	for _, u := range []*Upload{um.Photo, um.Document, um.Voice, um.Audio} {
		if u != nil {
			files++
			if len(u.Data) == 0 {
				return Result{}, fmt.Errorf("%w: file data is empty", ErrInvalidInput)
			}
		}
	}
	switch {
	case files > 1:
		return Result{}, fmt.Errorf("%w: send one of photo, document, voice, audio", ErrInvalidInput)
	case files == 0 && strings.TrimSpace(um.Text) == "":
		return Result{}, fmt.Errorf("%w: text or a file is required", ErrInvalidInput)
	case files == 1 && um.Text != "":
		return Result{}, fmt.Errorf("%w: a file goes with caption, not text", ErrInvalidInput)
	case len([]rune(um.Text)) > 4096:
		return Result{}, fmt.Errorf("%w: text over 4096 characters", ErrInvalidInput)
	case len([]rune(um.Caption)) > 1024:
		return Result{}, fmt.Errorf("%w: caption over 1024 characters", ErrInvalidInput)
	}
	var sizes []PhotoSize
	var thumb []byte
	if um.Photo != nil {
		var err error
		thumb, sizes, err = photoSizes(um.Photo.Data)
		if err != nil {
			return Result{}, err
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.chatLocked(chatID, true)
	if um.From != nil {
		u := *um.From
		u.ID, u.IsBot = chatID, false
		if u.FirstName == "" {
			u.FirstName = c.user.FirstName
		}
		c.user = u
	}
	if c.blocked {
		return Result{}, ErrBlocked
	}
	user := c.user
	m := &Message{MessageID: c.nextMsgID, From: &user, Chat: c.telegramChat(), Date: time.Now().Unix(), Text: um.Text, Caption: um.Caption}
	c.nextMsgID++
	switch {
	case um.Photo != nil:
		small := e.storeFileLocked(thumb, "image/png", "photos")
		large := e.storeFileLocked(um.Photo.Data, http.DetectContentType(um.Photo.Data), "photos")
		sizes[0].FileID, sizes[0].FileUniqueID, sizes[0].FileSize = small.FileID, small.FileUniqueID, small.FileSize
		sizes[1].FileID, sizes[1].FileUniqueID, sizes[1].FileSize = large.FileID, large.FileUniqueID, large.FileSize
		m.Photo = sizes
	case um.Document != nil:
		f := e.storeFileLocked(um.Document.Data, mimeOf(um.Document), "documents")
		m.Document = &Document{FileID: f.FileID, FileUniqueID: f.FileUniqueID, FileName: um.Document.FileName, MimeType: f.mimeType, FileSize: f.FileSize}
	case um.Voice != nil:
		if um.Voice.MimeType == "" {
			um.Voice.MimeType = "audio/ogg"
		}
		f := e.storeFileLocked(um.Voice.Data, um.Voice.MimeType, "voice")
		m.Voice = &Voice{FileID: f.FileID, FileUniqueID: f.FileUniqueID, Duration: um.Voice.Duration, MimeType: f.mimeType, FileSize: f.FileSize}
	case um.Audio != nil:
		f := e.storeFileLocked(um.Audio.Data, mimeOf(um.Audio), "music")
		m.Audio = &Audio{FileID: f.FileID, FileUniqueID: f.FileUniqueID, Duration: um.Audio.Duration, Title: um.Audio.Title, FileName: um.Audio.FileName, MimeType: f.mimeType, FileSize: f.FileSize}
	}
	c.messages[m.MessageID] = m
	id := e.queueLocked(Update{Message: m})
	return Result{UpdateID: id, MessageID: m.MessageID}, nil
}

func mimeOf(u *Upload) string {
	if u.MimeType != "" {
		return u.MimeType
	}
	return http.DetectContentType(u.Data)
}

// EditMessage edits a text message the user sent earlier; the bot gets an
// edited_message update carrying the full new message with edit_date.
func (e *Emulator) EditMessage(chatID, messageID int64, text string) (Result, error) {
	if strings.TrimSpace(text) == "" {
		return Result{}, fmt.Errorf("%w: text is required", ErrInvalidInput)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.chatLocked(chatID, false)
	if c == nil {
		return Result{}, ErrUnknownChat
	}
	m, ok := c.messages[messageID]
	if !ok || m.From == nil || m.From.IsBot {
		return Result{}, fmt.Errorf("%w: %d is not a message the user sent", ErrUnknownMessage, messageID)
	}
	if m.Text == "" {
		m.Caption = text
	} else {
		m.Text = text
	}
	m.EditDate = time.Now().Unix()
	edited := *m
	id := e.queueLocked(Update{EditedMessage: &edited})
	return Result{UpdateID: id, MessageID: messageID}, nil
}

// PressButton presses the inline keyboard button with callback data (or,
// failing that, the label) data on the bot's message messageID, as the
// user of chatID: the query carries the button's callback data. It stays
// unanswered until the bot calls answerCallbackQuery.
func (e *Emulator) PressButton(chatID, messageID int64, data string) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.chatLocked(chatID, false)
	if c == nil {
		return Result{}, ErrUnknownChat
	}
	m, ok := c.messages[messageID]
	if !ok || m.From == nil || !m.From.IsBot {
		return Result{}, fmt.Errorf("%w: %d is not a message the bot sent", ErrUnknownMessage, messageID)
	}
	found, byLabel := false, ""
	if m.ReplyMarkup != nil {
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				found = found || (b.CallbackData != "" && b.CallbackData == data)
				if b.CallbackData != "" && b.Text == data && byLabel == "" {
					byLabel = b.CallbackData
				}
			}
		}
	}
	if !found && byLabel != "" {
		found, data = true, byLabel
	}
	if !found {
		return Result{}, fmt.Errorf("%w: message %d has no button with callback data %q", ErrInvalidInput, messageID, data)
	}
	if c.blocked {
		return Result{}, ErrBlocked
	}
	e.nextQuerySeq++
	q := &CallbackQuery{
		ID:           fmt.Sprintf("%d%06d", chatID, e.nextQuerySeq),
		From:         c.user,
		Message:      m,
		ChatInstance: strconv.FormatInt(-chatID*7919, 10),
		Data:         data,
	}
	e.queries[q.ID] = q
	id := e.queueLocked(Update{CallbackQuery: q})
	return Result{UpdateID: id, CallbackQueryID: q.ID}, nil
}

// Block makes the user of chatID block the bot: later sends get 403 "bot
// was blocked by the user" and the bot gets a my_chat_member update with
// status "kicked".
func (e *Emulator) Block(chatID int64) (Result, error) { return e.setBlocked(chatID, true) }

// Unblock undoes Block (the user pressed Restart); status becomes "member".
func (e *Emulator) Unblock(chatID int64) (Result, error) { return e.setBlocked(chatID, false) }

func (e *Emulator) setBlocked(chatID int64, blocked bool) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.chatLocked(chatID, false)
	if c == nil {
		return Result{}, ErrUnknownChat
	}
	if c.blocked == blocked {
		return Result{}, nil
	}
	c.blocked = blocked
	old, now := "member", "kicked"
	if !blocked {
		old, now = now, old
	}
	id := e.queueLocked(Update{MyChatMember: &ChatMemberUpdated{
		Chat: c.telegramChat(), From: c.user, Date: time.Now().Unix(),
		OldChatMember: ChatMember{Status: old, User: e.bot},
		NewChatMember: ChatMember{Status: now, User: e.bot},
	}})
	return Result{UpdateID: id}, nil
}

// Sent lists the messages the bot sent to chatID, oldest first.
func (e *Emulator) Sent(chatID int64) []SentMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.chatLocked(chatID, false); c != nil {
		return slices.Clone(c.sent)
	}
	return nil
}

// ChatActions lists the bot's sendChatAction calls for chatID, oldest first.
func (e *Emulator) ChatActions(chatID int64) []ChatAction {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.chatLocked(chatID, false); c != nil {
		return slices.Clone(c.actions)
	}
	return nil
}

// CallbackAnswers lists the bot's answerCallbackQuery calls, oldest first.
func (e *Emulator) CallbackAnswers() []CallbackAnswer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.answers)
}

// FileData returns the bytes and MIME type of a file by file_id.
func (e *Emulator) FileData(fileID string) ([]byte, string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.files[fileID]
	if !ok {
		return nil, "", false
	}
	return slices.Clone(f.data), f.mimeType, true
}

// WebhookStatus is the webhook as the control API reports it: getWebhookInfo
// plus what only the server knows.
type WebhookStatus struct {
	WebhookInfo
	SecretToken string `json:"secret_token,omitempty"`
	Deliveries  int    `json:"deliveries"`
	Failures    int    `json:"failures"`
}

// Webhook reports the webhook registration and delivery counters.
func (e *Emulator) Webhook() WebhookStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return WebhookStatus{WebhookInfo: e.webhookInfoLocked(), SecretToken: e.webhook.SecretToken, Deliveries: e.webhook.Deliveries, Failures: e.webhook.Failures}
}

// Pending lists the updates not yet confirmed by getUpdates or delivered to
// the webhook.
func (e *Emulator) Pending() []Update {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.compactLocked()
	return slices.Clone(e.pending)
}

// Wait blocks until cond returns true (re-checked after every change) or
// ctx ends. cond may call the emulator's read methods.
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
		case <-e.done:
			return ErrClosed
		}
	}
}

// WaitSent waits until the bot sent at least n messages to chatID.
func (e *Emulator) WaitSent(ctx context.Context, chatID int64, n int) ([]SentMessage, error) {
	var out []SentMessage
	err := e.Wait(ctx, func() bool { out = e.Sent(chatID); return len(out) >= n })
	return out, err
}

// photoSizes decodes a user's photo and returns a thumbnail (PNG, at most
// 90 px a side) and the two PhotoSizes, smallest first (file ids unset).
func photoSizes(data []byte) ([]byte, []PhotoSize, error) {
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: photo must be a PNG, JPEG or GIF image: %v", ErrInvalidInput, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	scale := max(float64(w), float64(h)) / 90
	tw, th := w, h
	if scale > 1 {
		tw, th = max(1, int(float64(w)/scale)), max(1, int(float64(h)/scale))
	}
	thumb := image.NewRGBA(image.Rect(0, 0, tw, th))
	for y := range th {
		for x := range tw {
			thumb.Set(x, y, color.RGBAModel.Convert(img.At(b.Min.X+x*w/tw, b.Min.Y+y*h/th)))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, thumb); err != nil {
		return nil, nil, fmt.Errorf("encode thumbnail: %w", err)
	}
	return buf.Bytes(), []PhotoSize{{Width: tw, Height: th}, {Width: w, Height: h}}, nil
}

// imageSize returns an image's dimensions, or 0, 0 when it does not decode.
func imageSize(data []byte) (int, int) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0
	}
	return cfg.Width, cfg.Height
}

// controlRoutes registers the user-side control API. Bodies are JSON;
// errors are {"error":"..."} with 400, 404 or 409.
func (e *Emulator) controlRoutes(m *http.ServeMux) {
	const p = "/fake/telegram/api/"
	m.HandleFunc("POST "+p+"users", func(w http.ResponseWriter, r *http.Request) {
		var u User
		if !decode(w, r, &u) {
			return
		}
		reply(w, u, e.AddUser(u))
	})
	m.HandleFunc("POST "+p+"chats/{chat}/messages", func(w http.ResponseWriter, r *http.Request) {
		var um UserMessage
		chat, ok := chatParam(w, r)
		if !ok || !decode(w, r, &um) {
			return
		}
		res, err := e.SendMessage(chat, um)
		reply(w, res, err)
	})
	m.HandleFunc("POST "+p+"chats/{chat}/messages/{message}/edit", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Text string `json:"text"`
		}
		chat, ok := chatParam(w, r)
		if !ok || !decode(w, r, &body) {
			return
		}
		msg, err := strconv.ParseInt(r.PathValue("message"), 10, 64)
		if err != nil {
			reply(w, nil, fmt.Errorf("%w: message id must be a number", ErrInvalidInput))
			return
		}
		res, err := e.EditMessage(chat, msg, body.Text)
		reply(w, res, err)
	})
	m.HandleFunc("POST "+p+"chats/{chat}/callbacks", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			MessageID int64  `json:"message_id"`
			Data      string `json:"data"`
		}
		chat, ok := chatParam(w, r)
		if !ok || !decode(w, r, &body) {
			return
		}
		res, err := e.PressButton(chat, body.MessageID, body.Data)
		reply(w, res, err)
	})
	m.HandleFunc("POST "+p+"chats/{chat}/block", func(w http.ResponseWriter, r *http.Request) {
		if chat, ok := chatParam(w, r); ok {
			res, err := e.Block(chat)
			reply(w, res, err)
		}
	})
	m.HandleFunc("POST "+p+"chats/{chat}/unblock", func(w http.ResponseWriter, r *http.Request) {
		if chat, ok := chatParam(w, r); ok {
			res, err := e.Unblock(chat)
			reply(w, res, err)
		}
	})
	m.HandleFunc("GET "+p+"chats/{chat}/sent", func(w http.ResponseWriter, r *http.Request) {
		if chat, ok := chatParam(w, r); ok {
			reply(w, nonNil(e.Sent(chat)), nil)
		}
	})
	m.HandleFunc("GET "+p+"chats/{chat}/actions", func(w http.ResponseWriter, r *http.Request) {
		if chat, ok := chatParam(w, r); ok {
			reply(w, nonNil(e.ChatActions(chat)), nil)
		}
	})
	m.HandleFunc("GET "+p+"callback-answers", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nonNil(e.CallbackAnswers()), nil)
	})
	m.HandleFunc("GET "+p+"files/{file_id}", func(w http.ResponseWriter, r *http.Request) {
		data, mimeType, ok := e.FileData(r.PathValue("file_id"))
		if !ok {
			reply(w, nil, fmt.Errorf("%w: no file %q", ErrUnknownMessage, r.PathValue("file_id")))
			return
		}
		w.Header().Set("Content-Type", mimeType)
		_, _ = w.Write(data)
	})
	m.HandleFunc("GET "+p+"webhook", func(w http.ResponseWriter, r *http.Request) { reply(w, e.Webhook(), nil) })
	m.HandleFunc("GET "+p+"updates", func(w http.ResponseWriter, r *http.Request) { reply(w, nonNil(e.Pending()), nil) })
	m.HandleFunc("GET "+p+"faults", func(w http.ResponseWriter, r *http.Request) { reply(w, e.Faults(), nil) })
	m.HandleFunc("POST "+p+"faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if decode(w, r, &f) {
			reply(w, f, e.InjectFault(f))
		}
	})
	m.HandleFunc("DELETE "+p+"faults", func(w http.ResponseWriter, r *http.Request) {
		e.ClearFaults()
		reply(w, []Fault{}, nil)
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func chatParam(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("chat"), 10, 64)
	if err != nil {
		reply(w, nil, fmt.Errorf("%w: chat id must be a number", ErrInvalidInput))
		return 0, false
	}
	return id, true
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		reply(w, nil, fmt.Errorf("%w: %v", ErrInvalidInput, err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrUnknownChat), errors.Is(err, ErrUnknownMessage):
		status = http.StatusNotFound
	case errors.Is(err, ErrBlocked):
		status = http.StatusConflict
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
