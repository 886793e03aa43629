package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	emu "github.com/leconnect/leconnect/emulator/slack"
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err    error
		kind   sdk.ErrorKind
		delay  time.Duration
		reason string
	}{
		{&APIError{Method: "chat.postMessage", Code: "ratelimited", Status: 429, RetryAfter: 30 * time.Second}, sdk.KindRetryAfter, 30 * time.Second, ""},
		{&APIError{Method: "chat.postMessage", Code: "rate_limited", Status: 200}, sdk.KindRetryAfter, time.Minute, ""},
		{&APIError{Method: "chat.postMessage", Code: "channel_not_found"}, sdk.KindPermanent, 0, "invite the app"},
		{&APIError{Method: "chat.postMessage", Code: "not_in_channel"}, sdk.KindPermanent, 0, "not a member"},
		{&APIError{Method: "chat.postMessage", Code: "invalid_auth"}, sdk.KindPermanent, 0, "check the token"},
		{&APIError{Method: "chat.postMessage", Code: "token_revoked"}, sdk.KindPermanent, 0, "reinstall"},
		{&APIError{Method: "chat.postMessage", Code: "some_new_error"}, sdk.KindPermanent, 0, "refused"},
		{&APIError{Method: "chat.postMessage", Code: "internal_error"}, sdk.KindTransient, 0, ""},
		{&APIError{Method: "chat.postMessage", Code: "service_unavailable"}, sdk.KindTransient, 0, ""},
		{errors.New("connection refused"), sdk.KindTransient, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			got := classify(tc.err)
			if k := sdk.KindOf(got); k != tc.kind {
				t.Fatalf("kind %v, want %v", k, tc.kind)
			}
			if d, _ := sdk.RetryDelay(got); d != tc.delay {
				t.Fatalf("delay %v, want %v", d, tc.delay)
			}
			if !strings.Contains(got.Error(), tc.reason) {
				t.Fatalf("%q does not explain %q", got, tc.reason)
			}
		})
	}
}

// The documented error bodies decode into APIErrors with their codes.
func TestAPIErrorSamples(t *testing.T) {
	for name, want := range map[string]string{
		"slack-chat.postMessage-error.json":           "too_many_attachments",
		"slack-files.getUploadURLExternal-error.json": "invalid_auth",
	} {
		var env envelope
		if err := json.Unmarshal(readSample(t, name), &env); err != nil || env.OK || env.Error != want {
			t.Fatalf("%s: %+v %v", name, env, err)
		}
	}
	var pm struct {
		envelope
		TS string `json:"ts"`
	}
	if err := json.Unmarshal(readSample(t, "slack-chat.postMessage-response.json"), &pm); err != nil || !pm.OK || pm.TS != "1503435956.000247" {
		t.Fatalf("postMessage response: %+v %v", pm, err)
	}
}

func TestSplitText(t *testing.T) {
	long := strings.Repeat("word ", 2000) // 10000 characters
	tests := []struct {
		in    string
		limit int
		want  int
	}{
		{"short", 4000, 1},
		{long, 4000, 3},
		{strings.Repeat("é", 9000), 4000, 3},
		{"line one\nline two", 10, 2},
		{"", 4000, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d/%d", len(tc.in), tc.limit), func(t *testing.T) {
			got := splitText(tc.in, tc.limit)
			if len(got) != tc.want {
				t.Fatalf("%d chunks, want %d", len(got), tc.want)
			}
			for _, c := range got {
				if n := len([]rune(c)); n > tc.limit || n == 0 {
					t.Fatalf("chunk of %d characters (limit %d)", n, tc.limit)
				}
			}
		})
	}
}

