package sms

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leconnect/leconnect/internal/fuzzseed"
)

// parsed is what a webhook's parameters become: an inbound message or a
// delivery receipt, or why neither (dated events lose their arrival time,
// which is the clock's).
type parsed struct {
	in     inboundSMS
	inErr  bool
	st     statusReport
	stErr  bool
	params url.Values
}

func parseBoth(p provider, params url.Values) parsed {
	in, ierr := p.inbound(params)
	st, serr := p.status(params)
	if in.At.After(time.Now().Add(-time.Minute)) {
		in.At = time.Time{} // dated on arrival, not by the payload
	}
	return parsed{in: in, inErr: ierr != nil, st: st, stErr: serr != nil, params: params}
}

func request(t *testing.T, p provider, method, contentType, query string, body []byte) (url.Values, error) {
	t.Helper()
	r := &http.Request{Method: method, URL: &url.URL{Path: "/channels/sms/webhook", RawQuery: query}, Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(body))}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return p.params(r, body)
}

// FuzzTwilioWebhook: a Twilio webhook form (inbound message or status
// callback) parses the same once re-encoded; an inbound message it
// accepts names its sender and id and has at most ten media.
func FuzzTwilioWebhook(f *testing.F) {
	fuzzseed.Files(f, "testdata/twilio-*.form", func(b []byte) { f.Add(b) })
	tw := &twilio{authToken: "tok"}
	f.Fuzz(func(t *testing.T, body []byte) {
		params, err := request(t, tw, http.MethodPost, "application/x-www-form-urlencoded", "", body)
		if err != nil {
			return // answered 400
		}
		first := parseBoth(tw, params)
		if !first.inErr && (first.in.ID == "" || first.in.From == "" || len(first.in.Media) > 10) {
			t.Fatalf("accepted an inbound message without id or sender, or with %d media: %+v", len(first.in.Media), first.in)
		}
		again, err := request(t, tw, http.MethodPost, "application/x-www-form-urlencoded", "", []byte(params.Encode()))
		if err != nil {
			t.Fatalf("a parsed form re-encoded does not parse: %v", err)
		}
		if second := parseBoth(tw, again); !reflect.DeepEqual(first, second) {
			t.Fatalf("the form re-encoded parses differently:\n%+v\n%+v", first, second)
		}
	})
}

// FuzzTwilioSignature: parameters signed as Twilio signs them verify (also
// with the URL's default port written out), and fail once one byte of any
// value changes.
func FuzzTwilioSignature(f *testing.F) {
	fuzzseed.Files(f, "testdata/twilio-*.form", func(b []byte) { f.Add("https://example.com/channels/sms/webhook", b, uint(0), uint(3), byte(1)) })
	f.Add("http://h:80/x?a=1", []byte("Body=a&Body=b"), uint(0), uint(1), byte(0x20))
	f.Fuzz(func(t *testing.T, rawURL string, body []byte, key, at uint, flip byte) {
		params, err := url.ParseQuery(string(body))
		if err != nil {
			return
		}
		sig := TwilioSignature("auth-token", rawURL, params)
		if !ValidTwilioSignature("auth-token", rawURL, params, sig) {
			t.Fatal("a correctly signed request fails")
		}
		if ValidTwilioSignature("another-token", rawURL, params, sig) {
			t.Fatal("verifies with another auth token")
		}
		if u, err := url.Parse(rawURL); err == nil && u.String() == rawURL && u.Scheme == "https" && u.Hostname() != "" && u.Host == u.Hostname() && u.User == nil {
			withPort := *u
			withPort.Host += ":443"
			if !ValidTwilioSignature("auth-token", withPort.String(), params, sig) {
				t.Fatal("the URL with its default port written out fails")
			}
		}
		if len(params) == 0 || flip == 0 {
			return
		}
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		k := keys[key%uint(len(keys))]
		vs := params[k]
		i := int(at % uint(len(vs)))
		if vs[i] == "" {
			return
		}
		changed := url.Values{}
		for kk, vv := range params {
			changed[kk] = append([]string(nil), vv...)
		}
		b := []byte(changed[k][i])
		b[int(at)%len(b)] ^= flip
		changed[k][i] = string(b)
		if ValidTwilioSignature("auth-token", rawURL, changed, sig) {
			t.Fatalf("verifies with %s[%d] changed", k, i)
		}
	})
}

func validUTF8(m map[string]string) bool {
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// FuzzVonageWebhook: a Vonage inbound message or delivery receipt, in any
// shape Vonage sends (GET query, POST form, POST JSON), parses to the same
// message or receipt as its parameters sent in each of the other shapes.
func FuzzVonageWebhook(f *testing.F) {
	fuzzseed.Files(f, "testdata/vonage-inbound-*.json", func(b []byte) { f.Add(uint8(2), "", b) })
	fuzzseed.Files(f, "testdata/vonage-dlr.json", func(b []byte) { f.Add(uint8(2), "", b) })
	f.Add(uint8(0), "msisdn=447700900001&to=447700900000&messageId=0A0000000123ABCD1&text=Hi&type=text&message-timestamp=2020-01-01+12%3A00%3A00", []byte{})
	f.Add(uint8(1), "", []byte("msisdn=447700900001&messageId=0A1&status=delivered&err-code=0"))
	vg := &vonage{token: "tok"}
	f.Fuzz(func(t *testing.T, shape uint8, query string, body []byte) {
		method, ct := http.MethodPost, "application/x-www-form-urlencoded"
		switch shape % 3 {
		case 0:
			method, ct = http.MethodGet, ""
		case 2:
			ct = "application/json"
		}
		params, err := request(t, vg, method, ct, query, body)
		if err != nil {
			return
		}
		// Each parameter's first value is what is read; JSON carries one.
		one := url.Values{}
		obj := map[string]string{}
		for k, vs := range params {
			if len(vs) > 0 && k != "" {
				one.Set(k, vs[0])
				obj[k] = vs[0]
			}
		}
		want := parseBoth(vg, one)
		shapes := []struct {
			method, ct, query string
			body              []byte
		}{
			{http.MethodGet, "", one.Encode(), nil},
			{http.MethodPost, "application/x-www-form-urlencoded", "", []byte(one.Encode())},
		}
		if js, _ := json.Marshal(obj); validUTF8(obj) {
			// JSON carries text only: invalid UTF-8 becomes U+FFFD there.
			shapes = append(shapes, struct {
				method, ct, query string
				body              []byte
			}{http.MethodPost, "application/json", "", js})
		}
		for _, s := range shapes {
			p, err := request(t, vg, s.method, s.ct, s.query, s.body)
			if err != nil {
				t.Fatalf("%s %s of parsed parameters does not parse: %v", s.method, s.ct, err)
			}
			got := parseBoth(vg, p)
			got.params, want.params = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %s parses differently:\n%+v\n%+v", s.method, s.ct, got, want)
			}
		}
		if !want.inErr && (want.in.ID == "" || !strings.HasPrefix(want.in.From, "+")) {
			t.Fatalf("accepted an inbound message without id or an E.164 sender: %+v", want.in)
		}
	})
}
