package sms

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	svcTwilio = "+14155550100"
	svcVonage = "+447700900000"
	phone     = "+14155552345"
)

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
	t.Cleanup(func() { srv.Close(); e.Close() })
	e.SetBaseURL(srv.URL)
	return e, srv.URL
}

// hook records the requests the emulator makes.
type hook struct {
	mu     sync.Mutex
	reqs   []recorded
	status int
	body   string
	srv    *httptest.Server
}

type recorded struct {
	method, url, sig, ctype string
	form                    url.Values
	raw                     string
}

func newHook(t *testing.T, status int, body string) *hook {
	h := &hook{status: status, body: body}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		if r.Method == http.MethodGet {
			form = r.URL.Query()
		}
		h.mu.Lock()
		h.reqs = append(h.reqs, recorded{r.Method, "http://" + r.Host + r.URL.RequestURI(), r.Header.Get("X-Twilio-Signature"), r.Header.Get("Content-Type"), form, string(b)})
		st, bd := h.status, h.body
		h.mu.Unlock()
		w.WriteHeader(st)
		io.WriteString(w, bd)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) all() []recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]recorded(nil), h.reqs...)
}

func (h *hook) waitN(t *testing.T, n int) []recorded {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(h.all()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d webhook requests, want %d", len(h.all()), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return h.all()
}

func TestSignKnownVector(t *testing.T) {
	p := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"}, "From": {"+12349013030"}, "To": {"+18005551212"}}
	if got := Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", p); got != "0/KCTR6DLpKmkAf8muzZqo1nDgQ=" {
		t.Fatalf("Sign = %s", got)
	}
}