func TestSend(t *testing.T) {
	s := start(t, emu.Options{}, "events", nil)
	dm := s.e.DM(testUser)
	ctx := context.Background()

	t.Run("long text split, in a thread", func(t *testing.T) {
		root, err := s.a.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "root", To: sdk.Address{ChatID: dm}, Text: "root"})
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Repeat("a <b> & c ", 900) // 9000 characters
		res, err := s.a.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "long", To: sdk.Address{ChatID: dm, ThreadID: root.MessageIDs[0]}, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.MessageIDs) != 3 {
			t.Fatalf("%d messages for 9000 characters", len(res.MessageIDs))
		}
		var joined []string
		for _, m := range s.e.Posted(dm)[1:] {
			if m.ThreadTS != root.MessageIDs[0] {
				t.Fatalf("part outside the thread: %+v", m)
			}
			joined = append(joined, m.Text)
		}
		if got := unescape(strings.Join(joined, " ")); got != strings.TrimSpace(text) {
			t.Fatalf("parts do not join back to the text")
		}
	})
	t.Run("buttons and quick replies as Block Kit", func(t *testing.T) {
		res, err := s.a.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "choices", To: sdk.Address{ChatID: dm}, Text: "Pick",
			Buttons: []sdk.Choice{{ID: "b1", Text: "Button one"}}, QuickReplies: []sdk.Choice{{ID: "yes", Text: "Yes"}, {ID: "no", Text: "No"}}})
		if err != nil {
			t.Fatal(err)
		}
		posted := s.e.Posted(dm)
		m := posted[len(posted)-1]
		if m.TS != res.MessageIDs[0] || len(m.Blocks) != 2 {
			t.Fatalf("posted %+v", m)
		}
		b, _ := json.Marshal(m.Blocks[1])
		for _, want := range []string{`"value":"b1"`, `"value":"yes"`, `"value":"no"`, `"text":"Button one"`, `"type":"actions"`} {
			if !strings.Contains(string(b), want) {
				t.Fatalf("actions block %s lacks %s", b, want)
			}
		}
		// The click comes back as the choice.
		if _, err := s.e.PressButton(testUser, dm, m.TS, "yes"); err != nil {
			t.Fatal(err)
		}
		ev := s.h.wait(t, 1)[0]
		if ev.Message.Choice == nil || ev.Message.Choice.ID != "yes" || ev.Message.Choice.Text != "Yes" {
			t.Fatalf("choice event %+v", ev.Message)
		}
	})
	t.Run("file by the external upload flow", func(t *testing.T) {
		data := []byte("hello file\n")
		res, err := s.a.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "file", To: sdk.Address{ChatID: dm}, Text: "the file",
			Media: &sdk.Media{Kind: sdk.MediaFile, ContentType: "text/plain", FileName: "hello.txt", Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		got, _, ok := s.e.FileData(res.MessageIDs[0])
		if !ok || string(got) != string(data) || len(res.MessageIDs) != 2 {
			t.Fatalf("file %q (%v), ids %v", got, ok, res.MessageIDs)
		}
	})

	errTests := []struct {
		name  string
		fault *emu.Fault
		to    string
		kind  sdk.ErrorKind
		delay time.Duration
	}{
		{name: "channel_not_found", to: "C0NOSUCH", kind: sdk.KindPermanent},
		{name: "not_in_channel", to: "C0NOTIN", kind: sdk.KindPermanent},
		{name: "invalid_auth", fault: &emu.Fault{Method: "chat.postMessage", Error: "invalid_auth"}, kind: sdk.KindPermanent},
		{name: "429", fault: &emu.Fault{Method: "chat.postMessage", Error: "ratelimited", RetryAfter: 7}, kind: sdk.KindRetryAfter, delay: 7 * time.Second},
		{name: "upload 429", fault: &emu.Fault{Method: "files.getUploadURLExternal", Error: "ratelimited", RetryAfter: 2}, kind: sdk.KindRetryAfter, delay: 2 * time.Second},
		{name: "internal_error", fault: &emu.Fault{Method: "chat.postMessage", Error: "internal_error"}, kind: sdk.KindTransient},
	}
	if err := s.e.AddChannel(emu.Channel{ID: "C0NOTIN", Name: "partners", BotIn: false}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				if err := s.e.InjectFault(*tc.fault); err != nil {
					t.Fatal(err)
				}
			}
			to := tc.to
			if to == "" {
				to = dm
			}
			msg := sdk.OutboundMessage{IdempotencyKey: "err-" + tc.name, To: sdk.Address{ChatID: to}, Text: "x"}
			if strings.HasPrefix(tc.name, "upload") {
				msg.Media = &sdk.Media{Kind: sdk.MediaFile, FileName: "a.txt", Data: []byte("a")}
			}
			_, err := s.a.Send(ctx, msg)
			if sdk.KindOf(err) != tc.kind {
				t.Fatalf("Send = %v (kind %v), want kind %v", err, sdk.KindOf(err), tc.kind)
			}
			if d, _ := sdk.RetryDelay(err); d != tc.delay {
				t.Fatalf("delay %v, want %v", d, tc.delay)
			}
		})
	}
}

