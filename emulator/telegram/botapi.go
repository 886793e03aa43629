package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/leconnect/leconnect/emulator/internal/serve"
)

// apiError is a Bot API error: the HTTP status equals Code (channels.md §1.1).
type apiError struct {
	Code        int
	Description string
	RetryAfter  int
	MigrateTo   int64
}

func (e *apiError) Error() string { return e.Description }

func badRequest(msg string) *apiError {
	return &apiError{Code: http.StatusBadRequest, Description: "Bad Request: " + msg}
}

var (
	errUnauthorized   = &apiError{Code: http.StatusUnauthorized, Description: "Unauthorized"}
	errMethodNotFound = &apiError{Code: http.StatusNotFound, Description: "Not Found: method not found"}
	errChatNotFound   = badRequest("chat not found")
	errChatIDEmpty    = badRequest("chat_id is empty")
	errBlocked        = &apiError{Code: http.StatusForbidden, Description: "Forbidden: bot was blocked by the user"}
	errWebhookActive  = &apiError{Code: http.StatusConflict, Description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	errOtherGetUpdate = &apiError{Code: http.StatusConflict, Description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
	errWrongFileID    = badRequest("wrong file_id or the file is temporarily unavailable")
	errFileTooBig     = badRequest("file is too big")
	errQueryTooOld    = badRequest("query is too old and response timeout expired or query ID is invalid")
)

func tooManyRequests(retryAfter int) *apiError {
	return &apiError{Code: http.StatusTooManyRequests, Description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), RetryAfter: retryAfter}
}

type responseParameters struct {
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
	RetryAfter      int   `json:"retry_after,omitempty"`
}

type okEnvelope struct {
	OK          bool   `json:"ok"`
	Result      any    `json:"result"`
	Description string `json:"description,omitempty"`
}

type errorEnvelope struct {
	OK          bool                `json:"ok"`
	ErrorCode   int                 `json:"error_code"`
	Description string              `json:"description"`
	Parameters  *responseParameters `json:"parameters,omitempty"`
}

func writeOK(w http.ResponseWriter, result any, description string) {
	writeJSON(w, http.StatusOK, okEnvelope{OK: true, Result: result, Description: description})
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	env := errorEnvelope{OK: false, ErrorCode: e.Code, Description: e.Description}
	if e.RetryAfter > 0 || e.MigrateTo != 0 {
		env.Parameters = &responseParameters{RetryAfter: e.RetryAfter, MigrateToChatID: e.MigrateTo}
	}
	writeJSON(w, e.Code, env)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// methodFunc implements one Bot API method. desc is the optional success
// "description" (setWebhook's "Webhook was set").
type methodFunc func(ctx context.Context, p *params) (result any, desc string, err *apiError)

func (e *Emulator) methods() map[string]methodFunc {
	return map[string]methodFunc{
		"getme":               e.getMe,
		"setwebhook":          e.setWebhook,
		"deletewebhook":       e.deleteWebhook,
		"getwebhookinfo":      e.getWebhookInfo,
		"getupdates":          e.getUpdates,
		"sendmessage":         e.sendMessage,
		"sendphoto":           func(ctx context.Context, p *params) (any, string, *apiError) { return e.sendFile(p, "photo") },
		"senddocument":        func(ctx context.Context, p *params) (any, string, *apiError) { return e.sendFile(p, "document") },
		"sendchataction":      e.sendChatAction,
		"answercallbackquery": e.answerCallbackQuery,
		"getfile":             e.getFile,
	}
}

// serveBotAPI serves /bot<token>/<method>.
func (e *Emulator) serveBotAPI(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/bot")
	token, method, ok := strings.Cut(rest, "/")
	if !ok || method == "" || strings.Contains(method, "/") {
		writeAPIError(w, errMethodNotFound)
		return
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(e.opts.Token)) != 1 {
		writeAPIError(w, errUnauthorized)
		return
	}
	fn, known := e.methods()[strings.ToLower(method)]
	if !known {
		writeAPIError(w, errMethodNotFound)
		return
	}
	p, err := parseParams(r)
	if err != nil {
		writeAPIError(w, badRequest(err.Error()))
		return
	}
	f := e.takeFault(method)
	if f != nil && f.ErrorCode != 0 {
		writeAPIError(w, f.apiError())
		return
	}
	res, desc, aerr := fn(r.Context(), p)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if f != nil && !serve.HoldAnswer(r, e.done, time.Duration(f.HoldMillis)*time.Millisecond) {
		return // done, but the answer was late and nobody waited for it
	}
	writeOK(w, res, desc)
}

// params holds a request's parameters from any of the four accepted
// encodings (query string, form, JSON, multipart), as strings: JSON values
// that are not strings keep their JSON text.
type params struct {
	values map[string]string
	files  map[string]*multipart.FileHeader
}

func parseParams(r *http.Request) (*params, error) {
	p := &params{values: map[string]string{}, files: map[string]*multipart.FileHeader{}}
	for k, vs := range r.URL.Query() {
		p.values[k] = vs[0]
	}
	if r.Method == http.MethodGet || r.Body == nil {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var raw map[string]json.RawMessage
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("can't read request body: %w", err)
		}
		if len(strings.TrimSpace(string(body))) == 0 {
			return p, nil
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, errors.New("can't parse JSON object")
		}
		for k, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				p.values[k] = s
			} else {
				p.values[k] = string(v)
			}
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, errors.New("can't parse form")
		}
		for k, vs := range r.PostForm {
			p.values[k] = vs[0]
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(64 << 20); err != nil {
			return nil, errors.New("can't parse multipart form")
		}
		for k, vs := range r.MultipartForm.Value {
			p.values[k] = vs[0]
		}
		for k, fs := range r.MultipartForm.File {
			p.files[k] = fs[0]
		}
	}
	return p, nil
}

