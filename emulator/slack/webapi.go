package slack

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leconnect/leconnect/emulator/internal/serve"
)

// Limits from channels.md §2.7.
const (
	maxTextChars = 40000
	maxBlocks    = 50
	maxAttach    = 100
	maxBodyBytes = 50 << 20
)

// args are a Web API call's arguments from any documented encoding: query,
// form, multipart or JSON (§2.6). JSON values that are not strings are kept
// raw in json.
type args struct {
	vals url.Values
	json map[string]json.RawMessage
}

func (a args) get(k string) string {
	if v, ok := a.json[k]; ok {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return string(v)
	}
	return a.vals.Get(k)
}

// raw returns a JSON value: the JSON body's own, or a form value that holds JSON.
// flag reads a boolean argument: true or 1, as a string or a JSON true.
func (a args) flag(k string) bool {
	v := a.get(k)
	return v == "true" || v == "1"
}

func (a args) raw(k string) json.RawMessage {
	if v, ok := a.json[k]; ok {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return json.RawMessage(s)
		}
		return v
	}
	if s := a.vals.Get(k); s != "" {
		return json.RawMessage(s)
	}
	return nil
}

type apiError struct {
	status     int
	code       string
	retryAfter int
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	status := e.status
	if status == 0 {
		status = http.StatusOK // ok:false errors come with 200 (§2.6, UNCONFIRMED as a rule)
	}
	writeJSON(w, status, map[string]any{"ok": false, "error": e.code})
}

// parseArgs reads the arguments. Bad JSON gives invalid_json or json_not_object.
func parseArgs(r *http.Request) (args, *apiError) {
	a := args{vals: url.Values{}}
	for k, v := range r.URL.Query() {
		a.vals[k] = v
	}
	if r.Method != http.MethodPost {
		return a, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		if err != nil {
			return a, &apiError{code: "invalid_json"}
		}
		var v any
		if json.Unmarshal(body, &v) != nil {
			return a, &apiError{code: "invalid_json"}
		}
		if _, ok := v.(map[string]any); !ok {
			return a, &apiError{code: "json_not_object"}
		}
		_ = json.Unmarshal(body, &a.json)
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil {
			return a, &apiError{code: "invalid_form_data"}
		}
		for k, v := range r.MultipartForm.Value {
			a.vals[k] = v
		}
	default:
		if err := r.ParseForm(); err != nil {
			return a, &apiError{code: "invalid_form_data"}
		}
		for k, v := range r.PostForm {
			a.vals[k] = v
		}
	}
	return a, nil
}

// token returns the Bearer token, or the legacy form/JSON "token" argument.
func token(r *http.Request, a args) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if _, ok := a.json["token"]; ok {
		return a.get("token")
	}
	return a.vals.Get("token")
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (e *Emulator) serveWebAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	a, perr := parseArgs(r)
	if perr != nil {
		writeErr(w, perr)
		return
	}
	tok := token(r, a)
	if method == "apps.connections.open" {
		// The app-level token, in the header only (§2.5).
		h := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case h == "":
			writeErr(w, &apiError{code: "not_authed"})
		case !same(h, e.opts.AppToken):
			writeErr(w, &apiError{code: "invalid_auth"})
		default:
			e.connectionsOpen(w)
		}
		return
	}
	switch {
	case tok == "":
		writeErr(w, &apiError{code: "not_authed"})
		return
	case !same(tok, e.opts.BotToken):
		writeErr(w, &apiError{code: "invalid_auth"})
		return
	}
	f := e.takeFault(method)
	if f != nil && f.Error != "" {
		writeErr(w, f.apiError(e))
		return
	}
	var res map[string]any
	var aerr *apiError
	switch method {
	case "auth.test":
		res = map[string]any{"url": e.baseURL() + "/", "team": "Emulated Workspace", "user": "leconnect",
			"team_id": e.opts.TeamID, "user_id": e.opts.BotUserID, "bot_id": e.opts.BotID, "is_enterprise_install": false}
	case "chat.postMessage":
		res, aerr = e.postMessage(a)
	case "files.getUploadURLExternal":
		res, aerr = e.getUploadURL(a)
	case "files.completeUploadExternal":
		res, aerr = e.completeUpload(a)
	case "users.info":
		res, aerr = e.usersInfo(a)
	case "conversations.open":
		res, aerr = e.conversationsOpen(a)
	case "files.info":
		res, aerr = e.filesInfo(a)
	case "conversations.history":
		res, aerr = e.conversationsHistory(a)
	default:
		aerr = &apiError{code: "unknown_method"}
	}
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	if f != nil && !serve.HoldAnswer(r, e.done, time.Duration(f.HoldMillis)*time.Millisecond) {
		return // done, but the answer was late and nobody waited for it
	}
	out := map[string]any{"ok": true}
	for k, v := range res {
		out[k] = v
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) baseURL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.publicURL
}

