package telegram

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	emu "github.com/leconnect/leconnect/emulator/telegram"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// eventually polls cond until it holds (10 s at most).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// webhookServer serves the adapter's ServeHTTP as the core's
// /channels/<name>/webhook would, and returns its URL.
func webhookServer(t *testing.T, ap *atomic.Pointer[Adapter]) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := ap.Load()
		if a == nil {
			http.Error(w, "no adapter", http.StatusServiceUnavailable)
			return
		}
		a.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/channels/tg/webhook"
}

// startWebhook starts an adapter in webhook mode behind a test webhook server.
func startWebhook(t *testing.T, e *emu.Emulator, base string, extra map[string]any) (*Adapter, *fakeHost) {
	t.Helper()
	var ap atomic.Pointer[Adapter]
	host := newFakeHost(webhookServer(t, &ap))
	a := New()
	ap.Store(a)
	if err := a.Configure(context.Background(), sdk.Setup{Channel: "tg", Config: sdk.NewConfig(config(e, base, "webhook", extra)), Logger: hclog.NewNullLogger()}); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background(), host); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a, host
}

func TestWebhookRegistration(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	_, host := startWebhook(t, e, base, nil)
	wh := e.Webhook()
	if wh.URL != host.url || wh.SecretToken != testSecret {
		t.Fatalf("webhook = %q secret %q; want %q with the configured secret", wh.URL, wh.SecretToken, host.url)
	}
	if strings.Join(wh.AllowedUpdates, ",") != "message,edited_message,callback_query,my_chat_member" {
		t.Errorf("allowed_updates = %v", wh.AllowedUpdates)
	}
}

