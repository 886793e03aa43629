package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const alice = "U0ALICE"

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
	t.Cleanup(func() { e.Close(); srv.Close() })
	e.SetPublicURL(srv.URL)
	if err := e.AddUser(User{ID: alice, Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	return e, srv.URL
}

func keys(t *testing.T, raw []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type call struct {
	ct, auth, body string
}

func do(t *testing.T, base, method string, c call) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/"+method, strings.NewReader(c.body))
	if c.ct != "" {
		req.Header.Set("Content-Type", c.ct)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", "Bearer "+c.auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func TestWebAPI(t *testing.T) {
	e, base := newTest(t, Options{PostRate: 1, PostBurst: 1})
	tok := e.BotToken()
	dm := e.DM(alice)
	_ = e.AddChannel(Channel{ID: "C0OUT", Name: "outside"})
	_ = e.AddChannel(Channel{ID: "C0OLD", Name: "old", BotIn: true, Archived: true})
	tests := []struct {
		name   string
		method string
		c      call
		status int
		want   string // error code, or "" for ok
	}{
		{"no token", "chat.postMessage", call{ct: "application/json", body: `{"channel":"` + dm + `","text":"x"}`}, 200, "not_authed"},
		{"wrong token", "chat.postMessage", call{ct: "application/json", auth: "xoxb-nope", body: `{"channel":"` + dm + `","text":"x"}`}, 200, "invalid_auth"},
		{"bad json", "chat.postMessage", call{ct: "application/json", auth: tok, body: `{`}, 200, "invalid_json"},
		{"json array", "chat.postMessage", call{ct: "application/json", auth: tok, body: `[]`}, 200, "json_not_object"},
		{"unknown channel", "chat.postMessage", call{ct: "application/json", auth: tok, body: `{"channel":"C0NONE","text":"x"}`}, 200, "channel_not_found"},
		{"not a member", "chat.postMessage", call{ct: "application/json", auth: tok, body: `{"channel":"C0OUT","text":"x"}`}, 200, "not_in_channel"},
		{"archived", "chat.postMessage", call{ct: "application/json", auth: tok, body: `{"channel":"C0OLD","text":"x"}`}, 200, "is_archived"},
		{"no text", "chat.postMessage", call{ct: "application/json", auth: tok, body: `{"channel":"` + dm + `"}`}, 200, "no_text"},
		{"bad blocks", "chat.postMessage", call{ct: "application/json", auth: tok, body: `{"channel":"` + dm + `","blocks":[{"text":"no type"}]}`}, 200, "invalid_blocks"},
		{"form post", "chat.postMessage", call{ct: "application/x-www-form-urlencoded", body: "token=" + tok + "&channel=" + dm + "&text=hi"}, 200, ""},
		{"rate limited", "chat.postMessage", call{ct: "application/json", auth: tok, body: `{"channel":"` + dm + `","text":"again"}`}, 429, "ratelimited"},
		{"upload url without length", "files.getUploadURLExternal", call{ct: "application/x-www-form-urlencoded", auth: tok, body: "filename=a.txt&length=0"}, 200, "missing_argument"},
		{"auth.test", "auth.test", call{auth: tok}, 200, ""},
		{"unknown method", "chat.scheduleMessage", call{auth: tok}, 200, "unknown_method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := do(t, base, tc.method, tc.c)
			var env struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			if status != tc.status || json.Unmarshal(body, &env) != nil || env.Error != tc.want || env.OK != (tc.want == "") {
				t.Fatalf("%d %s; want %d error %q", status, body, tc.status, tc.want)
			}
			if status == 429 && hdr.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		})
	}
	// Response shapes follow the samples.
	posted := e.Posted(dm)
	if len(posted) != 1 || posted[0].Text != "hi" || posted[0].BotID == "" {
		t.Fatalf("posted %+v", posted)
	}
}

func TestPostMessageShape(t *testing.T) {
	e, base := newTest(t, Options{PostRate: -1})
	_, _, body := do(t, base, "chat.postMessage", call{ct: "application/json", auth: e.BotToken(), body: `{"channel":"` + alice + `","text":"to a user id"}`})
	if got, want := keys(t, body), keys(t, sample(t, "slack-chat.postMessage-response.json")); got != want {
		t.Fatalf("keys %s, sample %s", got, want)
	}
	var res struct {
		Channel string `json:"channel"`
	}
	_ = json.Unmarshal(body, &res)
	if res.Channel != e.DM(alice) {
		t.Fatalf("a user id posts to the DM; got channel %s", res.Channel)
	}
}

func TestUploadFlow(t *testing.T) {
	e, base := newTest(t, Options{})
	tok := e.BotToken()
	_, _, body := do(t, base, "files.getUploadURLExternal", call{ct: "application/x-www-form-urlencoded", auth: tok, body: "filename=hello.txt&length=12"})
	if got, want := keys(t, body), keys(t, sample(t, "slack-files.getUploadURLExternal-response.json")); got != want {
		t.Fatalf("keys %s, sample %s", got, want)
	}
	var up struct {
		UploadURL string `json:"upload_url"`
		FileID    string `json:"file_id"`
	}
	_ = json.Unmarshal(body, &up)
	res, err := http.Post(up.UploadURL, "application/octet-stream", strings.NewReader("Hello file!\n"))
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(ok) != "OK - 12" {
		t.Fatalf("upload: %d %q", res.StatusCode, ok)
	}
	form := url.Values{"files": {`[{"id":"` + up.FileID + `","title":"Hello file"}]`}, "channel_id": {e.DM(alice)}, "initial_comment": {"Hello file"}}
	_, _, body = do(t, base, "files.completeUploadExternal", call{ct: "application/x-www-form-urlencoded", auth: tok, body: form.Encode()})
	if got, want := keys(t, body), keys(t, sample(t, "slack-files.completeUploadExternal-response.json")); got != want {
		t.Fatalf("keys %s (%s), sample %s", got, body, want)
	}
	_, _, again := do(t, base, "files.completeUploadExternal", call{ct: "application/x-www-form-urlencoded", auth: tok, body: form.Encode()})
	if !bytes.Contains(again, []byte(`"file_not_found"`)) {
		t.Fatalf("second completion: %s", again)
	}
	posted := e.Posted(e.DM(alice))
	if len(posted) != 1 || len(posted[0].Files) != 1 || posted[0].Text != "Hello file" {
		t.Fatalf("posted %+v", posted)
	}
	// Downloads need the bot token.
	u := posted[0].Files[0].URLPrivateDownload
	for token, want := range map[string]int{"": 403, "xoxb-nope": 403, tok: 200} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want || (want == 200 && string(data) != "Hello file!\n") {
			t.Fatalf("download with %q: %d %q", token, res.StatusCode, data)
		}
	}
}

