package sms

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	emu "github.com/leconnect/leconnect/emulator/sms"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// postTwilio posts a signed Twilio form to the adapter's webhook + suffix.
func postTwilio(t *testing.T, s *started, token, suffix string, p url.Values) int {
	t.Helper()
	target := s.host.hook + suffix
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(p.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", TwilioSignature(token, target, p))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func receipts(h *fakeHost) []string {
	var out []string
	for _, e := range h.all() {
		if e.Receipt != nil {
			out = append(out, e.ID)
		}
	}
	return out
}

// Status callbacks only ever move a message forward: late, repeated or
// shuffled reports deliver each receipt at most once and never go back.
func TestReceiptsNeverRegress(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000}) // no emulator callbacks here
	tests := []struct {
		name  string
		order []string
		want  []string
	}{
		{"in order", []string{"queued", "sent", "delivered", "read"}, []string{"SM1:delivered", "SM1:read"}},
		{"delivered before sent", []string{"delivered", "sent", "queued"}, []string{"SM1:delivered"}},
		{"read before delivered", []string{"read", "delivered", "sent"}, []string{"SM1:read"}},
		{"repeated delivered", []string{"sent", "delivered", "delivered"}, []string{"SM1:delivered"}},
		{"failed", []string{"sent", "failed"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
			// Record SM1 as sent to the phone, as Send does.
			if err := s.a.st.update(func(d *stateData) error { d.Sent["SM1"] = sentMessage{Phone: testPhone, At: time.Now()}; return nil }); err != nil {
				t.Fatal(err)
			}
			for _, st := range tt.order {
				p := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {st}, "SmsSid": {"SM1"}, "SmsStatus": {st}}
				if code := postTwilio(t, s, e.AuthToken(), "/status", p); code != http.StatusOK {
					t.Fatalf("status callback %s answered %d", st, code)
				}
			}
			if got := receipts(s.host); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("receipts %v, want %v", got, tt.want)
			}
			for _, ev := range s.host.all() {
				if ev.Consumer.ID != testPhone || ev.Address.ChatID != testPhone || ev.Receipt.MessageIDs[0] != "SM1" {
					t.Fatalf("receipt %+v", ev)
				}
			}
		})
	}
	t.Run("unsigned callback refused", func(t *testing.T) {
		s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
		res, err := http.PostForm(s.host.hook+"/status", url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "To": {testPhone}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || len(s.host.all()) != 0 {
			t.Fatalf("answered %d with %d events", res.StatusCode, len(s.host.all()))
		}
	})
}

// The emulator's shuffled callbacks for a real Send end in one delivered
// receipt naming the id Send returned.
func TestReceiptFromEmulator(t *testing.T) {
	for _, provider := range []string{"twilio", "vonage"} {
		t.Run(provider, func(t *testing.T) {
			e, base := newEmulator(t, emu.Options{Shuffle: true, Seed: 3})
			s := startAdapter(t, config(e, base, provider, nil), t.TempDir())
			res, err := s.a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: "k1", To: sdk.Address{ChatID: testPhone}, Text: "hello"})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for len(receipts(s.host)) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			got := receipts(s.host)
			if len(got) != 1 || got[0] != res.MessageIDs[0]+":delivered" {
				t.Fatalf("receipts %v for ids %v", got, res.MessageIDs)
			}
		})
	}
}

