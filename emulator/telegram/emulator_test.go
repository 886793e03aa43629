package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const user = int64(1111111)

func newTest(t *testing.T, opts Options) (*Emulator, string) {
	t.Helper()
	if opts.TimeScale == 0 {
		opts.TimeScale = 0.001
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(func() { e.Close(); srv.Close() }) // Close ends long polls first
	if err := e.AddUser(User{ID: user, FirstName: "Test Firstname", Username: "Testusername"}); err != nil {
		t.Fatal(err)
	}
	return e, srv.URL
}

type apiResult struct {
	status int
	body   []byte
}

func (r apiResult) envelope(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func callJSON(t *testing.T, base, token, method, body string) apiResult {
	t.Helper()
	resp, err := http.Post(base+"/bot"+token+"/"+method, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResult{resp.StatusCode, b}
}

// sameJSON compares an answer with a reference sample, ignoring layout.
func sameJSON(t *testing.T, got []byte, sample string) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", sample))
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("answer %q: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("answer\n %s\nwant (%s)\n %s", gb, sample, wb)
	}
}

// Error answers match the reference samples byte for byte (modulo layout),
// with the HTTP status equal to error_code.
func TestErrorShapes(t *testing.T) {
	e, base := newTest(t, Options{})
	tok := e.Token()
	tests := []struct {
		name, token, method, body string
		status                    int
		sample                    string
	}{
		{"bad token", "123:wrong", "sendMessage", `{}`, 401, "telegram-error-401.CONSTRUCTED.json"},
		{"unknown method", tok, "sendTelepathy", `{}`, 404, "telegram-error-404-method.CONSTRUCTED.json"},
		{"chat not found", tok, "sendMessage", `{"chat_id":42,"text":"hi"}`, 400, "telegram-error-400-chat-not-found.CONSTRUCTED.json"},
		{"empty text", tok, "sendMessage", `{"chat_id":1111111,"text":""}`, 400, "telegram-error-400-text-empty.CONSTRUCTED.json"},
		{"text too long", tok, "sendMessage", `{"chat_id":1111111,"text":"` + strings.Repeat("a", 4097) + `"}`, 400, "telegram-error-400-message-too-long.CONSTRUCTED.json"},
		{"ok true", tok, "sendChatAction", `{"chat_id":1111111,"action":"typing"}`, 200, "telegram-ok-true-response.CONSTRUCTED.json"},
		{"empty updates", tok, "getUpdates", `{"timeout":0}`, 200, "telegram-getUpdates-response-empty.CONSTRUCTED.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := callJSON(t, base, tt.token, tt.method, tt.body)
			if r.status != tt.status {
				t.Errorf("status %d, want %d", r.status, tt.status)
			}
			sameJSON(t, r.body, tt.sample)
		})
	}
}

// Parameters are accepted as query string, form, JSON and multipart, and
// method names are case-insensitive.
func TestParameterEncodings(t *testing.T) {
	e, base := newTest(t, Options{ChatRate: -1})
	u := base + "/bot" + e.Token() + "/"
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("chat_id", "1111111")
	_ = mw.WriteField("text", "multipart")
	mw.Close()
	tests := []struct {
		name string
		do   func() (*http.Response, error)
		text string
	}{
		{"query", func() (*http.Response, error) { return http.Get(u + "sendMessage?chat_id=1111111&text=query") }, "query"},
		{"form", func() (*http.Response, error) {
			return http.PostForm(u+"SENDMESSAGE", url.Values{"chat_id": {"1111111"}, "text": {"form"}})
		}, "form"},
		{"json with @username", func() (*http.Response, error) {
			return http.Post(u+"sendmessage", "application/json", strings.NewReader(`{"chat_id":"@Testusername","text":"json"}`))
		}, "json"},
		{"multipart", func() (*http.Response, error) { return http.Post(u+"sendMessage", mw.FormDataContentType(), &mp) }, "multipart"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.do()
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			sent := e.Sent(user)
			if len(sent) != i+1 || sent[i].Text != tt.text || sent[i].MessageID != int64(i+1) {
				t.Fatalf("sent %+v", sent)
			}
		})
	}
}