// chat.postMessage's per-channel rate: a burst of three, then the core is
// asked to come back rather than the call waiting beyond maxWait.
func TestLimiterPerChannel(t *testing.T) {
	l := newLimiter(1, 0)
	ctx := context.Background()
	for i := range 3 {
		if err := l.wait(ctx, "chat.postMessage", "C1"); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	err := l.wait(ctx, "chat.postMessage", "C1")
	if d, ok := sdk.RetryDelay(err); !ok || d <= 0 || d > time.Second {
		t.Fatalf("4th post in a second: %v; want a retry-after up to 1s", err)
	}
	if err := l.wait(ctx, "chat.postMessage", "C2"); err != nil {
		t.Fatalf("another channel is limited separately: %v", err)
	}
	// Tier 4 methods allow a burst of 10.
	for i := range 10 {
		if err := l.wait(ctx, "files.getUploadURLExternal", ""); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
	}
	if _, ok := sdk.RetryDelay(l.wait(ctx, "files.getUploadURLExternal", "")); !ok {
		t.Fatal("11th upload in a burst was not limited")
	}
}

// An unknown token is refused at Start with a permanent, explained error.
func TestStartRefusedToken(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	for _, mode := range []string{"events", "socket"} {
		t.Run(mode, func(t *testing.T) {
			extra := map[string]any{"bot_token": "xoxb-wrong"}
			if mode == "socket" {
				extra = map[string]any{"app_token": "xapp-wrong"}
			}
			a := New()
			if err := a.Configure(context.Background(), sdk.Setup{Config: sdk.NewConfig(config(e, base, mode, extra))}); err != nil {
				t.Fatal(err)
			}
			err := a.Start(context.Background(), newHost())
			if sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), "invalid_auth") {
				t.Fatalf("Start = %v; want a permanent invalid_auth", err)
			}
		})
	}
}

