package sms

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	emu "github.com/leconnect/leconnect/emulator/sms"
)

// The worked example of Twilio's webhook security page: token 12345, this
// URL and these params sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
func TestTwilioSignatureKnownVector(t *testing.T) {
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	if got, want := TwilioSignature("12345", u, params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ="; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	// The emulator's independent implementation agrees.
	if got := emu.Sign("12345", u, params); got != TwilioSignature("12345", u, params) {
		t.Fatalf("emulator signs %s", got)
	}
}

func TestValidTwilioSignature(t *testing.T) {
	params := url.Values{"Body": {"hi there"}, "From": {"+14155552345"}, "MessageSid": {"SM1"}, "To": {"+14155550100"}}
	const token = "secret-token"
	tests := []struct {
		name      string
		signedURL string // what Twilio signed (the configured URL)
		seenURL   string // what the adapter rebuilt
		params    url.Values
		want      bool
	}{
		{"same url", "https://example.com/channels/sms/webhook", "https://example.com/channels/sms/webhook", params, true},
		{"query string kept in order", "https://example.com/hook?b=2&a=1", "https://example.com/hook?b=2&a=1", params, true},
		{"query string missing", "https://example.com/hook?a=1", "https://example.com/hook", params, false},
		{"query string reordered", "https://example.com/hook?b=2&a=1", "https://example.com/hook?a=1&b=2", params, false},
		{"explicit non-default port", "https://example.com:8443/hook", "https://example.com:8443/hook", params, true},
		{"non-default port dropped", "https://example.com:8443/hook", "https://example.com/hook", params, false},
		{"default https port added by Twilio", "https://example.com:443/hook", "https://example.com/hook", params, true},
		{"default https port seen, not signed", "https://example.com/hook", "https://example.com:443/hook", params, true},
		{"default http port", "http://example.com:80/hook?x=1", "http://example.com/hook?x=1", params, true},
		{"http signed, https seen", "http://example.com/hook", "https://example.com/hook", params, false},
		{"https signed, http seen", "https://example.com/hook", "http://example.com/hook", params, false},
		{"port 443 on http is not default", "http://example.com:443/hook", "http://example.com/hook", params, false},
		{"loopback with port", "http://127.0.0.1:38211/channels/sms/webhook", "http://127.0.0.1:38211/channels/sms/webhook", params, true},
		{"tampered parameter", "https://example.com/hook", "https://example.com/hook", url.Values{"Body": {"hi there!"}, "From": {"+14155552345"}, "MessageSid": {"SM1"}, "To": {"+14155550100"}}, false},
		{"added parameter", "https://example.com/hook", "https://example.com/hook", url.Values{"Body": {"hi there"}, "Extra": {"1"}, "From": {"+14155552345"}, "MessageSid": {"SM1"}, "To": {"+14155550100"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := TwilioSignature(token, tt.signedURL, params)
			if got := ValidTwilioSignature(token, tt.seenURL, tt.params, sig); got != tt.want {
				t.Fatalf("valid = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("wrong token", func(t *testing.T) {
		sig := TwilioSignature("other", "https://example.com/hook", params)
		if ValidTwilioSignature(token, "https://example.com/hook", params, sig) {
			t.Fatal("accepted a signature made with another token")
		}
	})
	t.Run("empty signature", func(t *testing.T) {
		if ValidTwilioSignature(token, "https://example.com/hook", params, "") {
			t.Fatal("accepted an empty signature")
		}
	})
	t.Run("repeated key, first value only (twilio-go)", func(t *testing.T) {
		p := url.Values{"A": {"1", "2"}}
		sig := twilioSignature(token, "https://example.com/hook", p, firstOnly)
		if !ValidTwilioSignature(token, "https://example.com/hook", p, sig) {
			t.Fatal("refused the first-value-only reading")
		}
	})
	t.Run("repeated key, distinct values sorted (twilio-node)", func(t *testing.T) {
		// twilio-node signs Array.from(new Set(values)).sort(): for
		// A=2&A=1&A=2 that is "A1A2", computed here by hand.
		p := url.Values{"A": {"2", "1", "2"}, "B": {"x"}}
		m := hmac.New(sha1.New, []byte(token))
		m.Write([]byte("https://example.com/hookA1A2Bx"))
		sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
		if !ValidTwilioSignature(token, "https://example.com/hook", p, sig) {
			t.Fatal("refused twilio-node's reading of repeated values")
		}
		if ValidTwilioSignature(token, "https://example.com/hook", url.Values{"A": {"2", "1", "3"}, "B": {"x"}}, sig) {
			t.Fatal("accepted it for other values")
		}
	})
}

// The webhook refuses a bad signature with 403 and delivers nothing; a
// good one, computed over the full public URL with its query, passes. With
// public_url set, the signature is checked against that URL instead.
func TestWebhookSignatureEnforced(t *testing.T) {
	e, base := newEmulator(t, emu.Options{})
	form := string(readTestdata(t, "twilio-inbound-mms-docvalues.CONSTRUCTED.form"))
	form = strings.Replace(form, "NumMedia=1", "NumMedia=0", 1) // no media fetch here
	params, _ := url.ParseQuery(form)
	for _, tt := range []struct {
		name, publicURL, signFor, query string
		want                            int
	}{
		{"good signature", "", "", "?route=a%20b", http.StatusOK},
		{"signed for another url", "", "https://elsewhere.example.com/hook", "", http.StatusForbidden},
		{"public_url override", "https://sms.example.com:8443/in", "https://sms.example.com:8443/in?k=v", "?k=v", http.StatusOK},
		{"public_url override, core url signed", "https://sms.example.com/in", "", "", http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			extra := map[string]any{}
			if tt.publicURL != "" {
				extra["public_url"] = tt.publicURL
			}
			s := startAdapter(t, config(e, base, "twilio", extra), t.TempDir())
			target := s.host.hook + tt.query
			signFor := tt.signFor
			if signFor == "" {
				signFor = target
			}
			req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", TwilioSignature(e.AuthToken(), signFor, params))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
			if n := len(s.host.all()); (tt.want == http.StatusOK) != (n == 1) {
				t.Fatalf("%d events delivered for status %d", n, res.StatusCode)
			}
		})
	}
}

// A Twilio number may be set to call its webhook with GET: the parameters
// are then in the URL, and the URL alone is signed.
func TestWebhookSignatureGET(t *testing.T) {
	e, base := newEmulator(t, emu.Options{TimeScale: 1000})
	s := startAdapter(t, config(e, base, "twilio", nil), t.TempDir())
	q := url.Values{"MessageSid": {"SMget"}, "From": {testPhone}, "To": {twilioFrom}, "Body": {"via GET"}}
	target := s.host.hook + "?" + q.Encode()
	for _, tt := range []struct {
		name string
		sig  string
		want int
	}{
		{"url signed", TwilioSignature(e.AuthToken(), target, nil), http.StatusOK},
		{"params signed twice", TwilioSignature(e.AuthToken(), target, q), http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("X-Twilio-Signature", tt.sig)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
	if evs := s.host.all(); len(evs) != 1 || evs[0].Message.Text != "via GET" {
		t.Fatalf("events %+v", evs)
	}
}