// paramsFromJSON builds params from a webhook reply's JSON object.
func paramsFromJSON(raw map[string]json.RawMessage) *params {
	p := &params{values: map[string]string{}, files: map[string]*multipart.FileHeader{}}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			p.values[k] = s
		} else {
			p.values[k] = string(v)
		}
	}
	return p
}

func (p *params) str(name string) string { return p.values[name] }

func (p *params) int(name string) (int64, bool, *apiError) {
	v, ok := p.values[name]
	if !ok || v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, true, badRequest(fmt.Sprintf("wrong parameter %s in request", name))
	}
	return n, true, nil
}

func (p *params) bool(name string) bool {
	v := strings.ToLower(p.values[name])
	return v == "true" || v == "1"
}

// jsonValue decodes a parameter that carries JSON (reply_markup,
// allowed_updates): an object in JSON requests, a JSON string in forms.
func (p *params) jsonValue(name string, v any) (bool, *apiError) {
	s, ok := p.values[name]
	if !ok || s == "" {
		return false, nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return true, badRequest(fmt.Sprintf("can't parse %s JSON object", name))
	}
	return true, nil
}

// chatTarget resolves chat_id (a number or "@username") to a chat.
func (e *Emulator) chatTargetLocked(p *params) (*chat, *apiError) {
	v := p.str("chat_id")
	if v == "" {
		return nil, errChatIDEmpty
	}
	if strings.HasPrefix(v, "@") {
		for _, c := range e.chats {
			if c.user.Username != "" && strings.EqualFold("@"+c.user.Username, v) {
				return c, nil
			}
		}
		return nil, errChatNotFound
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, errChatNotFound
	}
	c := e.chatLocked(id, false)
	if c == nil {
		return nil, errChatNotFound
	}
	return c, nil
}

func (e *Emulator) getMe(context.Context, *params) (any, string, *apiError) {
	return getMeUser{User: e.bot, CanJoinGroups: true}, "", nil
}