func TestWebhookSecretIsChecked(t *testing.T) {
	body, err := os.ReadFile("testdata/telegram-update-entities.json")
	if err != nil {
		t.Fatal(err)
	}
	e, base := newEmulator(t, emu.Options{})
	host := newFakeHost("http://127.0.0.1:9/unused")
	a := New()
	if err := a.Configure(context.Background(), sdk.Setup{Config: sdk.NewConfig(config(e, base, "webhook", nil)), Logger: hclog.NewNullLogger()}); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.host = host // started without registering, so only ServeHTTP is exercised
	a.mu.Unlock()
	tests := []struct {
		name       string
		secret     *string
		method     string
		wantStatus int
		wantEvents int
	}{
		{"missing", nil, http.MethodPost, http.StatusUnauthorized, 0},
		{"empty", ptr(""), http.MethodPost, http.StatusUnauthorized, 0},
		{"wrong", ptr("s3cr3t_Token-124"), http.MethodPost, http.StatusUnauthorized, 0},
		{"prefix only", ptr("s3cr3t"), http.MethodPost, http.StatusUnauthorized, 0},
		{"GET", ptr(testSecret), http.MethodGet, http.StatusMethodNotAllowed, 0},
		{"right", ptr(testSecret), http.MethodPost, http.StatusOK, 1},
		{"right again (Telegram retry)", ptr(testSecret), http.MethodPost, http.StatusOK, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/channels/tg/webhook", bytes.NewReader(body))
			if tt.secret != nil {
				r.Header.Set(secretHeader, *tt.secret)
			}
			w := httptest.NewRecorder()
			a.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if evs, _ := host.snapshot(); len(evs) != tt.wantEvents {
				t.Errorf("%d events delivered, want %d", len(evs), tt.wantEvents)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A webhook is answered 200 only after Deliver succeeded; a failed Deliver
// gets a 5xx and Telegram (the emulator) retries the same update.
func TestWebhookRetriedUntilDelivered(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	_, host := startWebhook(t, e, base, nil)
	host.mu.Lock()
	host.failNext = 2
	host.mu.Unlock()
	res, err := e.SendText(testChat, "are you there?")
	if err != nil {
		t.Fatal(err)
	}
	ev := host.waitEvent(t, func(ev sdk.Event) bool { return ev.Message != nil && ev.Message.Text == "are you there?" })
	if want := "10000"; ev.ID != want || res.UpdateID != 10000 {
		t.Errorf("event id %q (update %d), want the update_id %q", ev.ID, res.UpdateID, want)
	}
	eventually(t, "the update to leave the queue", func() bool { return len(e.Pending()) == 0 })
	if _, calls := host.snapshot(); calls != 3 {
		t.Errorf("Deliver called %d times, want 3 (two failures, one success)", calls)
	}
	if wh := e.Webhook(); wh.Failures != 2 || wh.Deliveries != 1 {
		t.Errorf("emulator saw %d failures and %d deliveries, want 2 and 1", wh.Failures, wh.Deliveries)
	}
}

// Polling advances the offset past an update only once Deliver accepted it.
func TestPollingOffsetAfterDeliver(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	host := newFakeHost("")
	host.failNext = 1
	startAdapter(t, config(e, base, "polling", nil), host)
	if _, err := e.SendText(testChat, "first"); err != nil {
		t.Fatal(err)
	}
	host.waitEvent(t, func(ev sdk.Event) bool { return ev.Message != nil && ev.Message.Text == "first" })
	eventually(t, "the offset to confirm the update", func() bool { return len(e.Pending()) == 0 })
	evs, calls := host.snapshot()
	if calls < 2 || len(evs) != 1 || evs[0].ID != "10000" {
		t.Fatalf("calls=%d events=%s; want the failed update delivered again with the same id", calls, describe(evs))
	}
	if _, err := e.SendText(testChat, "second"); err != nil {
		t.Fatal(err)
	}
	host.waitEvent(t, func(ev sdk.Event) bool { return ev.Message != nil && ev.Message.Text == "second" && ev.ID == "10001" })
}

// getUpdates answering 409 makes Health say why, until polling works again.
func TestPollingConflictIsUnhealthy(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	call := func(method, body string) {
		resp, err := http.Post(base+"/bot"+e.Token()+"/"+method, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", method, resp.Status)
		}
	}
	call("setWebhook", `{"url":"https://elsewhere.example/hook"}`)
	a := startAdapter(t, config(e, base, "polling", map[string]any{"delete_webhook": false}), newFakeHost(""))
	var herr error
	eventually(t, "Health to report the conflict", func() bool { herr = a.Health(context.Background()); return herr != nil })
	if !strings.Contains(herr.Error(), "conflict") || !strings.Contains(herr.Error(), "webhook is active") {
		t.Errorf("Health = %v; want a clear conflict message", herr)
	}
	call("deleteWebhook", `{}`)
	eventually(t, "Health to recover", func() bool { return a.Health(context.Background()) == nil })
}

// With delete_webhook (the default) polling removes a leftover webhook.
func TestPollingDeletesLeftoverWebhook(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	resp, err := http.Post(base+"/bot"+e.Token()+"/setWebhook", "application/json", strings.NewReader(`{"url":"https://old.example/hook"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	host := newFakeHost("")
	startAdapter(t, config(e, base, "polling", nil), host)
	if url := e.Webhook().URL; url != "" {
		t.Fatalf("webhook still %q", url)
	}
	if _, err := e.SendText(testChat, "hello"); err != nil {
		t.Fatal(err)
	}
	host.waitEvent(t, func(ev sdk.Event) bool { return ev.Message != nil && ev.Message.Text == "hello" })
}

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Files arrive as bytes (the largest photo size), with captions.
func TestInboundFiles(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	host := newFakeHost("")
	startAdapter(t, config(e, base, "polling", nil), host)
	photo := testPNG(t, 320, 200)
	pdf := []byte("%PDF-1.4 test document")
	voice := []byte("OggS voice bytes")
	tests := []struct {
		name     string
		msg      emu.UserMessage
		wantData []byte
		wantKind sdk.MediaKind
		wantName string
		wantType string
	}{
		{"photo", emu.UserMessage{Photo: &emu.Upload{Data: photo}, Caption: "my receipt"}, photo, sdk.MediaImage, "", "image/jpeg"},
		{"document", emu.UserMessage{Document: &emu.Upload{Data: pdf, FileName: "invoice.pdf", MimeType: "application/pdf"}, Caption: "invoice"}, pdf, sdk.MediaFile, "invoice.pdf", "application/pdf"},
		{"voice", emu.UserMessage{Voice: &emu.Upload{Data: voice, Duration: 3}}, voice, sdk.MediaAudio, "voice.ogg", "audio/ogg"},
		{"audio", emu.UserMessage{Audio: &emu.Upload{Data: voice, FileName: "song.mp3", MimeType: "audio/mpeg"}, Caption: "listen"}, voice, sdk.MediaAudio, "song.mp3", "audio/mpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.SendMessage(testChat, tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			id := itoa(res.UpdateID)
			ev := host.waitEvent(t, func(ev sdk.Event) bool { return ev.ID == id })
			if ev.Message == nil || len(ev.Message.Media) != 1 {
				t.Fatalf("event %+v; want one media", ev.Message)
			}
			m := ev.Message.Media[0]
			if !bytes.Equal(m.Data, tt.wantData) {
				t.Errorf("got %d bytes, want the %d bytes sent (largest size)", len(m.Data), len(tt.wantData))
			}
			if m.Kind != tt.wantKind || m.Caption != tt.msg.Caption || m.ContentType != tt.wantType || (tt.wantName != "" && m.FileName != tt.wantName) {
				t.Errorf("media %v %q %q caption %q; want %v %q %q caption %q", m.Kind, m.FileName, m.ContentType, m.Caption, tt.wantKind, tt.wantName, tt.wantType, tt.msg.Caption)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A file over the bots' download limit reaches the agent as a note.
func TestInboundFileTooBig(t *testing.T) {
	e, base := newEmulator(t, emu.Options{MaxDownloadBytes: 8})
	host := newFakeHost("")
	startAdapter(t, config(e, base, "polling", nil), host)
	res, err := e.SendMessage(testChat, emu.UserMessage{Document: &emu.Upload{Data: []byte("0123456789abc"), FileName: "big.bin"}, Caption: "huge"})
	if err != nil {
		t.Fatal(err)
	}
	ev := host.waitEvent(t, func(ev sdk.Event) bool { return ev.ID == itoa(res.UpdateID) })
	if len(ev.Message.Media) != 0 || !strings.Contains(ev.Message.Text, "file is too big") || !strings.Contains(ev.Message.Text, "huge") {
		t.Fatalf("message %+v; want a text note with the reason and the caption", ev.Message)
	}
}

// Quick replies become an inline keyboard; a press comes back as the
// choice and is answered with answerCallbackQuery.
func TestButtonPress(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	host := newFakeHost("")
	a := startAdapter(t, config(e, base, "polling", nil), host)
	longID := strings.Repeat("survey-answer-", 8) // over 64 bytes
	res, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "k1", To: sdk.Address{ChatID: testChatID}, Text: "Happy?",
		QuickReplies: []sdk.Choice{{ID: "yes", Text: "Yes"}, {ID: longID, Text: "Very"}}})
	if err != nil {
		t.Fatal(err)
	}
	sent := e.Sent(testChat)
	if len(sent) != 1 || sent[0].ReplyMarkup == nil || len(sent[0].ReplyMarkup.InlineKeyboard[0]) != 2 {
		t.Fatalf("sent %+v; want one message with two buttons", sent)
	}
	if res.MessageIDs[0] != itoa(sent[0].MessageID) {
		t.Errorf("Send returned %v, emulator message id %d", res.MessageIDs, sent[0].MessageID)
	}
	for _, b := range sent[0].ReplyMarkup.InlineKeyboard[0] {
		pr, err := e.PressButton(testChat, sent[0].MessageID, b.CallbackData)
		if err != nil {
			t.Fatal(err)
		}
		ev := host.waitEvent(t, func(ev sdk.Event) bool { return ev.ID == itoa(pr.UpdateID) })
		want := map[string]string{"Yes": "yes", "Very": longID}[b.Text]
		if ev.Message.Choice == nil || ev.Message.Choice.ID != want || ev.Message.Text != b.Text {
			t.Errorf("press %q delivered %+v; want choice %q", b.Text, ev.Message, want)
		}
		if err := e.Wait(waitCtx(t), func() bool {
			for _, ans := range e.CallbackAnswers() {
				if ans.CallbackQueryID == pr.CallbackQueryID {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("callback query %s not answered: %v", pr.CallbackQueryID, err)
		}
	}
}

func TestSendSplitsLongText(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	a := startAdapter(t, config(e, base, "polling", nil), newFakeHost(""))
	var b strings.Builder
	for i := 0; b.Len() < 10000; i++ {
		b.WriteString("Paragraph text that goes on and on. ")
		if i%7 == 6 {
			b.WriteString("\n")
		}
	}
	res, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "long", To: sdk.Address{ChatID: testChatID}, Text: b.String()})
	if err != nil {
		t.Fatal(err)
	}
	sent := e.Sent(testChat)
	if len(sent) != 3 || len(res.MessageIDs) != 3 {
		t.Fatalf("%d messages sent, %d ids; want 3 and 3", len(sent), len(res.MessageIDs))
	}
	var words int
	for _, m := range sent {
		if sdk.UTF16Len(m.Text) > 4096 {
			t.Errorf("part of %d units", sdk.UTF16Len(m.Text))
		}
		words += len(strings.Fields(m.Text))
	}
	if want := len(strings.Fields(b.String())); words != want {
		t.Errorf("%d words arrived, want %d (a word was cut or lost)", words, want)
	}
}

// A retried Send with the same key resumes after the parts already sent.
func TestSendIdempotency(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	a := startAdapter(t, config(e, base, "polling", nil), newFakeHost(""))
	to := sdk.Address{ChatID: testChatID}
	msg := sdk.OutboundMessage{IdempotencyKey: "same", To: to, Text: "once"}
	r1, err1 := a.Send(context.Background(), msg)
	r2, err2 := a.Send(context.Background(), msg)
	if err1 != nil || err2 != nil || strings.Join(r1.MessageIDs, ",") != strings.Join(r2.MessageIDs, ",") {
		t.Fatalf("Send twice = %v %v / %v %v; want the same ids", r1, err1, r2, err2)
	}
	if n := len(e.Sent(testChat)); n != 1 {
		t.Fatalf("%d messages sent for one idempotency key", n)
	}

	// A photo, then a text too long for its caption (two parts): the text
	// fails with 429, the retry must not send the photo again.
	long := strings.Repeat("caption is far too long ", 200)
	photoMsg := sdk.OutboundMessage{IdempotencyKey: "photo", To: to, Text: long,
		Media: &sdk.Media{Kind: sdk.MediaImage, ContentType: "image/png", FileName: "p.png", Data: testPNG(t, 4, 4)}}
	if err := e.InjectFault(emu.Fault{Method: "sendMessage", ErrorCode: 429, RetryAfter: 3}); err != nil {
		t.Fatal(err)
	}
	_, err := a.Send(context.Background(), photoMsg)
	if d, ok := sdk.RetryDelay(err); !ok || d != 3*time.Second {
		t.Fatalf("Send = %v; want retry after 3s", err)
	}
	res, err := a.Send(context.Background(), photoMsg)
	if err != nil {
		t.Fatal(err)
	}
	sent := e.Sent(testChat)[1:]
	var methods []string
	for _, m := range sent {
		methods = append(methods, m.Method)
	}
	if strings.Join(methods, ",") != "sendPhoto,sendMessage,sendMessage" || len(res.MessageIDs) != 3 {
		t.Fatalf("methods %v, ids %v; want the photo once, then two texts", methods, res.MessageIDs)
	}
}

func TestSendMedia(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	a := startAdapter(t, config(e, base, "polling", nil), newFakeHost(""))
	img := testPNG(t, 8, 8)
	tests := []struct {
		name       string
		media      sdk.Media
		wantMethod string
	}{
		{"png photo", sdk.Media{Kind: sdk.MediaImage, ContentType: "image/png", FileName: "a.png", Data: img}, "sendPhoto"},
		{"svg image as document", sdk.Media{Kind: sdk.MediaImage, ContentType: "image/svg+xml", FileName: "a.svg", Data: []byte("<svg/>")}, "sendDocument"},
		{"pdf", sdk.Media{Kind: sdk.MediaFile, ContentType: "application/pdf", FileName: "terms.pdf", Data: []byte("%PDF-1.4")}, "sendDocument"},
		{"audio as document", sdk.Media{Kind: sdk.MediaAudio, ContentType: "audio/ogg", FileName: "v.ogg", Data: []byte("OggS")}, "sendDocument"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: tt.name, To: sdk.Address{ChatID: testChatID},
				Text: "caption " + tt.name, Media: &tt.media, Buttons: []sdk.Choice{{ID: "ok", Text: "OK"}}})
			if err != nil {
				t.Fatal(err)
			}
			sent := e.Sent(testChat)
			if len(sent) != i+1 {
				t.Fatalf("%d messages sent, want %d", len(sent), i+1)
			}
			m := sent[i]
			if m.Method != tt.wantMethod || m.Caption != "caption "+tt.name || m.ReplyMarkup == nil || m.ReplyMarkup.InlineKeyboard[0][0].CallbackData != "ok" {
				t.Fatalf("sent %s caption %q markup %+v; want %s with caption and keyboard", m.Method, m.Caption, m.ReplyMarkup, tt.wantMethod)
			}
			fileID := ""
			if m.Document != nil {
				fileID = m.Document.FileID
				if m.Document.FileName != tt.media.FileName {
					t.Errorf("file name %q, want %q", m.Document.FileName, tt.media.FileName)
				}
			} else if len(m.Photo) > 0 {
				fileID = m.Photo[len(m.Photo)-1].FileID
			}
			data, _, ok := e.FileData(fileID)
			if !ok || !bytes.Equal(data, tt.media.Data) {
				t.Errorf("uploaded bytes differ")
			}
		})
	}
}

// Telegram's 429 and blocked-user 403 reach the core as RetryAfter and
// Permanent; a block also ends the conversation.
func TestSendErrors(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	host := newFakeHost("")
	a := startAdapter(t, config(e, base, "polling", nil), host)
	to := sdk.Address{ChatID: testChatID}

	if err := e.InjectFault(emu.Fault{Method: "sendMessage", ErrorCode: 429, RetryAfter: 7}); err != nil {
		t.Fatal(err)
	}
	_, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "r", To: to, Text: "hi"})
	if d, ok := sdk.RetryDelay(err); !ok || d != 7*time.Second {
		t.Errorf("429: Send = %v; want RetryAfter 7s", err)
	}
	if _, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "nf", To: sdk.Address{ChatID: "424242"}, Text: "hi"}); sdk.KindOf(err) != sdk.KindPermanent {
		t.Errorf("chat not found: Send = %v; want permanent", err)
	}

	if _, err := e.Block(testChat); err != nil {
		t.Fatal(err)
	}
	_, err = a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "b", To: to, Text: "hello?"})
	if sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("blocked: Send = %v; want a permanent error naming the block", err)
	}
	host.waitEvent(t, func(ev sdk.Event) bool { return ev.End != nil && ev.ID == "blocked:"+testChatID+":b" })
	// The my_chat_member update of the block ends it too (deduplicated by the core).
	host.waitEvent(t, func(ev sdk.Event) bool { return ev.End != nil && !strings.HasPrefix(ev.ID, "blocked:") })
	if err := a.SetTyping(context.Background(), to, true); sdk.KindOf(err) != sdk.KindPermanent {
		t.Errorf("SetTyping to a blocked user = %v; want permanent", err)
	}
}

// Typing repeats while active and stops for good on SetTyping(false).
func TestTyping(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	if err := e.AddUser(emu.User{ID: 2, FirstName: "Other"}); err != nil {
		t.Fatal(err)
	}
	a := startAdapter(t, config(e, base, "polling", nil), newFakeHost(""))
	to := sdk.Address{ChatID: testChatID}
	if err := a.SetTyping(context.Background(), to, true); err != nil {
		t.Fatal(err)
	}
	if err := e.Wait(waitCtx(t), func() bool { return len(e.ChatActions(testChat)) >= 3 }); err != nil {
		t.Fatalf("typing not repeated: %v", err)
	}
	if err := a.SetTyping(context.Background(), to, false); err != nil {
		t.Fatal(err)
	}
	stopped := len(e.ChatActions(testChat))
	// Let another chat's loop run several intervals: the first stays quiet.
	other := sdk.Address{ChatID: "2"}
	if err := a.SetTyping(context.Background(), other, true); err != nil {
		t.Fatal(err)
	}
	if err := e.Wait(waitCtx(t), func() bool { return len(e.ChatActions(2)) >= 4 }); err != nil {
		t.Fatal(err)
	}
	if n := len(e.ChatActions(testChat)); n != stopped {
		t.Fatalf("%d chat actions after SetTyping(false), want none", n-stopped)
	}
	for _, act := range e.ChatActions(2) {
		if act.Action != "typing" {
			t.Errorf("action %q, want typing", act.Action)
		}
	}
	// A Send to the chat stops its indicator too.
	if _, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "t", To: other, Text: "done"}); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	n := len(a.typing)
	a.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d typing loops left after Send", n)
	}
}

// The adapter's buckets keep it under the platform's limit; without them
// the emulator answers 429.
func TestRateLimit(t *testing.T) {
	tests := []struct {
		name     string
		rate     float64
		want429s bool
	}{
		{"limited like the platform", 50, false},
		{"unlimited adapter", 100000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, base := newEmulator(t, emu.Options{ChatRate: 50, ChatBurst: 2})
			a := startAdapter(t, config(e, base, "polling", map[string]any{"per_chat_rate": tt.rate, "per_chat_burst": 1}), newFakeHost(""))
			got429 := false
			for i := range 8 {
				_, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: itoa(int64(i)), To: sdk.Address{ChatID: testChatID}, Text: "m"})
				if _, ok := sdk.RetryDelay(err); ok {
					got429 = true
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if got429 != tt.want429s {
				t.Fatalf("got 429s = %v, want %v", got429, tt.want429s)
			}
		})
	}
	t.Run("wait bounded by the context", func(t *testing.T) {
		e, base := newEmulator(t, emu.Options{})
		a := startAdapter(t, config(e, base, "polling", map[string]any{"per_chat_rate": 0.2, "per_chat_burst": 1}), newFakeHost(""))
		to := sdk.Address{ChatID: testChatID}
		if _, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "1", To: to, Text: "m"}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := a.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "2", To: to, Text: "m"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send = %v; want the context's deadline", err)
		}
	})
	t.Run("a wait beyond request_timeout becomes RetryAfter", func(t *testing.T) {
		e, base := newEmulator(t, emu.Options{})
		a := startAdapter(t, config(e, base, "polling", map[string]any{"per_chat_rate": 0.01, "per_chat_burst": 1, "request_timeout": "1s"}), newFakeHost(""))
		to := sdk.Address{ChatID: testChatID}
		if _, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "1", To: to, Text: "m"}); err != nil {
			t.Fatal(err)
		}
		_, err := a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "2", To: to, Text: "m"})
		if d, ok := sdk.RetryDelay(err); !ok || d < 90*time.Second {
			t.Fatalf("Send = %v; want RetryAfter of about 100s", err)
		}
		if n := len(e.Sent(testChat)); n != 1 {
			t.Fatalf("%d messages sent, want 1", n)
		}
	})
}

// A refused token fails Start, and the token never appears in errors; a
// failed Start can be tried again.
func TestStartErrors(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	const wrong = "999:WRONG-token-value"
	hook := "http://127.0.0.1:9/hook"
	tests := []struct {
		name, mode, base, token, hookURL string
	}{
		{"webhook wrong token", "webhook", base, wrong, hook},
		{"polling wrong token", "polling", base, wrong, hook},
		{"unreachable", "polling", deadURL, wrong, hook},
		{"webhook mode without a public URL", "webhook", base, e.Token(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New()
			cfg := config(e, tt.base, tt.mode, map[string]any{"bot_token": tt.token, "request_timeout": "2s"})
			if err := a.Configure(context.Background(), sdk.Setup{Config: sdk.NewConfig(cfg), Logger: hclog.NewNullLogger()}); err != nil {
				t.Fatal(err)
			}
			defer a.Close(context.Background())
			for attempt := 1; attempt <= 2; attempt++ {
				err := a.Start(context.Background(), newFakeHost(tt.hookURL))
				if err == nil || strings.Contains(err.Error(), "already started") {
					t.Fatalf("Start attempt %d = %v; want the platform's refusal", attempt, err)
				}
				if strings.Contains(err.Error(), "WRONG-token") {
					t.Fatalf("error leaks the token: %v", err)
				}
			}
		})
	}
	if wh := e.Webhook(); wh.URL != "" {
		t.Errorf("webhook set to %q by a failed Start", wh.URL)
	}
}