func (e *Emulator) postMessage(a args) (map[string]any, *apiError) {
	text := a.get("text")
	var blocks []any
	if raw := a.raw("blocks"); raw != nil {
		if json.Unmarshal(raw, &blocks) != nil {
			return nil, &apiError{code: "invalid_blocks"}
		}
		if len(blocks) > maxBlocks {
			return nil, &apiError{code: "invalid_blocks"}
		}
		for _, b := range blocks {
			m, ok := b.(map[string]any)
			if !ok || m["type"] == nil {
				return nil, &apiError{code: "invalid_blocks"}
			}
		}
	}
	var attachments []any
	if raw := a.raw("attachments"); raw != nil {
		if json.Unmarshal(raw, &attachments) != nil {
			return nil, &apiError{code: "invalid_attachments"}
		}
		if len(attachments) > maxAttach {
			return nil, &apiError{code: "too_many_attachments"}
		}
	}
	if text == "" && len(blocks) == 0 && len(attachments) == 0 && a.get("markdown_text") == "" {
		return nil, &apiError{code: "no_text"}
	}
	var metadata *MessageMetadata
	if raw := a.raw("metadata"); raw != nil {
		metadata = &MessageMetadata{}
		// A JSON object, or (form-encoded calls) a string holding one.
		var str string
		if json.Unmarshal(raw, &str) == nil {
			raw = json.RawMessage(str)
		}
		if json.Unmarshal(raw, metadata) != nil || metadata.EventType == "" || metadata.EventPayload == nil {
			return nil, &apiError{code: "invalid_metadata_format"}
		}
	}
	if utf8.RuneCountInString(text) > maxTextChars {
		text = string([]rune(text)[:maxTextChars]) // "more than 40,000 is truncated" (§2.7)
	}
	e.mu.Lock()
	c := e.channelLocked(a.get("channel"))
	switch {
	case c == nil:
		e.mu.Unlock()
		return nil, &apiError{code: "channel_not_found"}
	case c.Archived:
		e.mu.Unlock()
		return nil, &apiError{code: "is_archived"}
	case !c.BotIn:
		e.mu.Unlock()
		return nil, &apiError{code: "not_in_channel"}
	}
	if wait := e.rateLocked("chat.postMessage:"+c.ID, e.opts.PostRate, e.opts.PostBurst); wait > 0 {
		e.mu.Unlock()
		return nil, &apiError{status: http.StatusTooManyRequests, code: "ratelimited", retryAfter: int(math.Ceil(wait.Seconds()))}
	}
	thread := a.get("thread_ts")
	if thread != "" && c.find(thread) == nil {
		e.mu.Unlock()
		return nil, &apiError{code: "thread_not_found"}
	}
	m := &Message{Type: "message", Channel: c.ID, User: e.opts.BotUserID, BotID: e.opts.BotID, AppID: e.opts.AppID,
		Text: text, TS: e.newTSLocked(), ThreadTS: thread, Blocks: blocks, Method: "chat.postMessage", Metadata: metadata}
	c.messages = append(c.messages, m)
	e.notifyLocked()
	e.echoLocked(c, m)
	e.mu.Unlock()
	return map[string]any{"channel": c.ID, "ts": m.TS, "message": m}, nil
}

