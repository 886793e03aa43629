package demo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	slackemu "github.com/leconnect/leconnect/emulator/slack"
	smsemu "github.com/leconnect/leconnect/emulator/sms"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// botCall plays the bot: one Bot API call on the emulator.
func botCall(t *testing.T, base, method string, form url.Values) {
	t.Helper()
	res, err := http.PostForm(base+"/bot"+tgToken+"/"+method, form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s = %d", method, res.StatusCode)
	}
}

func TestTelegramPhoneTimeline(t *testing.T) {
	tg, err := tgemu.New(tgemu.Options{Token: tgToken, ChatRate: -1, GlobalRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tg.Handler())
	t.Cleanup(func() { srv.Close(); tg.Close() })
	p := newTelegramPhone(tg)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	with := func(kv ...string) url.Values {
		v := url.Values{"chat_id": {"100001"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	v0 := p.Timeline().Version
	changed := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		changed <- p.WaitChange(wctx, v0)
	}()
	if err := p.Send(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatalf("WaitChange after a send: %v", err)
	}

	botCall(t, srv.URL, "sendChatAction", with("action", "typing"))
	if tl := p.Timeline(); tl.TypingUntil <= time.Now().UnixMilli() {
		t.Errorf("typing after sendChatAction: TypingUntil %d is not in the future", tl.TypingUntil)
	}
	botCall(t, srv.URL, "sendMessage", with("text", "Pick one",
		"reply_markup", `{"inline_keyboard":[[{"text":"Yes please","callback_data":"yes"},{"text":"No","callback_data":"no"}]]}`))
	if err := p.Press(ctx, "2", "yes"); err != nil {
		t.Fatal(err)
	}
	if err := p.Press(ctx, "not-a-number", "yes"); err == nil {
		t.Error("Press with a bad message id succeeded")
	}
	botCall(t, srv.URL, "sendMessage", with("text", "Done"))

	var got []string
	for _, m := range p.Timeline().Messages {
		s := m.From + ":" + m.Text
		for _, b := range m.Buttons {
			s += "[" + b.Text + "=" + b.Data + "]"
		}
		got = append(got, s)
	}
	want := "user:hello|business:Pick one[Yes please=yes][No=no]|user:Yes please|business:Done"
	if strings.Join(got, "|") != want {
		t.Errorf("timeline\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	if err := p.Send(ctx, " "); err == nil {
		t.Error("Send of blank text succeeded")
	}
	if n := len(p.Timeline().Messages); n != 4 {
		t.Errorf("a failed send left a bubble: %d messages", n)
	}
}

// timelineString renders a timeline compactly for comparison.
func timelineString(tl Timeline) string {
	var got []string
	for _, m := range tl.Messages {
		s := m.From + ":" + m.Text
		for _, b := range m.Buttons {
			s += "[" + b.Text + "=" + b.Data + "]"
		}
		if m.Image != "" {
			s += "<img>"
		}
		got = append(got, s)
	}
	return strings.Join(got, "|")
}

// waitVersion waits in the background for the timeline to change from v.
func waitVersion(p Phone, v string) <-chan error {
	changed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		changed <- p.WaitChange(ctx, v)
	}()
	return changed
}

func TestSlackPhoneTimeline(t *testing.T) {
	sl, err := slackemu.New(slackemu.Options{BotToken: slackBotToken, SigningSecret: slackSigningSecret, PostRate: -1, NoBotEcho: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sl.Handler())
	t.Cleanup(func() { srv.Close(); sl.Close() })
	sl.SetPublicURL(srv.URL)
	p := newSlackPhone(sl)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// post plays the app: chat.postMessage in the user's DM.
	post := func(body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/chat.postMessage", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+slackBotToken)
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		_ = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if !out.OK {
			t.Fatalf("chat.postMessage: %s", out.Error)
		}
	}

	changed := waitVersion(p, p.Timeline().Version)
	if err := p.Send(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatalf("WaitChange after a send: %v", err)
	}
	changed = waitVersion(p, p.Timeline().Version)
	post(`{"channel":"` + p.dm + `","text":"Pick one","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"Pick one"}},` +
		`{"type":"actions","elements":[{"type":"button","action_id":"a1","text":{"type":"plain_text","text":"Yes please"},"value":"yes"},` +
		`{"type":"button","action_id":"a2","text":{"type":"plain_text","text":"No"},"value":"no"}]}]}`)
	if err := <-changed; err != nil {
		t.Fatalf("WaitChange after the app posted: %v", err)
	}
	tl := p.Timeline()
	if err := p.Press(ctx, tl.Messages[1].ID, "yes"); err != nil {
		t.Fatal(err)
	}
	if err := p.Press(ctx, tl.Messages[1].ID, "maybe"); err == nil {
		t.Error("Press of a button the message does not have succeeded")
	}
	post(`{"channel":"` + p.dm + `","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"Only blocks"}}]}`)

	want := "user:hello|business:Pick one[Yes please=yes][No=no]|user:Yes please|business:Only blocks"
	if got := timelineString(p.Timeline()); got != want {
		t.Errorf("timeline\n got %s\nwant %s", got, want)
	}
	if err := p.Send(ctx, " "); err == nil {
		t.Error("Send of blank text succeeded")
	}
	if _, _, ok := p.Media("F-unknown"); ok {
		t.Error("Media of an unknown file succeeded")
	}
}

// A 1x1 PNG.
var testPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func TestSMSPhoneTimeline(t *testing.T) {
	sms, err := smsemu.New(smsemu.Options{AccountSID: twilioAccountSID, AuthToken: twilioAuthToken, TimeScale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sms.Handler())
	// The service's side: its webhook answers with empty TwiML, and it
	// hosts the picture it sends.
	var inbound []string
	var mu sync.Mutex
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pic.png" {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(testPNG)
			return
		}
		_ = r.ParseForm()
		mu.Lock()
		inbound = append(inbound, r.PostForm.Get("Body"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte("<Response></Response>"))
	}))
	t.Cleanup(func() { srv.Close(); svc.Close(); sms.Close() })
	sms.SetBaseURL(srv.URL)
	if err := sms.AddNumber(smsemu.Number{Provider: smsemu.Twilio, Number: demoSMSNumber, WebhookURL: svc.URL + "/hook"}); err != nil {
		t.Fatal(err)
	}
	p := newSMSPhone(sms)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// send plays the service: a Twilio Messages API call.
	send := func(form url.Values) {
		t.Helper()
		form.Set("To", demoSMSPhone)
		form.Set("From", demoSMSNumber)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/2010-04-01/Accounts/"+twilioAccountSID+"/Messages.json", strings.NewReader(form.Encode()))
		req.SetBasicAuth(twilioAccountSID, twilioAuthToken)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			t.Fatalf("Messages.json = %d", res.StatusCode)
		}
	}

	changed := waitVersion(p, p.Timeline().Version)
	if err := p.Send(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatalf("WaitChange after a send: %v", err)
	}
	changed = waitVersion(p, p.Timeline().Version)
	send(url.Values{"Body": {"Which colour?\n1. Red\n2. Blue"}})
	if err := <-changed; err != nil {
		t.Fatalf("WaitChange after the service sent: %v", err)
	}
	if err := p.Press(ctx, "", "2"); err != nil {
		t.Fatal(err)
	}
	if err := p.Press(ctx, "", "Blue"); err == nil {
		t.Error("Press with a non-number option succeeded")
	}
	send(url.Values{"Body": {"Here it is"}, "MediaUrl": {svc.URL + "/pic.png"}})
	waitFor(t, "the picture on the phone", func() bool { return len(sms.Received(demoSMSPhone)) == 2 })

	tl := p.Timeline()
	want := "user:hello|business:Which colour?\n1. Red\n2. Blue[Red=1][Blue=2]|user:2|business:Here it is<img>"
	if got := timelineString(tl); got != want {
		t.Errorf("timeline\n got %q\nwant %q", got, want)
	}
	img := tl.Messages[len(tl.Messages)-1].Image
	data, ct, ok := p.Media(strings.TrimPrefix(img, "media/"))
	if !ok || ct != "image/png" || string(data) != string(testPNG) {
		t.Errorf("Media(%s) = %d bytes, %q, %v; want the PNG", img, len(data), ct, ok)
	}
	for _, id := range []string{"nope", "nope-0", strings.TrimPrefix(img, "media/") + "0"} {
		if _, _, ok := p.Media(id); ok {
			t.Errorf("Media(%q) succeeded", id)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(inbound, "|") != "hello|2" {
		t.Errorf("the service received %q, want hello|2", inbound)
	}
}

func TestSMSOptions(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"plain", "Hello", ""},
		{"options", "Pick\n1. Red\n2. Blue", "Red=1,Blue=2"},
		{"numbered first line only", "1. Red", ""},
		{"options not at the end", "Pick\n1. Red\nthanks", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, b := range options(tc.text) {
				got = append(got, b.Text+"="+b.Data)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("options(%q) = %v, want %s", tc.text, got, tc.want)
			}
		})
	}
}