// The sendMessage sample with an inline keyboard is accepted and recorded.
func TestSendMessageSample(t *testing.T) {
	e, base := newTest(t, Options{})
	body, _ := os.ReadFile("testdata/telegram-sendMessage-request-inline-keyboard.CONSTRUCTED.json")
	r := callJSON(t, base, e.Token(), "sendMessage", string(body))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	res := r.envelope(t)["result"].(map[string]any)
	if res["text"] != "Proceed?" || res["from"].(map[string]any)["is_bot"] != true {
		t.Fatalf("result %v", res)
	}
	sent := e.Sent(user)
	if len(sent) != 1 || sent[0].ParseMode != "HTML" || len(sent[0].ReplyMarkup.InlineKeyboard) != 2 {
		t.Fatalf("sent %+v", sent)
	}
	bad := `{"chat_id":1111111,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"x","callback_data":"` + strings.Repeat("d", 65) + `"}]]}}`
	if r := callJSON(t, base, e.Token(), "sendMessage", bad); r.status != 400 {
		t.Fatalf("callback_data over 64 bytes: status %d", r.status)
	}
}

func TestGetUpdates(t *testing.T) {
	e, base := newTest(t, Options{})
	tok := e.Token()
	get := func(body string) (int, []Update, map[string]any) {
		r := callJSON(t, base, tok, "getUpdates", body)
		var env struct {
			Result []Update `json:"result"`
		}
		_ = json.Unmarshal(r.body, &env)
		return r.status, env.Result, r.envelope(t)
	}
	for _, text := range []string{"one", "two", "three"} {
		if _, err := e.SendText(user, text); err != nil {
			t.Fatal(err)
		}
	}
	if _, ups, _ := get(`{"limit":2}`); len(ups) != 2 || ups[0].UpdateID != 10000 || ups[1].Message.Text != "two" {
		t.Fatalf("limit 2: %+v", ups)
	}
	// Unconfirmed updates come again; offset confirms.
	if _, ups, _ := get(`{}`); len(ups) != 3 {
		t.Fatalf("got %d updates, want 3 unconfirmed", len(ups))
	}
	if _, ups, _ := get(`{"offset":10002}`); len(ups) != 1 || ups[0].Message.Text != "three" {
		t.Fatalf("offset 10002: %+v", ups)
	}
	if _, ups, _ := get(`{"offset":10003}`); len(ups) != 0 {
		t.Fatalf("after confirming everything: %+v", ups)
	}

	// A long poll returns as soon as an update arrives.
	poll := func(body string) (int, []Update) { // safe off the test goroutine
		resp, err := http.Post(base+"/bot"+tok+"/getUpdates", "application/json", strings.NewReader(body))
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var env struct {
			Result []Update `json:"result"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&env)
		return resp.StatusCode, env.Result
	}
	done := make(chan []Update, 1)
	go func() { _, ups := poll(`{"offset":10003,"timeout":30}`); done <- ups }()
	waitPolling(t, e)
	if _, err := e.SendText(user, "late"); err != nil {
		t.Fatal(err)
	}
	if ups := <-done; len(ups) != 1 || ups[0].Message.Text != "late" {
		t.Fatalf("long poll got %+v", ups)
	}

	// A second poller terminates the first with 409.
	first := make(chan int, 1)
	go func() { status, _ := poll(`{"offset":10004,"timeout":30}`); first <- status }()
	waitPolling(t, e)
	second := make(chan int, 1)
	go func() { status, _ := poll(`{"offset":10004,"timeout":30}`); second <- status }()
	if status := <-first; status != 409 {
		t.Fatalf("older poller got %d, want 409", status)
	}
	if n := e.PollConflicts(); n != 1 {
		t.Fatalf("PollConflicts = %d, want 1", n)
	}
	waitPolling(t, e)

	// While a webhook is set getUpdates answers 409.
	if r := callJSON(t, base, tok, "setWebhook", `{"url":"http://127.0.0.1:9/hook"}`); r.status != 200 {
		t.Fatal(string(r.body))
	}
	if status := <-second; status != 409 {
		t.Fatalf("waiting poller got %d when the webhook was set, want 409", status)
	}
	status, _, env := get(`{}`)
	if status != 409 {
		t.Fatalf("status %d, want 409", status)
	}
	raw, _ := json.Marshal(env)
	sameJSON(t, raw, "telegram-error-409-webhook-active.CONSTRUCTED.json")
}

func waitPolling(t *testing.T, e *Emulator) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.mu.Lock()
		p := e.poller
		e.mu.Unlock()
		if p != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no getUpdates request waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSetWebhook(t *testing.T) {
	e, base := newTest(t, Options{TimeScale: 1})
	tok := e.Token()
	r := callJSON(t, base, tok, "setWebhook", `{"url":"https://bot.example.com/telegram/webhook","secret_token":"s3cr3t_Token-123"}`)
	sameJSON(t, r.body, "telegram-setWebhook-response.CONSTRUCTED.json")
	// A second setWebhook within a second: 429 retry_after 1.
	r = callJSON(t, base, tok, "setWebhook", `{"url":"https://bot.example.com/other"}`)
	if r.status != 429 || r.envelope(t)["parameters"].(map[string]any)["retry_after"] != float64(1) {
		t.Fatalf("second setWebhook: %d %s", r.status, r.body)
	}
	if r := callJSON(t, base, tok, "setWebhook", `{"url":"https://x","secret_token":"no spaces allowed"}`); r.status != 400 {
		t.Fatalf("bad secret: %d", r.status)
	}
	if wh := e.Webhook(); wh.URL != "https://bot.example.com/telegram/webhook" || wh.SecretToken != "s3cr3t_Token-123" || wh.MaxConnections != 40 {
		t.Fatalf("webhook %+v", wh)
	}
	r = callJSON(t, base, tok, "deleteWebhook", `{}`)
	if desc := r.envelope(t)["description"]; desc != "Webhook was deleted" {
		t.Fatalf("deleteWebhook: %s", r.body)
	}
}

// Webhook delivery: JSON update with the secret header; retried on
// failure (Retry-After honoured) until a 2xx; a method in the reply body is
// executed.
func TestWebhookDelivery(t *testing.T) {
	e, base := newTest(t, Options{})
	var calls atomic.Int32
	type seen struct {
		secret, ctype string
		update        Update
	}
	got := make(chan seen, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u Update
		_ = json.NewDecoder(r.Body).Decode(&u)
		got <- seen{r.Header.Get("X-Telegram-Bot-Api-Secret-Token"), r.Header.Get("Content-Type"), u}
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "application/json")
			body, _ := os.ReadFile("testdata/telegram-webhook-reply-with-method.CONSTRUCTED.json")
			_, _ = w.Write(body)
		}
	}))
	defer hook.Close()
	if r := callJSON(t, base, e.Token(), "setWebhook", fmt.Sprintf(`{"url":%q,"secret_token":"abc"}`, hook.URL)); r.status != 200 {
		t.Fatal(string(r.body))
	}
	res, err := e.SendText(user, "/start")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s := <-got
		if s.secret != "abc" || s.ctype != "application/json" || s.update.UpdateID != res.UpdateID || s.update.Message.Text != "/start" {
			t.Fatalf("attempt %d: %+v", i+1, s)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sent, err := e.WaitSent(ctx, user, 1)
	if err != nil || sent[0].Text != "Hello from the webhook response" {
		t.Fatalf("method in the reply not executed: %v %+v", err, sent)
	}
	if err := e.Wait(ctx, func() bool { return len(e.Pending()) == 0 }); err != nil {
		t.Fatal(err)
	}
	if wh := e.Webhook(); wh.Failures != 2 || wh.Deliveries != 1 || !strings.Contains(wh.LastErrorMessage, "503") {
		t.Fatalf("webhook status %+v", wh)
	}
}

// TestWebhookQueues: as the Bot API server, updates of different chats go
// out in parallel (up to max_connections), a chat's one at a time in order.
func TestWebhookQueues(t *testing.T) {
	const other = user + 1
	for _, tc := range []struct {
		name           string
		maxConnections int
		parallel       bool // the other chat's update arrives while the first chat's is held
	}{
		{"parallel across chats", 40, true},
		{"one connection", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, base := newTest(t, Options{})
			release := make(chan struct{})
			releaseOnce := sync.OnceFunc(func() { close(release) })
			got := make(chan Update, 10)
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var u Update
				_ = json.NewDecoder(r.Body).Decode(&u)
				got <- u
				if u.Message.Text == "held" {
					<-release
				}
			}))
			defer hook.Close()
			defer releaseOnce() // before the server's Close waits for the held handler
			body := fmt.Sprintf(`{"url":%q,"max_connections":%d}`, hook.URL, tc.maxConnections)
			if r := callJSON(t, base, e.Token(), "setWebhook", body); r.status != 200 {
				t.Fatal(string(r.body))
			}
			for _, m := range []struct {
				from int64
				text string
			}{{user, "held"}, {user, "after"}, {other, "other chat"}} {
				if _, err := e.SendText(m.from, m.text); err != nil {
					t.Fatal(err)
				}
			}
			if tc.parallel {
				// The held update and the other chat's both go out, in either
				// order; the held chat's next one waits for its answer.
				first, second := (<-got).Message.Text, (<-got).Message.Text
				if !(first == "held" && second == "other chat" || first == "other chat" && second == "held") {
					t.Fatalf("while the chat's first update is held, got %q and %q (want it and the other chat's)", first, second)
				}
				releaseOnce()
				if u := <-got; u.Message.Text != "after" {
					t.Fatalf("got %q", u.Message.Text)
				}
				return
			}
			if u := <-got; u.Message.Text != "held" {
				t.Fatalf("first delivery %q", u.Message.Text)
			}
			select {
			case u := <-got:
				t.Fatalf("%q delivered while the only connection is busy", u.Message.Text)
			default:
			}
			releaseOnce()
			for _, want := range []string{"after", "other chat"} { // update_id order
				if u := <-got; u.Message.Text != want {
					t.Fatalf("got %q, want %q", u.Message.Text, want)
				}
			}
		})
	}
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A user's photo lists a thumbnail and the original; getFile and the file
// URL hand out the bytes; the download limit gives "file is too big".
func TestFiles(t *testing.T) {
	e, base := newTest(t, Options{MaxDownloadBytes: 1000})
	photo := pngBytes(t, 300, 150)
	res, err := e.SendPhoto(user, photo, "look")
	if err != nil {
		t.Fatal(err)
	}
	m := e.Pending()[0].Message
	if len(m.Photo) != 2 || m.Photo[0].Width != 90 || m.Photo[0].Height != 45 || m.Photo[1].Width != 300 || m.Caption != "look" || m.MessageID != res.MessageID {
		t.Fatalf("photo message %+v", m)
	}
	r := callJSON(t, base, e.Token(), "getFile", fmt.Sprintf(`{"file_id":%q}`, m.Photo[1].FileID))
	var env struct {
		Result File `json:"result"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.Result.FilePath == "" {
		t.Fatalf("getFile: %s", r.body)
	}
	resp, err := http.Get(base + "/file/bot" + e.Token() + "/" + env.Result.FilePath)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(data, photo) {
		t.Fatalf("downloaded %d bytes, want the %d sent", len(data), len(photo))
	}
	if resp, _ := http.Get(base + "/file/bot123:wrong/" + env.Result.FilePath); resp.StatusCode != 401 {
		t.Fatalf("download with a wrong token: %d", resp.StatusCode)
	}
	if _, err := e.SendMessage(user, UserMessage{Document: &Upload{Data: bytes.Repeat([]byte("x"), 1001), FileName: "big.bin"}}); err != nil {
		t.Fatal(err)
	}
	doc := e.Pending()[1].Message.Document
	if r := callJSON(t, base, e.Token(), "getFile", fmt.Sprintf(`{"file_id":%q}`, doc.FileID)); r.status != 400 || r.envelope(t)["description"] != "Bad Request: file is too big" {
		t.Fatalf("big file: %d %s", r.status, r.body)
	}
	if r := callJSON(t, base, e.Token(), "getFile", `{"file_id":"nope"}`); r.status != 400 {
		t.Fatalf("unknown file: %d", r.status)
	}
	if _, err := e.SendPhoto(user, []byte("not an image"), ""); err == nil {
		t.Fatal("a photo that is not an image was accepted")
	}
}

// Bot uploads (sendPhoto, sendDocument by multipart) are kept and readable.
func TestUploads(t *testing.T) {
	e, base := newTest(t, Options{})
	upload := func(method, field, name, ctype string, data []byte, markup string) apiResult {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.WriteField("chat_id", "1111111")
		_ = w.WriteField("caption", "cap")
		if markup != "" {
			_ = w.WriteField("reply_markup", markup)
		}
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, field, name)}
		h["Content-Type"] = []string{ctype}
		p, _ := w.CreatePart(h)
		_, _ = p.Write(data)
		w.Close()
		resp, err := http.Post(base+"/bot"+e.Token()+"/"+method, w.FormDataContentType(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return apiResult{resp.StatusCode, b}
	}
	img := pngBytes(t, 10, 20)
	if r := upload("sendPhoto", "photo", "a.png", "image/png", img, `{"inline_keyboard":[[{"text":"Yes","callback_data":"yes"}]]}`); r.status != 200 {
		t.Fatalf("sendPhoto: %s", r.body)
	}
	if r := upload("sendDocument", "document", "terms.pdf", "application/pdf", []byte("%PDF"), ""); r.status != 200 {
		t.Fatalf("sendDocument: %s", r.body)
	}
	sent := e.Sent(user)
	if len(sent) != 2 || sent[0].Method != "sendPhoto" || sent[0].Photo[0].Width != 10 || sent[0].ReplyMarkup == nil || sent[1].Document.FileName != "terms.pdf" || sent[1].Caption != "cap" {
		t.Fatalf("sent %+v", sent)
	}
	if data, ct, ok := e.FileData(sent[1].Document.FileID); !ok || string(data) != "%PDF" || ct != "application/pdf" {
		t.Fatalf("document file %q %q %v", data, ct, ok)
	}
	// A press on the photo's button reaches the bot and can be answered once.
	res, err := e.PressButton(user, sent[0].MessageID, "yes")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.PressButton(user, sent[0].MessageID, "no"); err == nil {
		t.Fatal("pressed a button that does not exist")
	}
	body := fmt.Sprintf(`{"callback_query_id":%q,"text":"Thanks"}`, res.CallbackQueryID)
	if r := callJSON(t, base, e.Token(), "answerCallbackQuery", body); r.status != 200 {
		t.Fatal(string(r.body))
	}
	if r := callJSON(t, base, e.Token(), "answerCallbackQuery", body); r.status != 400 {
		t.Fatalf("second answer: %d", r.status)
	}
	if a := e.CallbackAnswers(); len(a) != 1 || a[0].Text != "Thanks" {
		t.Fatalf("answers %+v", a)
	}
}

// Per-chat and global limits answer 429 with retry_after.
func TestRateLimits(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		chats []int64
		okN   int
	}{
		{"per chat burst", Options{ChatRate: 1, ChatBurst: 3, GlobalRate: -1}, []int64{user, user, user, user}, 3},
		{"global", Options{ChatRate: -1, GlobalRate: 1, GlobalBurst: 2}, []int64{user, 2, 3}, 2},
		{"off", Options{ChatRate: -1, GlobalRate: -1}, []int64{user, user, user, user, user}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, base := newTest(t, tt.opts)
			_ = e.AddUser(User{ID: 2})
			_ = e.AddUser(User{ID: 3})
			ok := 0
			for _, c := range tt.chats {
				r := callJSON(t, base, e.Token(), "sendMessage", fmt.Sprintf(`{"chat_id":%d,"text":"x"}`, c))
				switch r.status {
				case 200:
					ok++
				case 429:
					env := r.envelope(t)
					ra := env["parameters"].(map[string]any)["retry_after"].(float64)
					if ra < 1 || env["description"] != fmt.Sprintf("Too Many Requests: retry after %d", int(ra)) {
						t.Fatalf("429 body %s", r.body)
					}
				default:
					t.Fatalf("status %d", r.status)
				}
			}
			if ok != tt.okN {
				t.Fatalf("%d sends passed, want %d", ok, tt.okN)
			}
		})
	}
}