// STOP closes the conversation and refuses sends until START; the
// provider's 21610 also marks the number.
func TestOptOut(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
	if err := e.AddNumber(emu.Number{Provider: emu.Twilio, Number: twilioFrom, WebhookURL: s.host.hook}); err != nil {
		t.Fatal(err)
	}
	send := func() error {
		_, err := s.a.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: time.Now().String(), To: sdk.Address{ChatID: testPhone}, Text: "are you there?"})
		return err
	}
	if _, err := e.PhoneSend(testPhone, twilioFrom, " stop "); err != nil {
		t.Fatal(err)
	}
	evs := s.host.all()
	if len(evs) != 1 || evs[0].End == nil || !strings.Contains(evs[0].End.Reason, "STOP") {
		t.Fatalf("events after STOP: %+v", evs)
	}
	err := send()
	if sdk.KindOf(err) != sdk.KindPermanent || !errors.Is(err, ErrOptedOut) {
		t.Fatalf("send after STOP = %v", err)
	}
	if n := len(e.Outbound()); n != 0 {
		t.Fatalf("%d messages reached the provider after STOP", n)
	}
	if _, err := e.PhoneSend(testPhone, twilioFrom, "START"); err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil {
		t.Fatalf("send after START: %v", err)
	}
	// The provider refusing with 21610 (opted out elsewhere) is permanent
	// and marks the number too.
	if err := e.AddFault(emu.Fault{Provider: emu.Twilio, HTTPStatus: 400, Code: "21610", Message: "Attempt to send to unsubscribed recipient", Count: 1}); err != nil {
		t.Fatal(err)
	}
	if err := send(); sdk.KindOf(err) != sdk.KindPermanent {
		t.Fatalf("send refused with 21610 = %v", err)
	}
	if err := send(); !errors.Is(err, ErrOptedOut) {
		t.Fatalf("send after a 21610 = %v, want ErrOptedOut without calling the provider", err)
	}
}

func TestHelpText(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", map[string]any{"help_text": "Acme support. Reply STOP to opt out."}), t.TempDir())
	if err := e.AddNumber(emu.Number{Provider: emu.Twilio, Number: twilioFrom, WebhookURL: s.host.hook}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PhoneSend(testPhone, twilioFrom, "HELP"); err != nil {
		t.Fatal(err)
	}
	if n := len(s.host.all()); n != 0 {
		t.Fatalf("HELP delivered %d events; help_text answers it", n)
	}
	out := e.Outbound()
	if len(out) != 1 || out[0].Text != "Acme support. Reply STOP to opt out." || out[0].To != testPhone {
		t.Fatalf("outbound %+v", out)
	}
}

// Numbered options: the number or the option's text comes back as the
// choice; a message without options withdraws them.
func TestChoices(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
	if err := e.AddNumber(emu.Number{Provider: emu.Twilio, Number: twilioFrom, WebhookURL: s.host.hook}); err != nil {
		t.Fatal(err)
	}
	offer := func(key string, withChoices bool) {
		msg := sdk.OutboundMessage{IdempotencyKey: key, To: sdk.Address{ChatID: testPhone}, Text: "Pick a plan"}
		if withChoices {
			msg.QuickReplies = []sdk.Choice{{ID: "plan-basic", Text: "Basic"}, {ID: "plan-pro", Text: "Pro"}}
		}
		if _, err := s.a.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	answer := func(text string) *sdk.Message {
		if _, err := e.PhoneSend(testPhone, twilioFrom, text); err != nil {
			t.Fatal(err)
		}
		evs := s.host.all()
		return evs[len(evs)-1].Message
	}
	offer("o1", true)
	if out := e.Outbound(); out[len(out)-1].Text != "Pick a plan\n1. Basic\n2. Pro" {
		t.Fatalf("rendered %q", out[len(out)-1].Text)
	}
	if m := answer("2"); m.Choice == nil || m.Choice.ID != "plan-pro" || m.Text != "2" {
		t.Fatalf("answer 2 = %+v", m)
	}
	if m := answer("2"); m.Choice != nil {
		t.Fatalf("options are used once; got %+v", m.Choice)
	}
	offer("o2", true)
	if m := answer("basic"); m.Choice == nil || m.Choice.ID != "plan-basic" {
		t.Fatalf("answer basic = %+v", m)
	}
	offer("o3", true)
	if m := answer("7"); m.Choice != nil {
		t.Fatalf("out-of-range number chose %+v", m.Choice)
	}
	offer("o4", false) // e.g. a CSAT question: "1" must stay text
	if m := answer("1"); m.Choice != nil || m.Text != "1" {
		t.Fatalf("answer after a plain message = %+v", m)
	}
}

// A consumer may answer a question before the Send that carries it has
// returned (the provider took the SMS, its answer is still on the way
// back): the numbered reply must find the options of that question.
func TestAnswerWhileItsQuestionIsStillBeingSent(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var answered *sdk.Message
	var s *started
	answerEarly := func(*http.Response) error { // after the provider took the SMS, before the adapter hears so
		if answered == nil {
			if _, err := e.PhoneSend(testPhone, twilioFrom, "2"); err != nil {
				return err
			}
			evs := s.host.all()
			answered = evs[len(evs)-1].Message
		}
		return nil
	}
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }, ModifyResponse: answerEarly})
	t.Cleanup(proxy.Close)
	s = startAdapter(t, config(e, proxy.URL, "twilio", nil), t.TempDir())
	if err := e.AddNumber(emu.Number{Provider: emu.Twilio, Number: twilioFrom, WebhookURL: s.host.hook}); err != nil {
		t.Fatal(err)
	}
	msg := sdk.OutboundMessage{IdempotencyKey: "q1", To: sdk.Address{ChatID: testPhone}, Text: "Pick a plan",
		QuickReplies: []sdk.Choice{{ID: "plan-basic", Text: "Basic"}, {ID: "plan-pro", Text: "Pro"}}}
	if _, err := s.a.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if answered == nil || answered.Choice == nil || answered.Choice.ID != "plan-pro" {
		t.Fatalf("the answer given while its question was being sent = %+v; want the choice plan-pro", answered)
	}
}

