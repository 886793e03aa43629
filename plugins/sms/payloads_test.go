package sms

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// The documented inbound forms (samples/twilio) read as inbound messages.
func TestTwilioInboundSamples(t *testing.T) {
	tw := &twilio{}
	tests := []struct {
		file, id, from, text string
		media                []mediaRef
	}{
		{"twilio-inbound-mms.form", "SMe287d7109a5a925f182f0e07fe5b223b", "+14133881111", "",
			[]mediaRef{{URL: "cat.jpg"}, {URL: "dog.jpg"}}},
		{"twilio-inbound-mms-docvalues.CONSTRUCTED.form", "MMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "+14017122661", "Ahoy! Let's build something amazing.",
			[]mediaRef{{URL: "https://api.twilio.com/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages/MMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Media/MEXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", ContentType: "image/jpeg"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := url.ParseQuery(strings.TrimSpace(string(readTestdata(t, tt.file))))
			if err != nil {
				t.Fatal(err)
			}
			in, err := tw.inbound(p)
			if err != nil {
				t.Fatal(err)
			}
			if in.ID != tt.id || in.From != tt.from || in.Text != tt.text {
				t.Fatalf("got id %q from %q text %q", in.ID, in.From, in.Text)
			}
			if len(in.Media) != len(tt.media) {
				t.Fatalf("media %+v, want %+v", in.Media, tt.media)
			}
			for i := range tt.media {
				if in.Media[i] != tt.media[i] {
					t.Fatalf("media[%d] = %+v, want %+v", i, in.Media[i], tt.media[i])
				}
			}
		})
	}
}

func TestTwilioStatusSamples(t *testing.T) {
	tw := &twilio{}
	sentDocs := url.Values{}
	for _, line := range strings.Split(strings.TrimSpace(string(readTestdata(t, "twilio-status-callback-sent-docs.txt"))), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		sentDocs.Set(strings.Trim(k, `"`), strings.Trim(v, `"`))
	}
	tests := []struct {
		name              string
		params            url.Values
		id, status, phone string
		errCode           string
	}{
		{"delivered minimal", mustForm(t, "twilio-status-callback-delivered-minimal.form"), "SMe287d7109a5a925f182f0e07fe5b223b", "delivered", "", ""},
		{"failed 21610", mustForm(t, "twilio-status-callback-failed-21610.form"), "SMe287d7109a5a925f182f0e07fe5b223b", "failed", "+12028831111", "21610"},
		{"sent via service", mustForm(t, "twilio-status-callback-sent-messaging-service.form"), "SM0b6e2697aae04182a9f5b5c7a8994c7f", "sent", "2021", ""},
		{"sent (docs)", sentDocs, "SM1342fe1b2c904d1ab04f0fc7a58abca9", "sent", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tw.status(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if s.ID != tt.id || s.Status != tt.status || s.Phone != tt.phone || s.ErrorCode != tt.errCode {
				t.Fatalf("got %+v", s)
			}
		})
	}
}

func mustForm(t *testing.T, name string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(strings.TrimSpace(string(readTestdata(t, name))))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Twilio's documented answers, served by a fake API, become the right
// sdk error kinds (or the created message's sid).
func TestTwilioSendAnswers(t *testing.T) {
	tests := []struct {
		file       string
		status     int
		retryAfter string
		wantKind   sdk.ErrorKind
		wantDelay  time.Duration
		wantIDs    string
		optedOut   bool
	}{
		{"twilio-message-create-response.json", 201, "", 0, 0, "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"twilio-error-21610.CONSTRUCTED.json", 400, "", sdk.KindPermanent, 0, "", true},
		{"twilio-error-429-20429.CONSTRUCTED.json", 429, "", sdk.KindRetryAfter, time.Second, "", false},
		{"twilio-error-429-20429.CONSTRUCTED.json", 429, "7", sdk.KindRetryAfter, 7 * time.Second, "", false},
		{"twilio-error-400-21201.json", 400, "", sdk.KindPermanent, 0, "", false},
		{"twilio-error-404.json", 404, "", sdk.KindPermanent, 0, "", false},
		{"twilio-error-sdk-test.json", 400, "", sdk.KindPermanent, 0, "", false},
		{"twilio-error-sdk-test.json", 503, "", sdk.KindTransient, 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+http.StatusText(tt.status)+tt.retryAfter, func(t *testing.T) {
			body := readTestdata(t, tt.file)
			var got url.Values
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if u, p, ok := r.BasicAuth(); !ok || u != "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" || p != "tok" {
					t.Errorf("basic auth %q %q %v", u, p, ok)
				}
				if r.URL.Path != "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json" {
					t.Errorf("path %s", r.URL.Path)
				}
				r.ParseForm()
				got = r.PostForm
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				w.Write(body)
			}))
			defer srv.Close()
			tw := &twilio{base: srv.URL, accountSID: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", authToken: "tok", from: "+14155550100", http: srv.Client(), timeout: 5 * time.Second}
			ids, err := tw.send(context.Background(), outboundSMS{To: "+14155552345", Text: "Hello!", MediaURLs: []string{"https://example.com/a.jpg", "https://example.com/b.png"}, StatusCallback: "https://app.example.com/twilio/status"})
			if got.Get("To") != "+14155552345" || got.Get("From") != "+14155550100" || got.Get("Body") != "Hello!" ||
				len(got["MediaUrl"]) != 2 || got.Get("StatusCallback") != "https://app.example.com/twilio/status" {
				t.Fatalf("request form %v", got)
			}
			if tt.wantIDs != "" {
				if err != nil || len(ids) != 1 || ids[0] != tt.wantIDs {
					t.Fatalf("send = %v, %v", ids, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("send succeeded with %v", ids)
			}
			if k := sdk.KindOf(err); k != tt.wantKind {
				t.Fatalf("kind %v, want %v (%v)", k, tt.wantKind, err)
			}
			if d, _ := sdk.RetryDelay(err); d != tt.wantDelay {
				t.Fatalf("delay %v, want %v", d, tt.wantDelay)
			}
			if optedOut(err) != tt.optedOut {
				t.Fatalf("optedOut = %v", optedOut(err))
			}
		})
	}
}

func TestVonageSamples(t *testing.T) {
	v := &vonage{}
	jsonReq := func(name string) url.Values {
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(readTestdata(t, name)))
		r.Header.Set("Content-Type", "application/json")
		p, err := v.params(r, readTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("inbound", func(t *testing.T) {
		in, err := v.inbound(jsonReq("vonage-inbound-sms.CONSTRUCTED.json"))
		if err != nil {
			t.Fatal(err)
		}
		if in.ID != "0A0000000123ABCD1" || in.From != "+447700900001" || in.Text != "Hello world" || in.Concat != nil ||
			!in.At.Equal(time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)) {
			t.Fatalf("got %+v", in)
		}
	})
	t.Run("concat part", func(t *testing.T) {
		in, err := v.inbound(jsonReq("vonage-inbound-sms-concat-part.CONSTRUCTED.json"))
		if err != nil {
			t.Fatal(err)
		}
		if in.Concat == nil || *in.Concat != (concatPart{Ref: "1", Total: 3, Part: 2}) || in.Text != "part two of a long message" {
			t.Fatalf("got %+v %+v", in, in.Concat)
		}
	})
	t.Run("dlr", func(t *testing.T) {
		s, err := v.status(jsonReq("vonage-dlr.json"))
		if err != nil {
			t.Fatal(err)
		}
		if s != (statusReport{ID: "0B00000127FDBC63", Status: "delivered", Phone: "+447547232824", ErrorCode: "0"}) {
			t.Fatalf("got %+v", s)
		}
	})
	t.Run("form and query formats", func(t *testing.T) {
		form := "msisdn=447700900001&to=447700900000&messageId=X1&text=Hi&type=text"
		r := httptest.NewRequest(http.MethodPost, "/hook?token=t", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		p, err := v.params(r, []byte(form))
		if err != nil || p.Get("messageId") != "X1" || p.Get("token") != "t" {
			t.Fatalf("form: %v %v", p, err)
		}
		r = httptest.NewRequest(http.MethodGet, "/hook?"+form, nil)
		p, err = v.params(r, nil)
		if err != nil || p.Get("text") != "Hi" {
			t.Fatalf("get: %v %v", p, err)
		}
	})
}

func TestVonageSendAnswers(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		wantKind   sdk.ErrorKind
		wantIDs    []string
	}{
		{"constructed ok", string(mustRead(t, "vonage-send-response.CONSTRUCTED.json")), 200, 0, []string{"0A0000000123ABCD1"}},
		{"observed ok", string(mustRead(t, "vonage-send-response-observed.json")), 200, 0, []string{"0500000004E3EC35"}},
		{"two parts", `{"message-count":"2","messages":[{"message-id":"A","status":"0"},{"message-id":"B","status":"0"}]}`, 200, 0, []string{"A", "B"}},
		{"missing param", string(mustRead(t, "vonage-send-error.CONSTRUCTED.json")), 200, sdk.KindPermanent, nil},
		{"throttled", `{"message-count":"1","messages":[{"status":"1","error-text":"Throughput Rate Exceeded"}]}`, 200, sdk.KindRetryAfter, nil},
		{"internal", `{"message-count":"1","messages":[{"status":"5","error-text":"Internal Error"}]}`, 200, sdk.KindTransient, nil},
		{"bad credentials", `{"message-count":"1","messages":[{"status":"4","error-text":"Bad Credentials"}]}`, 200, sdk.KindNotConnected, nil},
		{"http 429", `too many`, 429, sdk.KindRetryAfter, nil},
		{"http 500", `oops`, 500, sdk.KindTransient, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got url.Values
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				got = r.PostForm
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			v := &vonage{base: srv.URL, apiKey: "abcd1234", apiSecret: "abcdef0123456789", from: "AcmeInc", http: srv.Client(), timeout: 5 * time.Second}
			ids, err := v.send(context.Background(), outboundSMS{To: "+447700900000", Text: "Hello World!", StatusCallback: "https://example.com/sms-dlr", ClientRef: "my-personal-reference"})
			want := mustForm(t, "vonage-send-request.CONSTRUCTED.form")
			for k := range want {
				if got.Get(k) != want.Get(k) {
					t.Errorf("form %s = %q, want %q (the documented request)", k, got.Get(k), want.Get(k))
				}
			}
			if tt.wantIDs != nil {
				if err != nil || strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
					t.Fatalf("send = %v, %v", ids, err)
				}
				return
			}
			if k := sdk.KindOf(err); err == nil || k != tt.wantKind {
				t.Fatalf("err %v kind %v, want %v", err, k, tt.wantKind)
			}
		})
	}
}

func mustRead(t *testing.T, name string) []byte { return readTestdata(t, name) }

func TestVonageUnicode(t *testing.T) {
	var typ string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		typ = r.PostForm.Get("type")
		w.Write([]byte(`{"message-count":"1","messages":[{"message-id":"A","status":"0"}]}`))
	}))
	defer srv.Close()
	v := &vonage{base: srv.URL, http: srv.Client(), timeout: time.Second, from: "+447700900000"}
	if _, err := v.send(context.Background(), outboundSMS{To: "+447700900001", Text: "Thanks 👍"}); err != nil || typ != "unicode" {
		t.Fatalf("type %q, err %v", typ, err)
	}
	var ae *APIError
	if errors.As(classifyVonage(&APIError{Code: "12"}), &ae) && sdk.KindOf(classifyVonage(ae)) != sdk.KindPermanent {
		t.Fatal("message too long must be permanent")
	}
}