func (e *Emulator) getUploadURL(a args) (map[string]any, *apiError) {
	name := a.get("filename")
	n, err := strconv.Atoi(a.get("length"))
	if name == "" || a.get("length") == "" || err != nil || n <= 0 {
		return nil, &apiError{code: "missing_argument"} // "length 0 gives missing_argument" (§2.8)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.nextIDLocked("F")
	up := e.nextIDLocked("u")
	e.files[id] = &storedFile{File: File{ID: id, Name: name, Title: name, User: e.opts.BotUserID, Mode: "hosted"}, length: n}
	e.uploads[up] = id
	return map[string]any{"upload_url": e.publicURL + "/upload/v1/" + up, "file_id": id}, nil
}

// serveUpload is step 2 of the external upload: raw bytes or multipart;
// HTTP 200 "OK - <n>" (§2.8).
func (e *Emulator) serveUpload(w http.ResponseWriter, r *http.Request) {
	var data []byte
	var err error
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		if err = r.ParseMultipartForm(maxBodyBytes); err == nil {
			for _, fhs := range r.MultipartForm.File {
				if len(fhs) > 0 {
					f, ferr := fhs[0].Open()
					if ferr == nil {
						data, err = io.ReadAll(f)
						f.Close()
					}
					break
				}
			}
		}
	} else {
		data, err = io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	}
	if err != nil || data == nil {
		http.Error(w, "bad upload", http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	f := e.files[e.uploads[r.PathValue("id")]]
	if f != nil {
		f.data, f.uploaded, f.Size = data, true, len(data)
	}
	e.mu.Unlock()
	if f == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "OK - %d", len(data))
}

func (e *Emulator) completeUpload(a args) (map[string]any, *apiError) {
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if raw := a.raw("files"); raw == nil || json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, &apiError{code: "invalid_arguments"}
	}
	chanID := a.get("channel_id")
	if chanID == "" {
		chanID, _, _ = strings.Cut(a.get("channels"), ",")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var c *channel
	if chanID != "" {
		if c = e.channelLocked(chanID); c == nil {
			return nil, &apiError{code: "channel_not_found"}
		}
		if !c.BotIn {
			return nil, &apiError{code: "not_in_channel"}
		}
	}
	var out []map[string]any
	var files []File
	for _, it := range list {
		f := e.files[it.ID]
		if f == nil || f.completed {
			return nil, &apiError{code: "file_not_found"}
		}
		if !f.uploaded {
			return nil, &apiError{code: "file_upload_not_completed"} // name UNCONFIRMED
		}
		if it.Title != "" {
			f.Title = it.Title
		}
		f.completed = true
		now := time.Now().Unix()
		f.Created, f.Timestamp = now, now
		f.Mimetype = mimeByName(f.Name)
		f.Filetype = strings.TrimPrefix(path.Ext(f.Name), ".")
		f.URLPrivate = e.publicURL + "/files-pri/" + e.opts.TeamID + "-" + f.ID + "/" + url.PathEscape(f.Name)
		f.URLPrivateDownload = e.publicURL + "/files-pri/" + e.opts.TeamID + "-" + f.ID + "/download/" + url.PathEscape(f.Name)
		files = append(files, f.File)
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	if c != nil {
		thread := a.get("thread_ts")
		m := &Message{Type: "message", Channel: c.ID, User: e.opts.BotUserID, BotID: e.opts.BotID, AppID: e.opts.AppID,
			Text: a.get("initial_comment"), TS: e.newTSLocked(), ThreadTS: thread, Files: files, Method: "files.completeUploadExternal"}
		c.messages = append(c.messages, m)
		e.notifyLocked()
		e.echoLocked(c, m)
	}
	return map[string]any{"files": out}, nil
}

func mimeByName(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		t, _, _ = strings.Cut(t, ";")
		return t
	}
	return "application/octet-stream"
}

// serveFile serves url_private(_download); it needs the bot token as a
// Bearer header (§2.4 "Downloading"). Without it the answer is 403 (real
// Slack's exact answer is UNCONFIRMED; see docs/emulator.md).
func (e *Emulator) serveFile(w http.ResponseWriter, r *http.Request) {
	if !same(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), e.opts.BotToken) {
		http.Error(w, "authorization required", http.StatusForbidden)
		return
	}
	_, id, _ := strings.Cut(r.PathValue("id"), "-")
	e.mu.Lock()
	f := e.files[id]
	var data []byte
	var ct string
	if f != nil && f.uploaded {
		data, ct = f.data, f.Mimetype
	}
	e.mu.Unlock()
	if data == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// rateLocked takes a token from key's bucket, or returns how long to wait.
func (e *Emulator) rateLocked(key string, rate float64, burst int) time.Duration {
	if rate < 0 {
		return 0
	}
	b, ok := e.buckets[key]
	if !ok {
		b = &bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
		e.buckets[key] = b
	}
	ok, wait := b.take(time.Now())
	if ok {
		return 0
	}
	return max(wait, time.Second)
}

// usersInfo answers users.info as Slack does: the user object with its
// profile hash; email only when the app has the users:read.email scope
// (Options.NoEmailScope takes it away), locale only with include_locale.
func (e *Emulator) usersInfo(a args) (map[string]any, *apiError) {
	id := a.get("user")
	if id == "" {
		return nil, &apiError{code: "user_not_found"}
	}
	e.mu.Lock()
	u, ok := e.users[id]
	e.mu.Unlock()
	if !ok {
		return nil, &apiError{code: "user_not_found"}
	}
	realName := u.RealName
	if realName == "" {
		realName = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	profile := map[string]any{
		"real_name": realName, "real_name_normalized": realName, "display_name": u.Name, "display_name_normalized": u.Name,
		"first_name": u.FirstName, "last_name": u.LastName, "title": u.Title, "phone": u.Phone, "skype": "",
		"team": e.opts.TeamID, "image_24": e.baseURL() + "/avatars/" + u.ID + "_24.png", "image_48": e.baseURL() + "/avatars/" + u.ID + "_48.png",
	}
	if !e.opts.NoEmailScope && u.Email != "" {
		profile["email"] = u.Email
	}
	tz := u.TZ
	if tz == "" {
		tz = "Europe/London"
	}
	user := map[string]any{
		"id": u.ID, "team_id": e.opts.TeamID, "name": u.Name, "deleted": false, "real_name": realName,
		"tz": tz, "is_bot": false, "is_app_user": false, "updated": 1700000000, "profile": profile,
	}
	if a.flag("include_locale") {
		locale := u.Locale
		if locale == "" {
			locale = "en-US"
		}
		user["locale"] = locale
	}
	return map[string]any{"user": user}, nil
}

// conversationsOpen opens (or finds) the DM with one user, as a bot does
// before writing to someone first: {"channel":{"id":"D…"}}, with
// "already_open" and "no_op" when it existed, the whole IM object with
// return_im. Several users (a group DM) are not emulated.
func (e *Emulator) conversationsOpen(a args) (map[string]any, *apiError) {
	users := a.get("users")
	if users == "" {
		if id := a.get("channel"); id != "" {
			e.mu.Lock()
			defer e.mu.Unlock()
			if c := e.channelLocked(id); c != nil {
				return map[string]any{"channel": map[string]any{"id": c.ID}, "no_op": true, "already_open": true}, nil
			}
			return nil, &apiError{code: "channel_not_found"}
		}
		return nil, &apiError{code: "users_list_not_supplied"}
	}
	if strings.Contains(users, ",") {
		return nil, &apiError{code: "not_supported"} // group DMs: not emulated
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.users[users]; !ok {
		return nil, &apiError{code: "user_not_found"}
	}
	_, existed := e.channels["D"+strings.TrimPrefix(users, "U")]
	c := e.dmLocked(users)
	ch := map[string]any{"id": c.ID}
	if a.flag("return_im") {
		ch = map[string]any{"id": c.ID, "created": time.Now().Unix(), "is_im": true, "is_org_shared": false, "user": users,
			"last_read": "0000000000.000000", "latest": nil, "unread_count": 0, "unread_count_display": 0, "is_open": true, "priority": 0}
	}
	res := map[string]any{"channel": ch}
	if existed {
		res["no_op"], res["already_open"] = true, true
	}
	return res, nil
}

// filesInfo answers files.info with the file object (url_private and
// url_private_download included: how a bot finds them after
// filesUploadV2, or for a Slack Connect file shared as {"id",
// "file_access":"check_file_info"}), no comments and an empty cursor.
func (e *Emulator) filesInfo(a args) (map[string]any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.files[a.get("file")]
	if f == nil || !f.completed {
		return nil, &apiError{code: "file_not_found"}
	}
	return map[string]any{"file": f.File, "comments": []any{}, "response_metadata": map[string]any{"next_cursor": ""}}, nil
}

// conversationsHistory answers conversations.history: the channel's
// messages (not thread replies), newest first, between oldest and latest
// (exclusive unless inclusive), at most limit (default 100, at most 999),
// with each message's metadata only when include_all_metadata is set.
// Pagination by cursor is not emulated (has_more tells).
func (e *Emulator) conversationsHistory(a args) (map[string]any, *apiError) {
	limit := 100
	if v := a.get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, &apiError{code: "invalid_limit"}
		}
		limit = min(n, 999)
	}
	bound := func(name string) (float64, bool) {
		v := a.get(name)
		if v == "" {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	oldest, hasOldest := bound("oldest")
	latest, hasLatest := bound("latest")
	inclusive := a.flag("inclusive")
	withMeta := a.flag("include_all_metadata")
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(a.get("channel"))
	switch {
	case c == nil:
		return nil, &apiError{code: "channel_not_found"}
	case !c.BotIn:
		return nil, &apiError{code: "not_in_channel"}
	}
	var out []map[string]any
	hasMore := false
	for i := len(c.messages) - 1; i >= 0; i-- {
		m := c.messages[i]
		ts, _ := strconv.ParseFloat(m.TS, 64)
		switch {
		case m.Deleted, m.ThreadTS != "" && m.ThreadTS != m.TS,
			hasOldest && (ts < oldest || (!inclusive && ts == oldest)),
			hasLatest && (ts > latest || (!inclusive && ts == latest)):
			continue
		}
		if len(out) == limit {
			hasMore = true
			break
		}
		msg := map[string]any{"type": "message", "text": m.Text, "ts": m.TS}
		for k, v := range map[string]string{"user": m.User, "bot_id": m.BotID, "app_id": m.AppID, "subtype": m.Subtype} {
			if v != "" {
				msg[k] = v
			}
		}
		if len(m.Blocks) > 0 {
			msg["blocks"] = m.Blocks
		}
		if len(m.Files) > 0 {
			msg["files"] = m.Files
		}
		if withMeta && m.Metadata != nil {
			msg["metadata"] = m.Metadata
		}
		out = append(out, msg)
	}
	if out == nil {
		out = []map[string]any{}
	}
	return map[string]any{"messages": out, "has_more": hasMore, "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": ""}}, nil
}