// recorder is an app endpoint that answers with the statuses given, in turn.
type recorder struct {
	mu       sync.Mutex
	statuses []int
	noRetry  bool
	reqs     []*http.Request
	bodies   [][]byte
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs, r.bodies = append(r.reqs, req), append(r.bodies, b)
	status := 200
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	noRetry := r.noRetry
	r.mu.Unlock()
	if noRetry {
		w.Header().Set("X-Slack-No-Retry", "1")
	}
	w.WriteHeader(status)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func waitDelivery(t *testing.T, e *Emulator, id string, done func(Delivery) bool) Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got Delivery
	err := e.Wait(ctx, func() bool {
		for _, d := range e.Deliveries() {
			if d.EventID == id && done(d) {
				got = d
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("delivery %s: %v (%+v)", id, err, e.Deliveries())
	}
	return got
}

func TestEventsDelivery(t *testing.T) {
	t.Run("signed, retried with headers until 2xx", func(t *testing.T) {
		e, _ := newTest(t, Options{NoBotEcho: true})
		app := &recorder{statuses: []int{500, 503}}
		srv := httptest.NewServer(app)
		defer srv.Close()
		e.SetRequestURL(srv.URL)
		res, err := e.PostMessage(UserMessage{User: alice, Text: "hello"})
		if err != nil {
			t.Fatal(err)
		}
		d := waitDelivery(t, e, res.EventID, func(d Delivery) bool { return d.Acked })
		if len(d.Attempts) != 3 || d.Attempts[2].RetryNum != 2 || d.Attempts[2].Reason != "http_error" {
			t.Fatalf("attempts %+v", d.Attempts)
		}
		app.mu.Lock()
		defer app.mu.Unlock()
		for i, r := range app.reqs {
			ts, _ := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
			if r.Header.Get("X-Slack-Signature") != Sign(e.SigningSecret(), ts, app.bodies[i]) {
				t.Fatalf("attempt %d badly signed", i)
			}
			if want := map[int]string{0: "", 1: "1", 2: "2"}[i]; r.Header.Get("X-Slack-Retry-Num") != want {
				t.Fatalf("attempt %d retry num %q", i, r.Header.Get("X-Slack-Retry-Num"))
			}
		}
		// The sample's keys plus the envelope's event_context and is_ext_shared_channel (§2.1).
		if got, want := keys(t, app.bodies[0]), keys(t, sample(t, "slack-event-message.normalized.json"))+",event_context,is_ext_shared_channel"; sortKeys(got) != sortKeys(want) {
			t.Fatalf("envelope keys %s, want %s", got, want)
		}
	})
	t.Run("gives up after three retries; x-slack-no-retry stops at once", func(t *testing.T) {
		for _, noRetry := range []bool{false, true} {
			e, _ := newTest(t, Options{NoBotEcho: true})
			app := &recorder{statuses: []int{500, 500, 500, 500, 500}, noRetry: noRetry}
			srv := httptest.NewServer(app)
			e.SetRequestURL(srv.URL)
			res, _ := e.PostMessage(UserMessage{User: alice, Text: "hello"})
			d := waitDelivery(t, e, res.EventID, func(d Delivery) bool { return d.GaveUp })
			want := 4
			if noRetry {
				want = 1
			}
			if len(d.Attempts) != want {
				t.Fatalf("no-retry %v: %d attempts, want %d", noRetry, len(d.Attempts), want)
			}
			srv.Close()
		}
	})
	t.Run("slow answer counts as http_timeout", func(t *testing.T) {
		e, _ := newTest(t, Options{NoBotEcho: true, AckTimeout: 50 * time.Millisecond})
		var n int
		var mu sync.Mutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n++
			first := n == 1
			mu.Unlock()
			_, _ = io.ReadAll(r.Body) // lets the server notice the client giving up
			if first {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			w.WriteHeader(200)
		}))
		defer srv.Close()
		e.SetRequestURL(srv.URL)
		res, _ := e.PostMessage(UserMessage{User: alice, Text: "hello"})
		d := waitDelivery(t, e, res.EventID, func(d Delivery) bool { return d.Acked })
		if len(d.Attempts) != 2 || d.Attempts[1].Reason != "http_timeout" {
			t.Fatalf("attempts %+v", d.Attempts)
		}
	})
	t.Run("block_actions is form-encoded and signed", func(t *testing.T) {
		e, base := newTest(t, Options{NoBotEcho: true})
		app := &recorder{}
		srv := httptest.NewServer(app)
		defer srv.Close()
		e.SetRequestURL(srv.URL)
		blocks := `[{"type":"actions","block_id":"b","elements":[{"type":"button","action_id":"a1","text":{"type":"plain_text","text":"Yes"},"value":"yes"}]}]`
		_, _, body := do(t, base, "chat.postMessage", call{ct: "application/json", auth: e.BotToken(), body: `{"channel":"` + e.DM(alice) + `","text":"pick","blocks":` + blocks + `}`})
		var pm struct {
			TS string `json:"ts"`
		}
		_ = json.Unmarshal(body, &pm)
		res, err := e.PressButton(alice, e.DM(alice), pm.TS, "yes")
		if err != nil {
			t.Fatal(err)
		}
		waitDelivery(t, e, res.EventID, func(d Delivery) bool { return d.Acked })
		app.mu.Lock()
		defer app.mu.Unlock()
		r, b := app.reqs[0], app.bodies[0]
		form, _ := url.ParseQuery(string(b))
		var p struct {
			Type    string `json:"type"`
			Actions []struct {
				Value string `json:"value"`
			} `json:"actions"`
		}
		ts, _ := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || json.Unmarshal([]byte(form.Get("payload")), &p) != nil ||
			p.Type != "block_actions" || p.Actions[0].Value != "yes" || r.Header.Get("X-Slack-Signature") != Sign(e.SigningSecret(), ts, b) {
			t.Fatalf("interactivity request %v %s", r.Header, b)
		}
	})
}

func TestSocketMode(t *testing.T) {
	e, base := newTest(t, Options{SocketMode: true, NoBotEcho: true, AckTimeout: 100 * time.Millisecond})
	if _, _, body := do(t, base, "apps.connections.open", call{auth: e.BotToken()}); !bytes.Contains(body, []byte(`"invalid_auth"`)) {
		t.Fatalf("bot token opened a connection: %s", body)
	}
	_, _, body := do(t, base, "apps.connections.open", call{ct: "application/x-www-form-urlencoded", auth: e.AppToken()})
	if got, want := keys(t, body), keys(t, sample(t, "slack-socketmode-apps.connections.open-response.json")); got != want {
		t.Fatalf("keys %s, sample %s", got, want)
	}
	var open struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(body, &open)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, open.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, _, err := websocket.Dial(ctx, open.URL, nil); err == nil {
		t.Fatal("a ticket was accepted twice")
	}
	read := func() map[string]any {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	hello := read()
	hb, _ := json.Marshal(hello)
	if hello["type"] != "hello" || keys(t, hb) != keys(t, sample(t, "slack-socketmode-hello.json")) {
		t.Fatalf("first frame %s; want the sample's keys", hb)
	}
	res, _ := e.PostMessage(UserMessage{User: alice, Text: "over the socket"})
	env := read()
	if env["type"] != "events_api" || env["retry_attempt"] != float64(0) {
		t.Fatalf("envelope %v", env)
	}
	// Not acknowledged: sent again as a retry with a new envelope id.
	again := read()
	if again["retry_attempt"] != float64(1) || again["envelope_id"] == env["envelope_id"] {
		t.Fatalf("resent envelope %v", again)
	}
	ack, _ := json.Marshal(map[string]any{"envelope_id": again["envelope_id"]})
	if err := conn.Write(ctx, websocket.MessageText, ack); err != nil {
		t.Fatal(err)
	}
	waitDelivery(t, e, res.EventID, func(d Delivery) bool { return d.Acked })
	// Disconnect frames are sent before the close.
	if n := e.DisconnectSockets("refresh_requested"); n != 1 {
		t.Fatalf("%d sockets", n)
	}
	if f := read(); f["type"] != "disconnect" || f["reason"] != "refresh_requested" {
		t.Fatalf("frame %v", f)
	}
}

func TestControlAPI(t *testing.T) {
	e, base := newTest(t, Options{NoBotEcho: true, PostRate: -1})
	postJSON := func(path, body string) (int, []byte) {
		res, err := http.Post(base+"/fake/slack/api/"+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if s, b := postJSON("users", `{"id":"U0BOB","name":"bob"}`); s != 200 {
		t.Fatalf("add user: %d %s", s, b)
	}
	if s, _ := postJSON("users", `{"id":"bob"}`); s != 400 {
		t.Fatalf("bad user id: %d", s)
	}
	if s, b := postJSON("messages", `{"user":"U0BOB","text":"hi"}`); s != 200 || !bytes.Contains(b, []byte(`"event_id":"Ev`)) {
		t.Fatalf("post: %d %s", s, b)
	}
	if s, _ := postJSON("messages", `{"user":"U0NOBODY","text":"hi"}`); s != 404 {
		t.Fatalf("unknown user: %d", s)
	}
	do(t, base, "chat.postMessage", call{ct: "application/json", auth: e.BotToken(), body: `{"channel":"U0BOB","text":"answer"}`})
	res, err := http.Get(base + "/fake/slack/api/channels/" + e.DM("U0BOB") + "/posted")
	if err != nil {
		t.Fatal(err)
	}
	var posted []Message
	_ = json.NewDecoder(res.Body).Decode(&posted)
	res.Body.Close()
	if len(posted) != 1 || posted[0].Text != "answer" || posted[0].Method != "chat.postMessage" {
		t.Fatalf("posted %+v", posted)
	}
	if s, _ := postJSON("faults", `{"method":"chat.postMessage","error":"channel_not_found"}`); s != 200 {
		t.Fatal("fault")
	}
	if _, _, b := do(t, base, "chat.postMessage", call{ct: "application/json", auth: e.BotToken(), body: `{"channel":"U0BOB","text":"x"}`}); !bytes.Contains(b, []byte("channel_not_found")) {
		t.Fatalf("fault not applied: %s", b)
	}
}

func TestRunCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- RunCommand(ctx, []string{"-listen", "127.0.0.1:0", "-users", "U0ANN:ann"}, out, io.Discard)
	}()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(out.String(), "listening") {
		select {
		case err := <-done:
			t.Fatalf("RunCommand ended: %v", err)
		case <-deadline:
			t.Fatal("RunCommand did not start")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := RunCommand(context.Background(), []string{"-users", "bad"}, io.Discard, io.Discard); err == nil {
		t.Fatal("bad -users accepted")
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func sortKeys(s string) string {
	ks := strings.Split(s, ",")
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// users.info answers the user object with its profile hash; the email only
// with users:read.email, the locale only with include_locale.
func TestUsersInfo(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noEmail   bool
		body      string
		wantErr   string
		wantEmail string
		wantLoc   string
	}{
		{"profile", false, "user=U0BOB&include_locale=true", "", "bob@example.com", "de-DE"},
		{"no locale asked", false, "user=U0BOB", "", "bob@example.com", ""},
		{"without users:read.email", true, "user=U0BOB", "", "", ""},
		{"unknown user", false, "user=U0NOBODY", "user_not_found", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, base := newTest(t, Options{NoEmailScope: tc.noEmail})
			if err := e.AddUser(User{ID: "U0BOB", Name: "bob", FirstName: "Bob", LastName: "Builder", Title: "Foreman",
				Email: "bob@example.com", Locale: "de-DE"}); err != nil {
				t.Fatal(err)
			}
			_, _, raw := do(t, base, "users.info", call{ct: "application/x-www-form-urlencoded", auth: e.BotToken(), body: tc.body})
			var res struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
				User  struct {
					ID       string         `json:"id"`
					RealName string         `json:"real_name"`
					Locale   string         `json:"locale"`
					Profile  map[string]any `json:"profile"`
				} `json:"user"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" {
				if res.OK || res.Error != tc.wantErr {
					t.Fatalf("answer %s; want error %s", raw, tc.wantErr)
				}
				return
			}
			profile := res.User.Profile
			if !res.OK || res.User.ID != "U0BOB" || res.User.RealName != "Bob Builder" || profile["title"] != "Foreman" ||
				profile["first_name"] != "Bob" || res.User.Locale != tc.wantLoc {
				t.Fatalf("answer %s", raw)
			}
			if email, _ := profile["email"].(string); email != tc.wantEmail {
				t.Fatalf("email %q, want %q (%s)", email, tc.wantEmail, raw)
			}
		})
	}
}

// conversations.open finds or opens the DM with a user; files.info gives
// back a file object with its url_private, as a bot needs after an upload.
func TestConversationsOpenAndFilesInfo(t *testing.T) {
	e, base := newTest(t, Options{})
	if err := e.AddUser(User{ID: "U0CAROL", Name: "carol"}); err != nil {
		t.Fatal(err)
	}
	tok := e.BotToken()
	form := "application/x-www-form-urlencoded"
	var open struct {
		OK          bool   `json:"ok"`
		Error       string `json:"error"`
		AlreadyOpen bool   `json:"already_open"`
		Channel     struct {
			ID   string `json:"id"`
			IsIM bool   `json:"is_im"`
			User string `json:"user"`
		} `json:"channel"`
	}
	_, _, raw := do(t, base, "conversations.open", call{ct: form, auth: tok, body: "users=U0CAROL&return_im=true"})
	if err := json.Unmarshal(raw, &open); err != nil || !open.OK || open.Channel.ID != e.DM("U0CAROL") || !open.Channel.IsIM || open.Channel.User != "U0CAROL" {
		t.Fatalf("first open: %s", raw)
	}
	_, _, raw = do(t, base, "conversations.open", call{ct: "application/json", auth: tok, body: `{"users":"U0CAROL"}`})
	open.AlreadyOpen = false
	if err := json.Unmarshal(raw, &open); err != nil || !open.OK || open.Channel.ID != e.DM("U0CAROL") || !open.AlreadyOpen {
		t.Fatalf("second open: %s", raw)
	}
	for body, want := range map[string]string{"users=U0NOBODY": "user_not_found", "": "users_list_not_supplied"} {
		if _, _, raw := do(t, base, "conversations.open", call{ct: form, auth: tok, body: body}); !bytes.Contains(raw, []byte(`"error":"`+want+`"`)) {
			t.Fatalf("conversations.open %q: %s; want %s", body, raw, want)
		}
	}
	// The DM works for posting, as Slack's does.
	if _, _, raw := do(t, base, "chat.postMessage", call{ct: form, auth: tok, body: "channel=" + open.Channel.ID + "&text=hi"}); !bytes.Contains(raw, []byte(`"ok":true`)) {
		t.Fatalf("post to the opened DM: %s", raw)
	}

	res, err := e.PostMessage(UserMessage{User: "U0CAROL", Text: "see attached", Files: []Upload{{Name: "a.txt", Data: []byte("attached")}}})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		OK   bool `json:"ok"`
		File File `json:"file"`
	}
	_, _, raw = do(t, base, "files.info", call{ct: form, auth: tok, body: "file=" + res.FileIDs[0]})
	if err := json.Unmarshal(raw, &info); err != nil || !info.OK || info.File.ID != res.FileIDs[0] || info.File.URLPrivate == "" || info.File.Name != "a.txt" {
		t.Fatalf("files.info: %s", raw)
	}
	if _, _, raw := do(t, base, "files.info", call{ct: form, auth: tok, body: "file=F0NONE"}); !bytes.Contains(raw, []byte(`"error":"file_not_found"`)) {
		t.Fatalf("files.info of no file: %s", raw)
	}
}