// The bot's own posts come back from the emulator as message events with
// bot_id; none is delivered.
func TestOwnPostsNotDelivered(t *testing.T) {
	s := start(t, emu.Options{}, "socket", nil)
	dm := s.e.DM(testUser)
	if _, err := s.a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "echo", To: sdk.Address{ChatID: dm}, Text: "from the agent"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.e.PostMessage(emu.UserMessage{User: testUser, Text: "from the user"}); err != nil {
		t.Fatal(err)
	}
	ctx := waitCtx(t)
	if err := s.e.Wait(ctx, func() bool {
		for _, d := range s.e.Deliveries() {
			if !d.Acked {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	evs := s.h.wait(t, 1)
	if len(evs) != 1 || evs[0].Message.Text != "from the user" {
		t.Fatalf("delivered %+v; want only the user's message", evs)
	}
}

// Socket Mode: an envelope whose delivery failed is not acknowledged, so
// Slack sends it again; edits, deletions and files go through the same path.
func TestSocketUnackedRedelivered(t *testing.T) {
	s := start(t, emu.Options{AckTimeout: 50 * time.Millisecond}, "socket", nil)
	s.h.setFail(errors.New("store down"))
	res, err := s.e.PostMessage(emu.UserMessage{User: testUser, Text: "hello", Files: []emu.Upload{{Name: "a.png", Mimetype: "image/png", Data: []byte("\x89PNG")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := waitCtx(t)
	if err := s.e.Wait(ctx, func() bool {
		for _, d := range s.e.Deliveries() {
			if d.EventID == res.EventID {
				return len(d.Attempts) >= 2
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	s.h.setFail(nil)
	ev := s.h.wait(t, 1)[0]
	if ev.ID != res.EventID || len(ev.Message.Media) != 1 || string(ev.Message.Media[0].Data) != "\x89PNG" || ev.Message.Media[0].Kind != sdk.MediaImage {
		t.Fatalf("event %+v", ev)
	}
	if _, err := s.e.EditMessage(res.Channel, res.TS, "hello again"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.e.DeleteMessage(res.Channel, res.TS); err != nil {
		t.Fatal(err)
	}
	if _, err := s.e.PostMessage(emu.UserMessage{User: testUser, Text: "last"}); err != nil {
		t.Fatal(err)
	}
	evs := s.h.wait(t, 3)
	if len(evs) != 3 || !evs[1].Message.Edited || evs[1].Message.Text != "hello again" || evs[1].Message.ID != res.TS || evs[2].Message.Text != "last" {
		t.Fatalf("events %+v; want the edit, no deletion, then the last message", evs)
	}
}

// Files are only fetched from Slack's hosts or api_base_url's (and those
// downloads.allow_hosts adds), over https, never from an internal address,
// and the token goes only to Slack's hosts and api_base_url's.
func TestDownloadsKeepToTheirPolicy(t *testing.T) {
	var hits atomic.Int64
	var auth atomic.Value
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		auth.Store(r.Header.Get("Authorization"))
		_, _ = w.Write([]byte("internal"))
	}))
	t.Cleanup(internal.Close)
	webAPIFor := func(cfg map[string]any) *webAPI {
		t.Helper()
		cfg["bot_token"], cfg["signing_secret"], cfg["api_base_url"] = "xoxb-secret", "s", "http://127.0.0.1:1/api"
		raw, _ := json.Marshal(cfg)
		s, err := parseConfig(sdk.NewConfig(raw))
		if err != nil {
			t.Fatal(err)
		}
		files, err := safehttp.New(s.downloads)
		if err != nil {
			t.Fatal(err)
		}
		return &webAPI{base: s.apiBase, token: s.botToken, http: http.DefaultClient, files: files, timeout: time.Second}
	}
	api := webAPIFor(map[string]any{})
	for _, u := range []string{"https://evil.example/files-pri/x", "http://files.slack.com/x", "ftp://files.slack.com/x",
		internal.URL + "/files-pri/x", strings.Replace(internal.URL, "127.0.0.1", "files.slack.com", 1)} {
		if _, _, err := api.download(context.Background(), u); !errors.Is(err, safehttp.ErrRefused) {
			t.Fatalf("download(%s) = %v; want a refusal", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the internal server got %d requests", hits.Load())
	}
	host := strings.TrimPrefix(internal.URL, "http://")
	api = webAPIFor(map[string]any{"downloads": map[string]any{
		"allow_hosts": []string{host}, "allow_schemes": []string{"http"}, "allow_networks": []string{"127.0.0.1/32"}}})
	data, _, err := api.download(context.Background(), internal.URL+"/x")
	if err != nil || string(data) != "internal" {
		t.Fatalf("allowed by config: %q, %v", data, err)
	}
	if got := auth.Load(); got != "" {
		t.Fatalf("the bot token went to a host Slack does not own: %q", got)
	}
}
