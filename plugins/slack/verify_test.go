package slack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	emu "github.com/leconnect/leconnect/emulator/slack"
	"github.com/leconnect/leconnect/plugins/sdk"
)

const secret = "8f742231b10e8888abcd99yyyzzz85a5"

func signed(ts int64, body string) http.Header {
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	h.Set("X-Slack-Signature", emu.Sign(secret, ts, []byte(body)))
	return h
}

func TestVerify(t *testing.T) {
	now := time.Unix(1531420618, 0)
	body := `token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fhelloworld`
	tests := []struct {
		name    string
		header  func() http.Header
		body    string
		wantErr error
	}{
		{"valid", func() http.Header { return signed(now.Unix(), body) }, body, nil},
		{"valid, 4 minutes old", func() http.Header { return signed(now.Unix()-240, body) }, body, nil},
		{"tampered body", func() http.Header { return signed(now.Unix(), body) }, body + "&x=1", errBadSignature},
		{"tampered signature", func() http.Header {
			h := signed(now.Unix(), body)
			sig := []byte(h.Get("X-Slack-Signature"))
			sig[len(sig)-1] ^= 1
			h.Set("X-Slack-Signature", string(sig))
			return h
		}, body, errBadSignature},
		{"wrong version prefix", func() http.Header {
			h := signed(now.Unix(), body)
			h.Set("X-Slack-Signature", "v1="+strings.TrimPrefix(h.Get("X-Slack-Signature"), "v0="))
			return h
		}, body, errBadSignature},
		{"signature of another timestamp", func() http.Header {
			h := signed(now.Unix()-1, body)
			h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix(), 10))
			return h
		}, body, errBadSignature},
		{"stale timestamp", func() http.Header { return signed(now.Unix()-301, body) }, body, errStale},
		{"timestamp from the future", func() http.Header { return signed(now.Unix()+301, body) }, body, errStale},
		{"timestamp not a number", func() http.Header {
			h := signed(now.Unix(), body)
			h.Set("X-Slack-Request-Timestamp", "yesterday")
			return h
		}, body, errStale},
		{"missing signature", func() http.Header {
			h := signed(now.Unix(), body)
			h.Del("X-Slack-Signature")
			return h
		}, body, errMissingHeaders},
		{"missing timestamp", func() http.Header {
			h := signed(now.Unix(), body)
			h.Del("X-Slack-Request-Timestamp")
			return h
		}, body, errMissingHeaders},
		{"no headers", func() http.Header { return http.Header{} }, body, errMissingHeaders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(tc.header(), []byte(tc.body), secret, now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("verify = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// The whole handler refuses what verify refuses, with 401, and delivers nothing.
func TestServeHTTPRefusesUnsigned(t *testing.T) {
	e, base := newEmulator(t, emu.Options{SigningSecret: secret})
	a := New()
	if err := a.Configure(context.Background(), sdk.Setup{Config: sdk.NewConfig(config(e, base, "events", nil))}); err != nil {
		t.Fatal(err)
	}
	h := newHost()
	if err := a.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	body := string(readSample(t, "slack-event-message.normalized.json"))
	now := time.Now().Unix()
	for name, hdr := range map[string]http.Header{
		"tampered": signed(now, body+" "),
		"stale":    signed(now-600, body),
		"missing":  {},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header = hdr
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			a.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", w.Code)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header = signed(now, body)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d, want 200", w.Code)
		}
	})
	if evs := h.all(); len(evs) != 1 || evs[0].ID != "Ev123ABC456" {
		t.Fatalf("delivered %+v; want only the validly signed event", evs)
	}
}