// Blocking: 403 with the reference body, and a my_chat_member update.
func TestBlock(t *testing.T) {
	e, base := newTest(t, Options{})
	if _, err := e.Block(user); err != nil {
		t.Fatal(err)
	}
	r := callJSON(t, base, e.Token(), "sendMessage", `{"chat_id":1111111,"text":"hi"}`)
	if r.status != 403 {
		t.Fatalf("status %d", r.status)
	}
	sameJSON(t, r.body, "telegram-error-403-blocked.CONSTRUCTED.json")
	up := e.Pending()
	if len(up) != 1 || up[0].MyChatMember == nil || up[0].MyChatMember.NewChatMember.Status != "kicked" {
		t.Fatalf("updates %+v", up)
	}
	if _, err := e.SendText(user, "hi"); err == nil {
		t.Fatal("a user who blocked the bot sent a message")
	}
	if _, err := e.Unblock(user); err != nil {
		t.Fatal(err)
	}
	if r := callJSON(t, base, e.Token(), "sendMessage", `{"chat_id":1111111,"text":"hi"}`); r.status != 200 {
		t.Fatalf("after unblock: %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	e, base := newTest(t, Options{})
	if err := e.InjectFault(Fault{Method: "sendmessage", ErrorCode: 429, RetryAfter: 8, Times: 2}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := callJSON(t, base, e.Token(), "sendMessage", `{"chat_id":1111111,"text":"hi"}`)
		sameJSON(t, r.body, "telegram-error-429.json")
	}
	if r := callJSON(t, base, e.Token(), "sendMessage", `{"chat_id":1111111,"text":"hi"}`); r.status != 200 {
		t.Fatalf("after the faults: %d", r.status)
	}
	if err := e.InjectFault(Fault{ErrorCode: 200}); err == nil {
		t.Fatal("a 200 fault was accepted")
	}
}

// The control API over HTTP: act as the user, read what the bot did.
func TestControlAPI(t *testing.T) {
	e, base := newTest(t, Options{})
	api := base + "/fake/telegram/api/"
	post := func(path, body string) (int, map[string]any) {
		resp, err := http.Post(api+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	getJSON := func(path string, v any) {
		resp, err := http.Get(api + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	if s, _ := post("users", `{"id":555,"first_name":"Ann","username":"ann"}`); s != 200 {
		t.Fatalf("users: %d", s)
	}
	s, m := post("chats/555/messages", `{"text":"hello"}`)
	if s != 200 || m["update_id"] != float64(10000) || m["message_id"] != float64(1) {
		t.Fatalf("text: %d %v", s, m)
	}
	photo, _ := json.Marshal(map[string]any{"photo": map[string]any{"data": pngBytes(t, 4, 4)}, "caption": "pic"})
	if s, m := post("chats/555/messages", string(photo)); s != 200 || m["message_id"] != float64(2) {
		t.Fatalf("photo: %d %v", s, m)
	}
	if s, _ := post("chats/555/messages/1/edit", `{"text":"hello again"}`); s != 200 {
		t.Fatalf("edit: %d", s)
	}
	if s, _ := post("chats/555/messages", `{}`); s != 400 {
		t.Fatalf("empty message: %d", s)
	}
	if s, _ := post("chats/555/callbacks", `{"message_id":1,"data":"x"}`); s != 404 {
		t.Fatalf("press on a user message: %d", s)
	}
	// The bot answers with a button; the user presses it.
	callJSON(t, base, e.Token(), "sendMessage", `{"chat_id":555,"text":"ok?","reply_markup":{"inline_keyboard":[[{"text":"OK","callback_data":"ok"}]]}}`)
	callJSON(t, base, e.Token(), "sendChatAction", `{"chat_id":555,"action":"typing"}`)
	var sent []SentMessage
	getJSON("chats/555/sent", &sent)
	if len(sent) != 1 || sent[0].Text != "ok?" {
		t.Fatalf("sent %+v", sent)
	}
	if s, m := post("chats/555/callbacks", fmt.Sprintf(`{"message_id":%d,"data":"ok"}`, sent[0].MessageID)); s != 200 || m["callback_query_id"] == "" {
		t.Fatalf("press: %d %v", s, m)
	}
	var actions []ChatAction
	getJSON("chats/555/actions", &actions)
	if len(actions) != 1 || actions[0].Action != "typing" {
		t.Fatalf("actions %+v", actions)
	}
	var ups []Update
	getJSON("updates", &ups)
	kinds := []string{}
	for _, u := range ups {
		kinds = append(kinds, u.kind())
	}
	if strings.Join(kinds, ",") != "message,message,edited_message,callback_query" || ups[2].EditedMessage.Text != "hello again" || ups[2].EditedMessage.EditDate == 0 {
		t.Fatalf("updates %v", kinds)
	}
	fileID := ups[1].Message.Photo[1].FileID
	resp, err := http.Get(api + "files/" + fileID)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(data, pngBytes(t, 4, 4)) {
		t.Fatal("file bytes differ")
	}
	if s, _ := post("chats/555/block", `{}`); s != 200 {
		t.Fatalf("block: %d", s)
	}
	if s, _ := post("faults", `{"method":"getMe","error_code":500}`); s != 200 {
		t.Fatalf("fault: %d", s)
	}
	if r := callJSON(t, base, e.Token(), "getMe", ``); r.status != 500 {
		t.Fatalf("getMe with a fault: %d", r.status)
	}
	var wh WebhookStatus
	getJSON("webhook", &wh)
	if wh.URL != "" || wh.PendingUpdateCount != 5 {
		t.Fatalf("webhook %+v", wh)
	}
}

// Files as grammY and telegraf send them: a top-level field naming its
// part with attach://<name>, and an HTTP URL the server downloads itself,
// within the documented limits and types.
func TestFilesByAttachAndByURL(t *testing.T) {
	e, base := newTest(t, Options{})
	img := pngBytes(t, 12, 7)
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("chat_id", "1111111")
	_ = w.WriteField("photo", "attach://file0")
	h := map[string][]string{"Content-Disposition": {`form-data; name="file0"; filename="p.png"`}, "Content-Type": {"image/png"}}
	p, _ := w.CreatePart(h)
	_, _ = p.Write(img)
	w.Close()
	resp, err := http.Post(base+"/bot"+e.Token()+"/sendPhoto", w.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sendPhoto with attach://: %d %s", resp.StatusCode, b)
	}

	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/photo.png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(img)
		case "/terms.pdf":
			w.Header().Set("Content-Type", "application/pdf")
			_, _ = w.Write([]byte("%PDF-1.4 terms"))
		case "/page.html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html></html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(files.Close)
	for _, tc := range []struct {
		method, field, url string
		status             int
		says               string
	}{
		{"sendPhoto", "photo", files.URL + "/photo.png", 200, ""},
		{"sendDocument", "document", files.URL + "/terms.pdf", 200, ""},
		{"sendDocument", "document", files.URL + "/page.html", 400, "wrong type of the web page content"},
		{"sendPhoto", "photo", files.URL + "/missing.png", 400, "failed to get HTTP URL content"},
	} {
		r := callJSON(t, base, e.Token(), tc.method, fmt.Sprintf(`{"chat_id":1111111,%q:%q}`, tc.field, tc.url))
		if r.status != tc.status || !strings.Contains(string(r.body), tc.says) {
			t.Errorf("%s %s: %d %s; want %d %q", tc.method, tc.url, r.status, r.body, tc.status, tc.says)
		}
	}
	sent := e.Sent(user)
	if len(sent) != 3 || sent[0].Photo[0].Width != 12 || sent[1].Photo[0].Height != 7 || sent[2].Document.FileName != "terms.pdf" {
		t.Fatalf("sent %+v", sent)
	}
	if data, ct, ok := e.FileData(sent[2].Document.FileID); !ok || string(data) != "%PDF-1.4 terms" || ct != "application/pdf" {
		t.Fatalf("document by URL kept as %q %q %v", data, ct, ok)
	}
}
