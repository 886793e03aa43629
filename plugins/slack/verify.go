package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// replayWindow is how far a request's timestamp may be from now (§2.3).
const replayWindow = 5 * time.Minute

// Errors of verify; every one is answered 401.
var (
	errMissingHeaders = errors.New("missing X-Slack-Signature or X-Slack-Request-Timestamp")
	errStale          = errors.New("request timestamp outside the 5-minute window (replay?)")
	errBadSignature   = errors.New("signature does not match")
)

// verify checks a request's v0 signature (channels.md §2.3):
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + raw body)),
// compared in constant time, timestamp within five minutes of now.
func verify(h http.Header, body []byte, secret string, now time.Time) error {
	sig, tsHeader := h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp")
	if sig == "" || tsHeader == "" {
		return errMissingHeaders
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not a number", errStale, tsHeader)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > replayWindow || d < -replayWindow {
		return errStale
	}
	got, err := hex.DecodeString(strings.TrimPrefix(sig, "v0="))
	if err != nil || !strings.HasPrefix(sig, "v0=") {
		return errBadSignature
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + tsHeader + ":"))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return errBadSignature
	}
	return nil
}
