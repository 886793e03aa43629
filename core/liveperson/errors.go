package liveperson

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Every error returned by a Client operation that came from
// LiveEngage is an *APIError whose Is method matches exactly one of these, so
// callers write errors.Is(err, liveperson.ErrConversationClosed) and use
// errors.As(err, &apiErr) only when they need the details (status, errorCode,
// Retry-After).
var (
	// ErrAlreadyOpen: the consumer already has an open conversation
	// (CONVERSATION answered BAD_REQUEST "... already has open conversation").
	ErrAlreadyOpen = errors.New("consumer already has an open conversation")
	// ErrConversationClosed: a SEND went to a closed conversation
	// ("Bad Request, Conversation is close"); open a new one.
	ErrConversationClosed = errors.New("conversation is closed")
	// ErrTooLarge: the request object exceeds the Send API size limit
	// (5000 characters) or a file exceeds the hosted-file limits.
	ErrTooLarge = errors.New("request too large")
	// ErrUnauthorized: credentials were rejected (401) even after the
	// one renewal the retry policy allows, or the app credentials are wrong.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: 429 persisted past RetryPolicy.RateLimitRetries.
	ErrRateLimited = errors.New("rate limited")
	// ErrServerError: 5xx (or no answer at all) persisted past every
	// inner and outer retry.
	ErrServerError = errors.New("server error")
	// ErrBadRequest: any other 4xx; the policy never retries these.
	ErrBadRequest = errors.New("bad request")
	// ErrUnavailable: LiveEngage could not be reached (connection refused,
	// timeout, DNS) after every retry.
	ErrUnavailable = errors.New("liveengage unreachable")
	// ErrInvalidArgument: the caller passed something the API cannot accept
	// (empty id, unknown file type...). Nothing was sent.
	ErrInvalidArgument = errors.New("invalid argument")
)

// APIError describes a failed LiveEngage call. It matches one sentinel with
// errors.Is (Kind) and keeps what LiveEngage said.
type APIError struct {
	// Op is the operation, e.g. "publish_text" or "appjwt".
	Op string
	// Kind is one of the sentinel errors above.
	Kind error
	// StatusCode is the HTTP status of the last attempt (0 if no answer).
	StatusCode int
	// Code is the body's "code" ("BAD_REQUEST", "401", ...) when present.
	Code string
	// ErrorCode is the numeric errorCode of the unified error format
	// (e.g. 40102), 0 when absent.
	ErrorCode int
	// Message is the body's msg, or title + details.
	Message string
	// ReqID echoes the request id.
	ReqID string
	// RetryAfter is the server's Retry-After on a 429 (0 if absent).
	RetryAfter time.Duration
	// Attempts is how many HTTP attempts were made.
	Attempts int
	// Err is the transport error when StatusCode is 0.
	Err error
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("liveperson %s: %v", e.Op, e.Kind)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (http %d", e.StatusCode)
		if e.ErrorCode != 0 {
			msg += fmt.Sprintf(", errorCode %d", e.ErrorCode)
		}
		msg += ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is the error's Kind.
func (e *APIError) Is(target error) bool { return target != nil && target == e.Kind }

// Unwrap returns the transport error, if any.
func (e *APIError) Unwrap() error { return e.Err }

func invalidArg(op, format string, args ...any) error {
	return &APIError{Op: op, Kind: ErrInvalidArgument, Message: fmt.Sprintf(format, args...)}
}
