package liveperson

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func webhookHeaders(sig string) http.Header {
	h := http.Header{}
	// Lower-case on the wire, as LiveEngage sends them.
	h["x-liveperson-account-id"] = []string{fakeAccount}
	h["x-liveperson-client-id"] = []string{fakeClient}
	if sig != "" {
		h["x-liveperson-signature"] = []string{sig}
	}
	// http.Header lookups canonicalise; mirror what net/http does on receipt.
	out := http.Header{}
	for k, v := range h {
		out[http.CanonicalHeaderKey(k)] = v
	}
	return out
}

func TestSignMatchesIndependentVector(t *testing.T) {
	// Computed with Python's hmac over the raw sample file bytes (trailing
	// newline included).
	body := readTestdata(t, "webhook-content-event-consumer.json")
	if got, want := Sign(fakeSecret, body), "sha1=SKN9Yvq6hFn/SRV58+L+RYJHiIA="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	v, err := NewVerifier(fakeAccount, fakeClient, fakeSecret)
	if err != nil {
		t.Fatal(err)
	}
	pretty := readTestdata(t, "webhook-content-event-agent.json")
	nonASCII := readTestdata(t, "webhook-content-event-agent-non-ascii.json")
	tampered := bytes.Replace(pretty, []byte("Hello from the Agent"), []byte("Hello from the Agenx"), 1)

	// A body re-serialised from parsed JSON: what LivePerson's demo app
	// signed, and why it had to disable the check.
	reserialise := func(b []byte) []byte {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(out, b) {
			t.Fatalf("re-serialised body is identical; the case would prove nothing")
		}
		return out
	}

	tests := []struct {
		name string
		body []byte
		h    http.Header
		want error
	}{
		{"valid", pretty, webhookHeaders(Sign(fakeSecret, pretty)), nil},
		{"valid emoji and non-ascii", nonASCII, webhookHeaders(Sign(fakeSecret, nonASCII)), nil},
		{"valid sha256 hex", readTestdata(t, "webhook-content-event-consumer.json"),
			webhookHeaders("sha256=00170c349a3522ec126a8465f6b7a09ce5b8a52b66091ee7915bd4ea0aed86bd"), nil},
		{"tampered body", tampered, webhookHeaders(Sign(fakeSecret, pretty)), ErrSignatureInvalid},
		{"wrong secret", pretty, webhookHeaders(Sign("not-the-secret", pretty)), ErrSignatureInvalid},
		{"missing signature", pretty, webhookHeaders(""), ErrSignatureMissing},
		{"re-serialised pretty body", reserialise(pretty), webhookHeaders(Sign(fakeSecret, pretty)), ErrSignatureInvalid},
		{"re-serialised non-ascii body", reserialise(nonASCII), webhookHeaders(Sign(fakeSecret, nonASCII)), ErrSignatureInvalid},
		{"signature without prefix", pretty, webhookHeaders(strings.TrimPrefix(Sign(fakeSecret, pretty), "sha1=")), ErrSignatureInvalid},
		{"unknown algorithm", pretty, webhookHeaders("md5=" + strings.TrimPrefix(Sign(fakeSecret, pretty), "sha1=")), ErrSignatureInvalid},
		{"garbage signature", pretty, webhookHeaders("sha1=!!!"), ErrSignatureInvalid},
		{"wrong account", pretty, func() http.Header {
			h := webhookHeaders(Sign(fakeSecret, pretty))
			h.Set(HeaderAccountID, "someone-else")
			return h
		}(), ErrWrongAccount},
		{"missing client id", pretty, func() http.Header {
			h := webhookHeaders(Sign(fakeSecret, pretty))
			h.Del(HeaderClientID)
			return h
		}(), ErrWrongClient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Verify(tc.body, tc.h)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if WebhookStatus(err) != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", WebhookStatus(err))
			}
		})
	}
}

func TestVerifyRequest(t *testing.T) {
	v, err := NewVerifier(fakeAccount, fakeClient, fakeSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := readTestdata(t, "webhook-content-event-agent-non-ascii.json")
	tests := []struct {
		name    string
		sig     string
		maxBody int64
		status  int
	}{
		{"valid", Sign(fakeSecret, body), 1 << 20, 200},
		{"missing signature", "", 1 << 20, 401},
		{"wrong secret", Sign("x", body), 1 << 20, 401},
		{"too large", Sign(fakeSecret, body), 64, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			var gotErr error
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, gotErr = v.VerifyRequest(r, tc.maxBody)
				w.WriteHeader(WebhookStatus(gotErr))
			}))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
			req.Header.Set("x-liveperson-account-id", fakeAccount)
			req.Header.Set("x-liveperson-client-id", fakeClient)
			if tc.sig != "" {
				req.Header.Set("x-liveperson-signature", tc.sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (err %v)", resp.StatusCode, tc.status, gotErr)
			}
			if tc.status == 200 && !bytes.Equal(got, body) {
				t.Errorf("VerifyRequest returned different bytes")
			}
			if tc.status != 200 && got != nil {
				t.Errorf("body returned for a rejected request")
			}
		})
	}
}