// sendMessage: text 1-4096 characters, optional reply_markup, parse_mode,
// message_thread_id.
func (e *Emulator) sendMessage(_ context.Context, p *params) (any, string, *apiError) {
	text := p.str("text")
	if strings.TrimSpace(text) == "" {
		return nil, "", badRequest("message text is empty")
	}
	// UNCONFIRMED whether the limit counts UTF-16 units or code points: the
	// emulator accepts both readings, so it refuses only beyond 4096 code points.
	if n := len([]rune(text)); n > 4096 {
		return nil, "", badRequest("message is too long")
	}
	markup, aerr := parseMarkup(p)
	if aerr != nil {
		return nil, "", aerr
	}
	thread, _, aerr := p.int("message_thread_id")
	if aerr != nil {
		return nil, "", aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, aerr := e.sendableChatLocked(p)
	if aerr != nil {
		return nil, "", aerr
	}
	m := e.newBotMessageLocked(c)
	m.Text, m.ReplyMarkup, m.MessageThreadID = text, markup, thread
	c.sent = append(c.sent, SentMessage{Method: "sendMessage", ParseMode: p.str("parse_mode"), Message: *m})
	e.notifyLocked()
	return m, "", nil
}

// sendableChatLocked resolves the target chat and applies the blocked
// state and rate limits that every message-sending method shares.
func (e *Emulator) sendableChatLocked(p *params) (*chat, *apiError) {
	c, aerr := e.chatTargetLocked(p)
	if aerr != nil {
		return nil, aerr
	}
	if c.blocked {
		return nil, errBlocked
	}
	if ra, ok := e.allowSendLocked(c.user.ID); !ok {
		return nil, tooManyRequests(ra)
	}
	return c, nil
}

func (e *Emulator) newBotMessageLocked(c *chat) *Message {
	bot := e.bot
	m := &Message{MessageID: c.nextMsgID, From: &bot, Chat: c.telegramChat(), Date: time.Now().Unix()}
	c.nextMsgID++
	c.messages[m.MessageID] = m
	return m
}

func parseMarkup(p *params) (*InlineKeyboardMarkup, *apiError) {
	var markup InlineKeyboardMarkup
	set, aerr := p.jsonValue("reply_markup", &markup)
	if aerr != nil || !set {
		return nil, aerr
	}
	for _, row := range markup.InlineKeyboard {
		for _, b := range row {
			if b.Text == "" {
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			}
			// UNCONFIRMED string; the 1-64 byte rule is documented (channels.md §1.7).
			if b.CallbackData == "" && b.URL == "" || len(b.CallbackData) > 64 {
				return nil, badRequest("BUTTON_DATA_INVALID")
			}
		}
	}
	return &markup, nil
}

// sendFile implements sendPhoto (field "photo") and sendDocument
// ("document"): the file is a multipart upload (in a part named after the
// field, or named by "attach://<name>"), a file_id the emulator knows, or
// an HTTP URL, which the emulator downloads as the Bot API server does
// (5 MB for photos, 20 MB otherwise; documents only as PDF or ZIP).
func (e *Emulator) sendFile(p *params, field string) (any, string, *apiError) {
	caption := p.str("caption")
	if len([]rune(caption)) > 1024 {
		return nil, "", badRequest("message caption is too long") // UNCONFIRMED string
	}
	markup, aerr := parseMarkup(p)
	if aerr != nil {
		return nil, "", aerr
	}
	thread, _, aerr := p.int("message_thread_id")
	if aerr != nil {
		return nil, "", aerr
	}
	var (
		data     []byte
		name     string
		mimeType string
		existing *storedFile
	)
	ref := p.str(field)
	part, ok := p.files[field]
	if attach, isAttach := strings.CutPrefix(ref, "attach://"); isAttach {
		part, ok = p.files[attach]
		if !ok {
			return nil, "", badRequest(fmt.Sprintf("there is no %s in the request", field))
		}
	}
	switch {
	case ok:
		f, err := part.Open()
		if err != nil {
			return nil, "", badRequest("can't read uploaded file")
		}
		data, err = io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, "", badRequest("can't read uploaded file")
		}
		name, mimeType = part.Filename, part.Header.Get("Content-Type")
		limit := int64(50 << 20)
		if field == "photo" {
			limit = 10 << 20
		}
		if int64(len(data)) > limit {
			return nil, "", badRequest("file is too big")
		}
		if len(data) == 0 {
			return nil, "", badRequest("file must be non-empty")
		}
	case ref != "":
		e.mu.Lock()
		existing = e.files[ref]
		e.mu.Unlock()
		if existing == nil {
			u, err := url.Parse(ref)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return nil, "", errWrongFileID
			}
			if data, name, mimeType, aerr = e.fetchURL(u, field); aerr != nil {
				return nil, "", aerr
			}
		}
	default:
		return nil, "", badRequest(fmt.Sprintf("there is no %s in the request", field))
	}
	if mimeType == "" || mimeType == "application/octet-stream" {
		mimeType = http.DetectContentType(data)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	c, aerr := e.sendableChatLocked(p)
	if aerr != nil {
		return nil, "", aerr
	}
	m := e.newBotMessageLocked(c)
	m.Caption, m.ReplyMarkup, m.MessageThreadID = caption, markup, thread
	method := "sendDocument"
	if existing == nil {
		existing = e.storeFileLocked(data, mimeType, field+"s")
	}
	if field == "photo" {
		method = "sendPhoto"
		w, h := imageSize(existing.data)
		m.Photo = []PhotoSize{{FileID: existing.FileID, FileUniqueID: existing.FileUniqueID, Width: w, Height: h, FileSize: existing.FileSize}}
	} else {
		if name == "" {
			name = "document"
		}
		m.Document = &Document{FileID: existing.FileID, FileUniqueID: existing.FileUniqueID, FileName: name, MimeType: existing.mimeType, FileSize: existing.FileSize}
	}
	c.sent = append(c.sent, SentMessage{Method: method, ParseMode: p.str("parse_mode"), Message: *m})
	e.notifyLocked()
	return m, "", nil
}