// The inbound webhook carries every parameter of the documented form,
// signed for the exact configured URL (query included), and TwiML in the
// answer reaches the phone.
func TestTwilioInboundWebhook(t *testing.T) {
	e, _ := newTest(t, Options{})
	reply, _ := os.ReadFile(filepath.Join("testdata", "twilio-twiml-reply.xml"))
	h := newHook(t, 200, string(reply))
	target := h.srv.URL + "/sms?route=a%20b"
	if err := e.AddNumber(Number{Provider: Twilio, Number: svcTwilio, WebhookURL: target}); err != nil {
		t.Fatal(err)
	}
	sent, err := e.PhoneSend(phone, svcTwilio, "Ahoy!", Media{ContentType: "image/png", Data: []byte("png")})
	if err != nil || sent.Deliveries[0].Err != "" {
		t.Fatalf("PhoneSend = %+v, %v", sent, err)
	}
	r := h.all()[0]
	if r.method != http.MethodPost || r.ctype != "application/x-www-form-urlencoded" || r.url != target {
		t.Fatalf("request %+v", r)
	}
	if r.sig != Sign(e.AuthToken(), target, r.form) {
		t.Fatalf("signature %s is not over the configured URL", r.sig)
	}
	sample, _ := os.ReadFile(filepath.Join("testdata", "twilio-inbound-mms-docvalues.CONSTRUCTED.form"))
	want, _ := url.ParseQuery(strings.TrimSpace(string(sample)))
	for k := range want {
		if k == "MessagingServiceSid" {
			continue // only for numbers in a service
		}
		if _, ok := r.form[k]; !ok {
			t.Errorf("parameter %s of the documented form is missing", k)
		}
	}
	if !strings.HasPrefix(r.form.Get("MessageSid"), "MM") || len(r.form.Get("MessageSid")) != 34 || r.form.Get("From") != phone {
		t.Fatalf("form %v", r.form)
	}
	res, err := http.Get(r.form.Get("MediaUrl0"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "png" || res.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("media %q %s", b, res.Header.Get("Content-Type"))
	}
	if got := e.Received(phone); len(got) != 1 || got[0].Text != "Hello World!" {
		t.Fatalf("TwiML reply not received: %+v", got)
	}
}

func TestTwilioMessagesAPI(t *testing.T) {
	e, base := newTest(t, Options{})
	if err := e.AddNumber(Number{Provider: Twilio, Number: svcTwilio}); err != nil {
		t.Fatal(err)
	}
	post := func(auth bool, form url.Values) (int, map[string]any, http.Header) {
		req, _ := http.NewRequest(http.MethodPost, base+"/2010-04-01/Accounts/"+e.AccountSID()+"/Messages.json", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth {
			req.SetBasicAuth(e.AccountSID(), e.AuthToken())
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m, res.Header
	}
	ok := url.Values{"To": {phone}, "From": {svcTwilio}, "Body": {"Hello!"}}
	tests := []struct {
		name   string
		auth   bool
		form   url.Values
		status int
		code   float64
	}{
		{"no auth", false, ok, 401, 20003},
		{"no To", true, url.Values{"From": {svcTwilio}, "Body": {"x"}}, 400, 21201},
		{"bad To", true, url.Values{"To": {"12"}, "From": {svcTwilio}, "Body": {"x"}}, 400, 21211},
		{"no From", true, url.Values{"To": {phone}, "Body": {"x"}}, 400, 21603},
		{"not our From", true, url.Values{"To": {phone}, "From": {"+15550001111"}, "Body": {"x"}}, 400, 21606},
		{"no Body", true, url.Values{"To": {phone}, "From": {svcTwilio}}, 400, 21619},
		{"Body too long", true, url.Values{"To": {phone}, "From": {svcTwilio}, "Body": {strings.Repeat("x", 1601)}}, 400, 21617},
		{"created", true, ok, 201, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := post(tt.auth, tt.form)
			if status != tt.status {
				t.Fatalf("status %d, want %d (%v)", status, tt.status, body)
			}
			if tt.code != 0 && (body["code"] != tt.code || body["message"] == "" || body["more_info"] == nil || body["status"] != float64(tt.status)) {
				t.Fatalf("error body %v", body)
			}
			if tt.status == 201 {
				sample, _ := os.ReadFile(filepath.Join("testdata", "twilio-message-create-response.json"))
				var want map[string]any
				json.Unmarshal(sample, &want)
				for k := range want {
					if _, ok := body[k]; !ok {
						t.Errorf("field %s of the documented response is missing", k)
					}
				}
				if body["status"] != "queued" || !strings.HasPrefix(body["sid"].(string), "SM") {
					t.Fatalf("created %v", body)
				}
			}
		})
	}
	t.Run("scripted 429", func(t *testing.T) {
		e.AddFault(Fault{Provider: Twilio, HTTPStatus: 429, Code: "20429", Message: "Too Many Requests", RetryAfter: 3, Count: 1})
		status, body, h := post(true, ok)
		if status != 429 || body["code"] != float64(20429) || h.Get("Retry-After") != "3" {
			t.Fatalf("%d %v %v", status, body, h)
		}
		if status, _, _ := post(true, ok); status != 201 {
			t.Fatalf("fault outlived its count: %d", status)
		}
	})
	t.Run("21610 after STOP, until START", func(t *testing.T) {
		e.AddNumber(Number{Provider: Twilio, Number: svcTwilio, WebhookURL: newHook(t, 200, "<Response/>").srv.URL})
		e.PhoneSend(phone, svcTwilio, "STOP")
		if status, body, _ := post(true, ok); status != 400 || body["code"] != float64(21610) {
			t.Fatalf("%d %v", status, body)
		}
		e.PhoneSend(phone, svcTwilio, "start")
		if status, _, _ := post(true, ok); status != 201 {
			t.Fatalf("after START: %d", status)
		}
		var replies int
		for _, m := range e.Received(phone) {
			if m.AutoReply {
				replies++
			}
		}
		if replies != 2 {
			t.Fatalf("%d standard replies, want 2 (STOP, START)", replies)
		}
	})
}

// Status callbacks: no callback for the initial status, then sent and
// delivered (any order with Shuffle), each signed for the callback URL;
// the media the MMS names is fetched and reaches the phone.
func TestTwilioStatusCallbacks(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		t.Run(map[bool]string{false: "in order", true: "shuffled"}[shuffle], func(t *testing.T) {
			e, base := newTest(t, Options{Shuffle: shuffle, Seed: 2})
			e.AddNumber(Number{Provider: Twilio, Number: svcTwilio})
			cb := newHook(t, 200, "")
			media := newHook(t, 200, "GIF89a")
			form := url.Values{"To": {phone}, "From": {svcTwilio}, "Body": {"pic"}, "MediaUrl": {media.srv.URL + "/m.gif"}, "StatusCallback": {cb.srv.URL + "/status?x=1"}}
			req, _ := http.NewRequest(http.MethodPost, base+"/2010-04-01/Accounts/"+e.AccountSID()+"/Messages.json", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(e.AccountSID(), e.AuthToken())
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 201 {
				t.Fatalf("create: %v %v", res, err)
			}
			res.Body.Close()
			reqs := cb.waitN(t, 2)
			var statuses []string
			for _, r := range reqs {
				if r.sig != Sign(e.AuthToken(), cb.srv.URL+"/status?x=1", r.form) || r.form.Get("To") != phone || r.form.Get("AccountSid") != e.AccountSID() {
					t.Fatalf("callback %+v", r)
				}
				statuses = append(statuses, r.form.Get("MessageStatus"))
			}
			sort.Strings(statuses)
			if strings.Join(statuses, ",") != "delivered,sent" {
				t.Fatalf("statuses %v", statuses)
			}
			got, err := e.WaitReceived(context.Background(), phone, 1)
			if err != nil || len(got[0].Media) != 1 || string(got[0].Media[0].Data) != "GIF89a" {
				t.Fatalf("phone got %+v %v", got, err)
			}
		})
	}
}

func TestVonageSendAndReceipts(t *testing.T) {
	e, base := newTest(t, Options{VonageFormat: "form"})
	dlr := newHook(t, 204, "")
	e.AddNumber(Number{Provider: Vonage, Number: svcVonage, StatusURL: dlr.srv.URL + "/dlr?token=t"})
	send := func(form url.Values) map[string]any {
		res, err := http.PostForm(base+"/sms/json", form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("http %d", res.StatusCode)
		}
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return m
	}
	creds := func(v url.Values) url.Values {
		v.Set("api_key", e.VonageAPIKey())
		v.Set("api_secret", e.VonageAPISecret())
		return v
	}
	status := func(m map[string]any) string { return m["messages"].([]any)[0].(map[string]any)["status"].(string) }
	if s := status(send(url.Values{"api_key": {"x"}, "api_secret": {"y"}, "from": {"447700900000"}, "to": {"447700900001"}, "text": {"x"}})); s != "4" {
		t.Fatalf("bad credentials: status %s", s)
	}
	if s := status(send(creds(url.Values{"from": {"447700900000"}, "text": {"x"}}))); s != "2" {
		t.Fatalf("missing to: status %s", s)
	}
	if s := status(send(creds(url.Values{"from": {"447700900999"}, "to": {"447700900001"}, "text": {"x"}}))); s != "15" {
		t.Fatalf("not our number: status %s", s)
	}
	long := strings.Repeat("0123456789", 40) // 400 GSM characters: 3 parts
	m := send(creds(url.Values{"from": {"447700900000"}, "to": {"447700900001"}, "text": {long}, "type": {"text"}}))
	if m["message-count"] != "3" || len(m["messages"].([]any)) != 3 {
		t.Fatalf("response %v", m)
	}
	sample, _ := os.ReadFile(filepath.Join("testdata", "vonage-send-response.CONSTRUCTED.json"))
	var want struct {
		Messages []map[string]any `json:"messages"`
	}
	json.Unmarshal(sample, &want)
	for k := range want.Messages[0] {
		if _, ok := m["messages"].([]any)[0].(map[string]any)[k]; !ok {
			t.Errorf("field %s of the documented response is missing", k)
		}
	}
	reqs := dlr.waitN(t, 6) // accepted + delivered for each of 3 parts
	dlrSample, _ := os.ReadFile(filepath.Join("testdata", "vonage-dlr.json"))
	var dlrWant map[string]any
	json.Unmarshal(dlrSample, &dlrWant)
	for _, r := range reqs {
		if r.form.Get("token") != "" || !strings.Contains(r.url, "token=t") {
			t.Fatalf("DLR url %s", r.url)
		}
		for k := range dlrWant {
			if _, ok := r.form[k]; !ok {
				t.Errorf("DLR lacks %s", k)
			}
		}
	}
	if got, _ := e.WaitReceived(context.Background(), "+447700900001", 1); got[0].Text != long {
		t.Fatalf("phone got %+v", got)
	}
}

// A long message from a phone arrives as concatenated parts with the
// documented fields, retried until answered 200/204.
func TestVonageInboundParts(t *testing.T) {
	e, _ := newTest(t, Options{})
	h := newHook(t, 200, "")
	e.AddNumber(Number{Provider: Vonage, Number: svcVonage, WebhookURL: h.srv.URL + "/in?token=t"})
	text := strings.Repeat("abcdefghij", 20) // 200 characters: 2 parts of ≤153
	sent, err := e.PhoneSend("+447700900001", svcVonage, text)
	if err != nil || len(sent.IDs) != 2 {
		t.Fatalf("%+v %v", sent, err)
	}
	sample, _ := os.ReadFile(filepath.Join("testdata", "vonage-inbound-sms-concat-part.CONSTRUCTED.json"))
	var want map[string]any
	json.Unmarshal(sample, &want)
	var joined string
	for i, r := range h.all() {
		if r.ctype != "application/json" {
			t.Fatalf("content type %s", r.ctype)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(r.raw), &got); err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if _, ok := got[k]; !ok {
				t.Errorf("part lacks %s", k)
			}
		}
		if got["concat-part"] != []string{"1", "2"}[i] || got["msisdn"] != "447700900001" {
			t.Fatalf("part %v", got)
		}
		joined += got["text"].(string)
	}
	if joined != text {
		t.Fatalf("parts do not add up")
	}

	bad := newHook(t, 500, "")
	e.AddNumber(Number{Provider: Vonage, Number: svcVonage, WebhookURL: bad.srv.URL})
	if _, err := e.PhoneSend("+447700900001", svcVonage, "hi"); err != nil {
		t.Fatal(err)
	}
	if n := len(bad.all()); n != 3 {
		t.Fatalf("%d attempts at a failing webhook, want 3", n)
	}
}

func TestControlAPI(t *testing.T) {
	e, base := newTest(t, Options{})
	h := newHook(t, 200, "<Response></Response>")
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := do("POST", "/fake/sms/api/numbers", `{"provider":"twilio","number":"`+svcTwilio+`","webhook_url":"`+h.srv.URL+`"}`); code != 200 {
		t.Fatalf("add number: %d %s", code, body)
	}
	if code, body := do("POST", "/fake/sms/api/phones/"+url.PathEscape(phone)+"/messages", `{"to":"`+svcTwilio+`","text":"hello","media":[{"content_type":"image/png","data":"UE5H"}]}`); code != 200 || !strings.Contains(body, `"ids"`) {
		t.Fatalf("phone send: %d %s", code, body)
	}
	if got := h.all(); len(got) != 1 || got[0].form.Get("Body") != "hello" || got[0].form.Get("NumMedia") != "1" {
		t.Fatalf("webhook %+v", got)
	}
	if code, _ := do("POST", "/fake/sms/api/phones/"+url.PathEscape(phone)+"/messages", `{"to":"+19999999999","text":"x"}`); code != 404 {
		t.Fatalf("unknown number: %d", code)
	}
	if code, _ := do("POST", "/fake/sms/api/faults", `{"provider":"twilio","http_status":500,"count":0}`); code != 400 {
		t.Fatalf("bad fault: %d", code)
	}
	if code, body := do("GET", "/fake/sms/api/deliveries", ""); code != 200 || !strings.Contains(body, `"inbound"`) {
		t.Fatalf("deliveries: %d %s", code, body)
	}
	if code, _ := do("POST", "/fake/sms/api/reset", ""); code != 200 || len(e.Deliveries()) != 0 {
		t.Fatalf("reset: %d", code)
	}
	if code, body := do("GET", "/fake/sms/api/phones/"+url.PathEscape(phone)+"/messages", ""); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("received after reset: %d %s", code, body)
	}
}

func TestRunCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- RunCommand(ctx, []string{"-listen", "127.0.0.1:0", "-number", "twilio:+14155550100:http://127.0.0.1:1/hook"}, &syncWriter{w: &out}, &errb)
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := RunCommand(context.Background(), []string{"-number", "sinch:+1:x"}, &out, &errb); err == nil {
		t.Fatal("bad -number accepted")
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Messages are resources: fetched by SID and listed (newest first, by To
// and From, paged as Twilio pages), in both directions; what is not there
// is a JSON 404 with code 20404, as Twilio's SDKs expect.
func TestTwilioMessageResources(t *testing.T) {
	e, base := newTest(t, Options{})
	if err := e.AddNumber(Number{Provider: Twilio, Number: svcTwilio, WebhookURL: newHook(t, 200, "<Response/>").srv.URL}); err != nil {
		t.Fatal(err)
	}
	api := base + "/2010-04-01/Accounts/" + e.AccountSID()
	call := func(method, path string, form url.Values, auth bool) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, api+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth {
			req.SetBasicAuth(e.AccountSID(), e.AuthToken())
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q", method, path, ct)
		}
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return res.StatusCode, m
	}
	var sids []string
	for _, text := range []string{"one", "two", "three"} {
		status, m := call(http.MethodPost, "/Messages.json", url.Values{"To": {phone}, "From": {svcTwilio}, "Body": {text}}, true)
		if status != 201 {
			t.Fatalf("create: %d %v", status, m)
		}
		sids = append(sids, m["sid"].(string))
	}
	if _, err := e.PhoneSend(phone, svcTwilio, "from the phone"); err != nil {
		t.Fatal(err)
	}

	status, m := call(http.MethodGet, "/Messages/"+sids[1]+".json", nil, true)
	if status != 200 || m["sid"] != sids[1] || m["body"] != "two" || m["direction"] != "outbound-api" || m["to"] != phone {
		t.Fatalf("fetch: %d %v", status, m)
	}
	status, m = call(http.MethodGet, "/Messages/SM00000000000000000000000000000000.json", nil, true)
	if status != 404 || m["code"] != float64(20404) || m["status"] != float64(404) || m["more_info"] != "https://www.twilio.com/docs/errors/20404" ||
		!strings.Contains(m["message"].(string), "was not found") {
		t.Fatalf("unknown sid: %d %v", status, m)
	}
	if status, m = call(http.MethodGet, "/Messages/"+sids[0]+".json", nil, false); status != 401 || m["code"] != float64(20003) {
		t.Fatalf("fetch without credentials: %d %v", status, m)
	}

	status, m = call(http.MethodGet, "/Messages.json?PageSize=2", nil, true)
	list := func(m map[string]any) []string {
		var out []string
		for _, x := range m["messages"].([]any) {
			out = append(out, x.(map[string]any)["body"].(string))
		}
		return out
	}
	if status != 200 || strings.Join(list(m), "|") != "from the phone|three" || m["page_size"] != float64(2) || m["next_page_uri"] == nil {
		t.Fatalf("first page: %d %v", status, m)
	}
	next := strings.TrimPrefix(m["next_page_uri"].(string), "/2010-04-01/Accounts/"+e.AccountSID())
	status, m = call(http.MethodGet, next, nil, true)
	if status != 200 || strings.Join(list(m), "|") != "two|one" || m["next_page_uri"] != nil || m["page"] != float64(1) {
		t.Fatalf("second page: %d %v", status, m)
	}
	status, m = call(http.MethodGet, "/Messages.json?"+url.Values{"From": {phone}}.Encode(), nil, true)
	if status != 200 || strings.Join(list(m), "|") != "from the phone" || m["messages"].([]any)[0].(map[string]any)["direction"] != "inbound" {
		t.Fatalf("by From: %d %v", status, m)
	}
	if status, m = call(http.MethodGet, "/Calls.json", nil, true); status != 404 || m["code"] != float64(20404) {
		t.Fatalf("another resource: %d %v", status, m)
	}
}

// A send as @vonage/server-sdk makes it: a JSON body, the credentials in
// a Basic Authorization header; wrong credentials there are refused too.
func TestVonageSendJSONWithBasicAuth(t *testing.T) {
	e, base := newTest(t, Options{})
	e.AddNumber(Number{Provider: Vonage, Number: svcVonage})
	send := func(user, pass string, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/sms/json", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return m["messages"].([]any)[0].(map[string]any)
	}
	body := `{"from":"447700900000","to":"447700900001","text":"hello from the SDK","status-report-req":true,"ttl":86400000}`
	if m := send(e.VonageAPIKey(), e.VonageAPISecret(), body); m["status"] != "0" || m["message-id"] == "" {
		t.Fatalf("JSON with Basic auth: %v", m)
	}
	if m := send(e.VonageAPIKey(), "wrong", body); m["status"] != "4" {
		t.Fatalf("wrong secret in Basic auth: %v", m)
	}
	if got, _ := e.WaitReceived(context.Background(), "+447700900001", 1); got[0].Text != "hello from the SDK" {
		t.Fatalf("phone got %+v", got)
	}
}

// Signed Vonage webhooks: the documented string to sign, computed here by
// hand (the contract tests check it with @vonage/server-sdk).
func TestVonageSign(t *testing.T) {
	p := url.Values{"text": {"a&b=c"}, "msisdn": {"447700900001"}, "sig": {"ignored"}}
	const signed = "&msisdn=447700900001&text=a_b_c"
	md5sum := md5.Sum([]byte(signed + "secret"))
	if got := VonageSign(p, "secret", "md5hash"); got != hex.EncodeToString(md5sum[:]) {
		t.Errorf("md5hash: %s", got)
	}
	m := hmac.New(sha256.New, []byte("secret"))
	m.Write([]byte(signed))
	if got := VonageSign(p, "secret", "sha256"); got != hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("sha256: %s", got)
	}
	e, _ := newTest(t, Options{VonageSignatureSecret: "secret", VonageSignatureMethod: "sha256"})
	h := newHook(t, 204, "")
	e.AddNumber(Number{Provider: Vonage, Number: svcVonage, WebhookURL: h.srv.URL + "/in"})
	if _, err := e.PhoneSend(phone, svcVonage, "hi"); err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(h.waitN(t, 1)[0].raw), &body); err != nil {
		t.Fatal(err)
	}
	q := url.Values{}
	for k, v := range body {
		q.Set(k, v)
	}
	if body["timestamp"] == "" || body["sig"] != VonageSign(q, "secret", "sha256") {
		t.Fatalf("signed inbound %v", body)
	}
}
