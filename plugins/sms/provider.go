package sms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// provider is one SMS provider's REST API and webhook dialect. Everything
// that is the same for every provider (keywords, choices, receipts order,
// splitting, media URLs) lives outside it.
type provider interface {
	// params reads a webhook request's parameters (form, query or JSON).
	params(r *http.Request, body []byte) (url.Values, error)
	// authentic reports whether a webhook request comes from the provider;
	// signURL is the public URL the provider called.
	authentic(r *http.Request, params url.Values, signURL string) bool
	// inbound reads an inbound-message webhook.
	inbound(params url.Values) (inboundSMS, error)
	// status reads a status callback or delivery receipt.
	status(params url.Values) (statusReport, error)
	// send creates one message and returns the provider's ids for it.
	send(ctx context.Context, m outboundSMS) ([]string, error)
	// acknowledge answers an inbound webhook that was accepted.
	acknowledge(w http.ResponseWriter)
	// mms reports whether media can be attached (else it is sent as a link).
	mms() bool
	// fetch downloads an inbound media URL.
	fetch(ctx context.Context, mediaURL string) (data []byte, contentType string, err error)
}

// inboundSMS is one message from a phone, provider-neutral.
type inboundSMS struct {
	ID      string // MessageSid / messageId
	From    string // E.164
	To      string
	Text    string
	Media   []mediaRef
	OptOut  string // the provider's own keyword classification, if any
	Concat  *concatPart
	At      time.Time
	Profile map[string]string
}

type mediaRef struct{ URL, ContentType string }

// concatPart says which part of a concatenated message this is (Vonage).
type concatPart struct {
	Ref         string
	Total, Part int
}

// statusReport is one status change of an outbound message.
type statusReport struct {
	ID        string
	Status    string // provider's value, lower case
	Phone     string // the consumer's number in E.164, when the report names it
	ErrorCode string
}

// outboundSMS is one provider API call.
type outboundSMS struct {
	To             string // E.164
	Text           string
	MediaURLs      []string
	StatusCallback string
	ClientRef      string
}

// Ranks of statuses on the way to the phone. Receipts are delivered only
// for a rank above the one already reported, so callbacks arriving late or
// twice never move a message back (delivered → sent).
const (
	rankNone      = 0
	rankDelivered = 3
	rankRead      = 4
)

func receiptRank(status string) int {
	switch status {
	case "delivered":
		return rankDelivered
	case "read":
		return rankRead
	}
	return rankNone
}

// APIError is an error answer from a provider's API.
type APIError struct {
	Provider   string
	HTTPStatus int
	// Code is Twilio's error code (21610 ...) or Vonage's status ("1" ...).
	Code       string
	Message    string
	RetryAfter time.Duration // from a Retry-After header, if any
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s api: http %d, code %s: %s", e.Provider, e.HTTPStatus, e.Code, e.Message)
}

// optedOut reports the provider saying the recipient sent STOP.
func optedOut(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Provider == "twilio" && ae.Code == "21610"
}