// storeFileLocked keeps data under a new file_id and file_path in dir.
func (e *Emulator) storeFileLocked(data []byte, mimeType, dir string) *storedFile {
	e.nextFileSeq++
	n := e.nextFileSeq
	ext := ""
	if exts, _ := mime.ExtensionsByType(mimeType); len(exts) > 0 {
		ext = exts[0]
	}
	f := &storedFile{
		File: File{
			FileID:       fmt.Sprintf("EMU-file-%d-%s", n, strings.TrimSuffix(dir, "s")),
			FileUniqueID: fmt.Sprintf("EMUU%d", n),
			FileSize:     int64(len(data)),
			FilePath:     fmt.Sprintf("%s/file_%d%s", dir, n, ext),
		},
		data:     data,
		mimeType: mimeType,
	}
	e.files[f.FileID] = f
	return f
}

var chatActions = map[string]bool{
	"typing": true, "upload_photo": true, "record_video": true, "upload_video": true, "record_voice": true,
	"upload_voice": true, "upload_document": true, "choose_sticker": true, "find_location": true,
	"record_video_note": true, "upload_video_note": true,
}

func (e *Emulator) sendChatAction(_ context.Context, p *params) (any, string, *apiError) {
	action := p.str("action")
	if !chatActions[action] {
		return nil, "", badRequest("wrong parameter action in request") // UNCONFIRMED string
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, aerr := e.chatTargetLocked(p)
	if aerr != nil {
		return nil, "", aerr
	}
	if c.blocked {
		return nil, "", errBlocked
	}
	c.actions = append(c.actions, ChatAction{ChatID: c.user.ID, Action: action, At: time.Now()})
	e.notifyLocked()
	return true, "", nil
}

func (e *Emulator) answerCallbackQuery(_ context.Context, p *params) (any, string, *apiError) {
	id := p.str("callback_query_id")
	text := p.str("text")
	if len([]rune(text)) > 200 {
		return nil, "", badRequest("MESSAGE_TOO_LONG") // UNCONFIRMED string
	}
	cache, _, aerr := p.int("cache_time")
	if aerr != nil {
		return nil, "", aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.queries[id]; !ok {
		return nil, "", errQueryTooOld
	}
	delete(e.queries, id)
	e.answers = append(e.answers, CallbackAnswer{CallbackQueryID: id, Text: text, ShowAlert: p.bool("show_alert"), URL: p.str("url"), CacheTime: int(cache)})
	e.notifyLocked()
	return true, "", nil
}

func (e *Emulator) getFile(_ context.Context, p *params) (any, string, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.files[p.str("file_id")]
	if !ok {
		return nil, "", errWrongFileID
	}
	if f.FileSize > e.opts.MaxDownloadBytes {
		return nil, "", errFileTooBig
	}
	return f.File, "", nil
}

// serveFile serves /file/bot<token>/<file_path>.
func (e *Emulator) serveFile(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/file/bot")
	token, path, ok := strings.Cut(rest, "/")
	if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(e.opts.Token)) != 1 {
		writeAPIError(w, errUnauthorized)
		return
	}
	e.mu.Lock()
	var found *storedFile
	for _, f := range e.files {
		if f.FilePath == path {
			found = f
			break
		}
	}
	e.mu.Unlock()
	if found == nil {
		writeAPIError(w, &apiError{Code: http.StatusNotFound, Description: "Not Found"})
		return
	}
	w.Header().Set("Content-Type", found.mimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(found.data)))
	_, _ = w.Write(found.data)
}

// fetchURL downloads a file sent by URL as the Bot API server does: by
// its documented limits (5 MB photos, 20 MB other files) and types
// (photos as images, documents only as PDF or ZIP).
func (e *Emulator) fetchURL(u *url.URL, field string) (data []byte, name, mimeType string, aerr *apiError) {
	limit := int64(20 << 20)
	if field == "photo" {
		limit = 5 << 20
	}
	client := &http.Client{Timeout: 30 * time.Second}
	res, err := client.Get(u.String())
	if err != nil {
		return nil, "", "", badRequest("failed to get HTTP URL content")
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, "", "", badRequest("failed to get HTTP URL content")
	}
	data, err = io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil || len(data) == 0 {
		return nil, "", "", badRequest("failed to get HTTP URL content")
	}
	if int64(len(data)) > limit {
		return nil, "", "", badRequest("file is too big")
	}
	mimeType, _, _ = strings.Cut(res.Header.Get("Content-Type"), ";")
	mimeType = strings.TrimSpace(mimeType)
	if mimeType == "" || mimeType == "application/octet-stream" {
		mimeType = http.DetectContentType(data)
	}
	switch {
	case field == "photo" && !strings.HasPrefix(mimeType, "image/"),
		field == "document" && mimeType != "application/pdf" && mimeType != "application/zip":
		return nil, "", "", badRequest("wrong type of the web page content") // UNCONFIRMED string
	}
	return data, path.Base(u.Path), mimeType, nil
}