// The core may offer the next question's options before the adapter has
// finished with the answer to the last (a survey: CSAT answered, FCR
// asked): using up the answered options must not take the new ones.
func TestNextOptionsOfferedWhileAnAnswerIsDelivered(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
	if err := e.AddNumber(emu.Number{Provider: emu.Twilio, Number: twilioFrom, WebhookURL: s.host.hook}); err != nil {
		t.Fatal(err)
	}
	ask := func(key, text string, options ...string) {
		msg := sdk.OutboundMessage{IdempotencyKey: key, To: sdk.Address{ChatID: testPhone}, Text: text}
		for _, o := range options {
			msg.QuickReplies = append(msg.QuickReplies, sdk.Choice{ID: key + ":" + o, Text: o})
		}
		if _, err := s.a.Send(context.Background(), msg); err != nil {
			t.Error(err)
		}
	}
	ask("csat", "Rate us", "1", "2", "3", "4", "5")
	s.host.mu.Lock()
	s.host.delivered = func(ev sdk.Event) {
		if ev.Message != nil && ev.Message.Choice != nil && ev.Message.Choice.ID == "csat:4" {
			ask("fcr", "Was your issue resolved?", "Yes", "No")
		}
	}
	s.host.mu.Unlock()
	answer := func(text string) *sdk.Message {
		if _, err := e.PhoneSend(testPhone, twilioFrom, text); err != nil {
			t.Fatal(err)
		}
		evs := s.host.all()
		return evs[len(evs)-1].Message
	}
	if m := answer("4"); m.Choice == nil || m.Choice.ID != "csat:4" {
		t.Fatalf("the CSAT answer = %+v", m)
	}
	if m := answer("1"); m.Choice == nil || m.Choice.ID != "fcr:Yes" {
		t.Fatalf("the answer to the question offered meanwhile = %+v; want fcr:Yes", m)
	}
}

// A duplicate MessageSid (Twilio retrying) is delivered with the same
// event id, which the core drops; the answer is TwiML both times.
func TestDuplicateInbound(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
	if err := e.AddNumber(emu.Number{Provider: emu.Twilio, Number: twilioFrom, WebhookURL: s.host.hook}); err != nil {
		t.Fatal(err)
	}
	sent, err := e.PhoneSend(testPhone, twilioFrom, "hello once")
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Replay(sent.IDs[0])
	if err != nil {
		t.Fatal(err)
	}
	empty := strings.TrimSpace(string(readTestdata(t, "twilio-twiml-empty.xml")))
	if d.StatusCode != 200 || d.Body != empty || sent.Deliveries[0].Body != empty {
		t.Fatalf("answers %+v / %+v", sent.Deliveries[0], d)
	}
	evs := s.host.all()
	if len(evs) != 2 || evs[0].ID != sent.IDs[0] || evs[1].ID != evs[0].ID {
		t.Fatalf("events %+v; want the MessageSid as the id both times", evs)
	}
}

