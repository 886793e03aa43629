package liveperson

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
)

// Webhook header names (notification-protocol.md). Header lookups are
// case-insensitive.
const (
	HeaderAccountID = "X-Liveperson-Account-Id"
	HeaderClientID  = "X-Liveperson-Client-Id"
	HeaderSignature = "X-Liveperson-Signature"
)

// Webhook verification errors. All of them mean "process nothing"; use
// WebhookStatus to pick the HTTP answer.
var (
	// ErrSignatureMissing: no x-liveperson-signature header. → 401
	ErrSignatureMissing = errors.New("webhook signature header missing")
	// ErrSignatureInvalid: malformed or wrong signature. → 401
	ErrSignatureInvalid = errors.New("webhook signature invalid")
	// ErrWrongAccount: x-liveperson-account-id missing or not ours. → 401
	ErrWrongAccount = errors.New("webhook account id missing or not configured")
	// ErrWrongClient: x-liveperson-client-id missing or not ours. → 401
	ErrWrongClient = errors.New("webhook client id missing or not configured")
	// ErrBodyTooLarge: the body exceeds the caller's limit. → 413
	ErrBodyTooLarge = errors.New("webhook body too large")
	// ErrBodyUnreadable: reading the body failed. → 400
	ErrBodyUnreadable = errors.New("webhook body unreadable")
)

// WebhookStatus maps a Verify / VerifyRequest / ParseNotification error to
// the HTTP status the server should answer (200 for nil). LiveEngage retries
// anything but 200/201, so a rejected delivery is never lost by mistake.
func WebhookStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrSignatureMissing), errors.Is(err, ErrSignatureInvalid),
		errors.Is(err, ErrWrongAccount), errors.Is(err, ErrWrongClient):
		return http.StatusUnauthorized
	default:
		return http.StatusBadRequest
	}
}

// Verifier checks that a webhook came from LiveEngage for our app:
//
//	x-liveperson-signature = "sha1=" + Base64(HMAC-SHA1(client_secret, raw body))
//
// computed over the exact bytes received, never re-serialised JSON (which is
// how LivePerson's own sample broke on emoji). "sha256=" and hex encodings,
// which LiveEngage can be configured to use, are accepted too. Comparison is
// constant-time.
type Verifier struct {
	accountID string
	clientID  string
	secret    []byte
}

// NewVerifier returns a Verifier for one app install. secret is the
// app's client_secret.
func NewVerifier(accountID, clientID, secret string) (*Verifier, error) {
	if accountID == "" || clientID == "" || secret == "" {
		return nil, errors.New("liveperson webhook verifier: account id, client id and secret are required")
	}
	return &Verifier{accountID: accountID, clientID: clientID, secret: []byte(secret)}, nil
}

// Verify checks headers and signature of body. body must be the raw request
// bytes.
func (v *Verifier) Verify(body []byte, h http.Header) error {
	if !equalHeader(h.Get(HeaderAccountID), v.accountID) {
		return ErrWrongAccount
	}
	if !equalHeader(h.Get(HeaderClientID), v.clientID) {
		return ErrWrongClient
	}
	sig := strings.TrimSpace(h.Get(HeaderSignature))
	if sig == "" {
		return ErrSignatureMissing
	}
	algo, value, ok := strings.Cut(sig, "=")
	if !ok {
		return fmt.Errorf("%w: no algorithm prefix", ErrSignatureInvalid)
	}
	var newHash func() hash.Hash
	switch strings.ToLower(algo) {
	case "sha1":
		newHash = sha1.New
	case "sha256":
		newHash = sha256.New
	default:
		return fmt.Errorf("%w: unsupported algorithm %q", ErrSignatureInvalid, algo)
	}
	mac := hmac.New(newHash, v.secret)
	mac.Write(body)
	want := mac.Sum(nil)
	got, ok := decodeSignature(value, len(want))
	if !ok {
		return fmt.Errorf("%w: not base64 or hex", ErrSignatureInvalid)
	}
	if !hmac.Equal(got, want) {
		return ErrSignatureInvalid
	}
	return nil
}

// decodeSignature accepts base64 (padded or not) and hex of the right length.
func decodeSignature(s string, size int) ([]byte, bool) {
	if len(s) == 2*size {
		if b, err := hex.DecodeString(s); err == nil {
			return b, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == size {
			return b, true
		}
	}
	return nil, false
}

func equalHeader(got, want string) bool {
	got = strings.TrimSpace(got)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// VerifyRequest reads at most maxBody bytes of r's body and verifies them.
// It returns the raw bytes only when they are authentic; the error maps to
// an HTTP status with WebhookStatus (401 bad or missing signature, 413 too
// large, 400 unreadable). Headers are checked before the body is read, so
// unsigned requests cost nothing.
func (v *Verifier) VerifyRequest(r *http.Request, maxBody int64) ([]byte, error) {
	if strings.TrimSpace(r.Header.Get(HeaderSignature)) == "" {
		return nil, ErrSignatureMissing
	}
	if !equalHeader(r.Header.Get(HeaderAccountID), v.accountID) {
		return nil, ErrWrongAccount
	}
	if !equalHeader(r.Header.Get(HeaderClientID), v.clientID) {
		return nil, ErrWrongClient
	}
	if maxBody <= 0 {
		maxBody = 1 << 20
	}
	if r.ContentLength > maxBody {
		return nil, ErrBodyTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) { // the server bounds bodies too
		return nil, ErrBodyTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBodyUnreadable, err)
	}
	if int64(len(body)) > maxBody {
		return nil, ErrBodyTooLarge
	}
	if err := v.Verify(body, r.Header); err != nil {
		return nil, err
	}
	return body, nil
}

// Sign returns the x-liveperson-signature value for body (sha1, base64), as
// LiveEngage computes it. Useful for tests and emulators.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return "sha1=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