// Inbound MMS media is fetched and passed on as files.
func TestInboundMMS(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
	if err := e.AddNumber(emu.Number{Provider: emu.Twilio, Number: twilioFrom, WebhookURL: s.host.hook}); err != nil {
		t.Fatal(err)
	}
	jpeg := []byte("\xff\xd8\xff\xe0fake-jpeg")
	if _, err := e.PhoneSend(testPhone, twilioFrom, "look", emu.Media{ContentType: "image/jpeg", Data: jpeg}); err != nil {
		t.Fatal(err)
	}
	evs := s.host.all()
	if len(evs) != 1 || evs[0].Message == nil || len(evs[0].Message.Media) != 1 {
		t.Fatalf("events %+v", evs)
	}
	m := evs[0].Message.Media[0]
	if m.Kind != sdk.MediaImage || m.ContentType != "image/jpeg" || string(m.Data) != string(jpeg) || m.FileName != "mms-1.jpg" || evs[0].Message.Text != "look" {
		t.Fatalf("media %+v text %q", m, evs[0].Message.Text)
	}
}

// Parts of a long Vonage message are reassembled, in any order, even when
// the adapter restarts between them.
func TestVonageConcatSurvivesRestart(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	dir := t.TempDir()
	cfg := config(e, base, "vonage", nil)
	post := func(s *started, part int, text string) {
		p := url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"ID" + string(rune('0'+part))},
			"text": {text}, "type": {"text"}, "concat": {"true"}, "concat-ref": {"42"}, "concat-total": {"3"}, "concat-part": {string(rune('0' + part))}}
		res, err := http.PostForm(s.host.hook+"?token="+vonageToken, p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("part %d answered %d", part, res.StatusCode)
		}
	}
	s1 := startAdapter(t, cfg, dir)
	post(s1, 3, "three.")
	post(s1, 1, "one, ")
	s1.a.Close(context.Background())
	if n := len(s1.host.all()); n != 0 {
		t.Fatalf("%d events before the last part", n)
	}
	s2 := startAdapter(t, cfg, dir)
	post(s2, 2, "two, ")
	evs := s2.host.all()
	if len(evs) != 1 || evs[0].Message.Text != "one, two, three." || evs[0].ID != "concat:ID1" || evs[0].Consumer.ID != "+447700900001" {
		t.Fatalf("events %+v", evs)
	}
}

func TestVonageTokenRequired(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "vonage", nil), t.TempDir())
	for _, q := range []string{"", "?token=wrong"} {
		res, err := http.Post(s.host.hook+q, "application/json", strings.NewReader(string(readTestdata(t, "vonage-inbound-sms.CONSTRUCTED.json"))))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || len(s.host.all()) != 0 {
			t.Fatalf("token %q: %d with %d events", q, res.StatusCode, len(s.host.all()))
		}
	}
}

// Agent images: a signed URL that serves the file until it expires; a
// changed id, signature or expiry gets 404.
func TestMediaURL(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
	now := time.Now()
	u, err := s.a.media.put(s.host.hook, []byte("PNGDATA"), "image/png", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	get := func(raw string) (int, string) {
		res, err := http.Get(raw)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(u); code != 200 || body != "PNGDATA" {
		t.Fatalf("signed url: %d %q", code, body)
	}
	pu, _ := url.Parse(u)
	q := pu.Query()
	tamper := func(k, v string) string {
		c := *pu
		q2 := url.Values{}
		for kk, vv := range q {
			q2[kk] = vv
		}
		q2.Set(k, v)
		c.RawQuery = q2.Encode()
		return c.String()
	}
	for name, bad := range map[string]string{
		"other sig":   tamper("sig", strings.Repeat("0", 64)),
		"longer life": tamper("exp", "99999999999"),
		"no sig":      tamper("sig", ""),
		"other id":    strings.Replace(u, "/media/", "/media/0", 1),
	} {
		if code, _ := get(bad); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", name, code)
		}
	}
	s.a.now = func() time.Time { return now.Add(2 * time.Hour) }
	if code, _ := get(u); code != http.StatusNotFound {
		t.Fatalf("expired url answered %d", code)
	}
}

// A long agent text is split; a retried Send resumes after the pieces
// that went out before a failure.
func TestSplitAndResume(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", map[string]any{"max_text_length": 160}), t.TempDir())
	text := strings.Repeat("A sentence of about forty characters. ", 10) // ~380 chars: 3 pieces
	msg := sdk.OutboundMessage{IdempotencyKey: "long-1", To: sdk.Address{ChatID: testPhone}, Text: text}
	// The second piece fails with 429 once.
	if err := e.AddFault(emu.Fault{Provider: emu.Twilio, HTTPStatus: 429, Code: "20429", Message: "Too Many Requests", Count: 1, Skip: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := s.a.Send(context.Background(), msg)
	if sdk.KindOf(err) != sdk.KindRetryAfter {
		t.Fatalf("send with 429 = %v", err)
	}
	if n := len(e.Outbound()); n != 1 {
		t.Fatalf("%d pieces out before the 429, want 1", n)
	}
	res, err := s.a.Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	out := e.Outbound()
	if len(res.MessageIDs) != 3 || len(out) != 3 {
		t.Fatalf("ids %v, outbound %d", res.MessageIDs, len(out))
	}
	var joined []string
	for _, m := range out {
		if n := len([]rune(m.Text)); n > 160 || !strings.HasSuffix(m.Text, ".") {
			t.Fatalf("piece of %d characters not cut at a sentence: %q", n, m.Text)
		}
		joined = append(joined, m.Text)
	}
	if strings.Join(joined, " ") != strings.TrimSpace(text) {
		t.Fatalf("pieces do not add up to the text")
	}
	// Now a retry of a Send whose progress is saved sends nothing again.
	again, err := s.a.Send(context.Background(), msg)
	if err != nil || strings.Join(again.MessageIDs, ",") != strings.Join(res.MessageIDs, ",") || len(e.Outbound()) != 3 {
		t.Fatalf("retried Send: %v %v, %d outbound", again.MessageIDs, err, len(e.Outbound()))
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		name, text string
		max        int
		want       []string
	}{
		{"short", "hello", 10, []string{"hello"}},
		{"paragraph", "first part here\n\nsecond part", 20, []string{"first part here", "second part"}},
		{"words", "aaaa bbbb cccc dddd", 10, []string{"aaaa bbbb", "cccc dddd"}},
		{"no spaces", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"runes not bytes", "ééééé ééééé", 6, []string{"ééééé", "ééééé"}},
		{"empty", "  ", 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitText(tt.text, tt.max)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("split = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyword(t *testing.T) {
	for text, want := range map[string]string{"STOP": "STOP", "stop": "STOP", " Unsubscribe ": "STOP", "stop.": "STOP",
		"STOP PLEASE": "", "start": "START", "YES": "START", "help": "HELP", "INFO": "HELP", "hello": ""} {
		if got := keyword(text, ""); got != want {
			t.Errorf("keyword(%q) = %q, want %q", text, got, want)
		}
	}
	if got := keyword("arrêt", "STOP"); got != "STOP" {
		t.Errorf("OptOutType=STOP not honoured: %q", got)
	}
}

// Media that cannot be fetched does not lose the message: its text is
// delivered with a note.
func TestInboundMMSFetchFailure(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
	p := mustForm(t, "twilio-inbound-mms-docvalues.CONSTRUCTED.form")
	p.Set("MediaUrl0", base+"/2010-04-01/Accounts/"+e.AccountSID()+"/Messages/MMnone/Media/MEnone")
	if code := postTwilio(t, s, e.AuthToken(), "", p); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	evs := s.host.all()
	if len(evs) != 1 || len(evs[0].Message.Media) != 0 ||
		evs[0].Message.Text != "Ahoy! Let's build something amazing.\n[an attachment could not be fetched]" {
		t.Fatalf("events %+v", evs)
	}
}

// Nothing is acknowledged before the core stored it: a failing Deliver
// answers 503 (the provider retries) and keeps no receipt progress.
func TestNotAcknowledgedWhenNotStored(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
	s.host.setErr(errors.New("store is down"))
	p := url.Values{"MessageSid": {"SMx"}, "From": {testPhone}, "To": {twilioFrom}, "Body": {"hi"}}
	if code := postTwilio(t, s, e.AuthToken(), "", p); code != http.StatusServiceUnavailable {
		t.Fatalf("inbound answered %d", code)
	}
	st := url.Values{"MessageSid": {"SMy"}, "MessageStatus": {"delivered"}, "To": {testPhone}}
	if code := postTwilio(t, s, e.AuthToken(), "/status", st); code != http.StatusServiceUnavailable {
		t.Fatalf("status answered %d", code)
	}
	s.host.setErr(nil)
	if code := postTwilio(t, s, e.AuthToken(), "/status", st); code != http.StatusOK || len(receipts(s.host)) != 1 {
		t.Fatalf("retried status: %d, receipts %v", code, receipts(s.host))
	}
}

// A signed webhook whose MediaUrl points into the brand's network (here
// another port on this machine, standing in for an internal service) is
// not fetched: the message arrives with a note and the internal service
// sees no request. allow_hosts and allow_networks open exactly that place.
func TestInboundMediaCannotReachInternalServices(t *testing.T) {
	var hits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write([]byte("internal"))
	}))
	t.Cleanup(internal.Close)
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	for _, u := range []string{internal.URL + "/admin", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"} {
		s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
		p := mustForm(t, "twilio-inbound-mms-docvalues.CONSTRUCTED.form")
		p.Set("MediaUrl0", u)
		if code := postTwilio(t, s, e.AuthToken(), "", p); code != http.StatusOK {
			t.Fatalf("%s: answered %d", u, code)
		}
		evs := s.host.all()
		if len(evs) != 1 || len(evs[0].Message.Media) != 0 || !strings.HasSuffix(evs[0].Message.Text, "[an attachment could not be fetched]") {
			t.Fatalf("%s: events %+v", u, evs)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal service got %d requests", n)
	}

	host := strings.TrimPrefix(internal.URL, "http://")
	allow := map[string]any{"allow_hosts": []string{host}, "allow_networks": []string{"127.0.0.1/32"}}
	s := startAdapter(t, config(e, base, "twilio", map[string]any{"downloads": allow}), t.TempDir())
	p := mustForm(t, "twilio-inbound-mms-docvalues.CONSTRUCTED.form")
	p.Set("MediaUrl0", internal.URL+"/media")
	// Twilio's media is https; allowing the host does not allow plain http.
	if code := postTwilio(t, s, e.AuthToken(), "", p); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	if evs := s.host.all(); len(evs) != 1 || len(evs[0].Message.Media) != 0 || hits.Load() != 0 {
		t.Fatalf("plain http to an allowed host: events %+v, %d hits", evs, hits.Load())
	}
	allow["allow_schemes"] = []string{"http"}
	s = startAdapter(t, config(e, base, "twilio", map[string]any{"downloads": allow}), t.TempDir())
	if code := postTwilio(t, s, e.AuthToken(), "", p); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	if evs := s.host.all(); len(evs) != 1 || len(evs[0].Message.Media) != 1 || string(evs[0].Message.Media[0].Data) != "internal" {
		t.Fatalf("allowed by config: events %+v", evs)
	}
}
