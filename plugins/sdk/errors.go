package sdk

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ErrorKind classifies a failure so the core knows whether and when to retry.
type ErrorKind int

const (
	// KindTransient is any failure not classified otherwise: the core
	// retries with its own backoff.
	KindTransient ErrorKind = iota
	// KindRetryAfter means the platform asked us to wait (rate limit).
	KindRetryAfter
	// KindPermanent means retrying cannot succeed; the core dead-letters.
	KindPermanent
	// KindNotConnected means the adapter is not connected to its platform.
	KindNotConnected
)

func (k ErrorKind) String() string {
	switch k {
	case KindRetryAfter:
		return "retry after"
	case KindPermanent:
		return "permanent"
	case KindNotConnected:
		return "not connected"
	}
	return "transient"
}

// Error is a classified failure. Build one with [RetryAfter], [Permanent] or
// [NotConnected]; inspect one with [KindOf] and [RetryDelay].
type Error struct {
	Kind  ErrorKind
	Delay time.Duration // for KindRetryAfter
	Err   error
}

func (e *Error) Error() string {
	msg := "<nil>"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Kind == KindRetryAfter {
		return fmt.Sprintf("%s (retry after %s)", msg, e.Delay)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// RetryAfter wraps err to say the operation may succeed after d.
func RetryAfter(d time.Duration, err error) error {
	return &Error{Kind: KindRetryAfter, Delay: d, Err: err}
}

// Permanent wraps err to say retrying cannot succeed.
func Permanent(err error) error { return &Error{Kind: KindPermanent, Err: err} }

// NotConnected wraps err to say the adapter has no working platform connection.
func NotConnected(err error) error { return &Error{Kind: KindNotConnected, Err: err} }

// KindOf classifies err; unclassified errors are KindTransient.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindTransient
}

// RetryDelay returns the delay a KindRetryAfter error asks for.
func RetryDelay(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindRetryAfter {
		return e.Delay, true
	}
	return 0, false
}

// The ErrorInfo domain and reasons that mark our classified errors on the wire.
const (
	errorDomain         = "leconnect.adapter.v1"
	reasonPermanent     = "PERMANENT"
	reasonNotConnected  = "NOT_CONNECTED"
	reasonRetryAfter    = "RETRY_AFTER"
	reasonCannotResolve = "CANNOT_RESOLVE"
)

// toStatus turns an error returned by adapter or host code into the gRPC
// status that carries its classification across the process boundary. With
// fromStatus it is the one place where the vocabulary is translated.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrCannotResolve) {
		st, err2 := status.New(codes.FailedPrecondition, err.Error()).WithDetails(
			&errdetails.ErrorInfo{Domain: errorDomain, Reason: reasonCannotResolve})
		if err2 == nil {
			return st.Err()
		}
	}
	var e *Error
	if !errors.As(err, &e) {
		switch {
		case errors.Is(err, context.Canceled):
			return status.Error(codes.Canceled, err.Error())
		case errors.Is(err, context.DeadlineExceeded):
			return status.Error(codes.DeadlineExceeded, err.Error())
		}
		if _, ok := status.FromError(err); ok {
			return err // already a status, e.g. from a nested gRPC call
		}
		return status.Error(codes.Unknown, err.Error())
	}
	var le *LimitError
	if errors.As(err, &le) {
		return limitStatus(e, le).Err()
	}
	var (
		st   *status.Status
		err2 error
	)
	switch e.Kind {
	case KindRetryAfter:
		st, err2 = status.New(codes.Unavailable, err.Error()).WithDetails(
			&errdetails.ErrorInfo{Domain: errorDomain, Reason: reasonRetryAfter},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(e.Delay)})
	case KindPermanent:
		st, err2 = status.New(codes.FailedPrecondition, err.Error()).WithDetails(
			&errdetails.ErrorInfo{Domain: errorDomain, Reason: reasonPermanent})
	case KindNotConnected:
		st, err2 = status.New(codes.Unavailable, err.Error()).WithDetails(
			&errdetails.ErrorInfo{Domain: errorDomain, Reason: reasonNotConnected})
	default:
		st = status.New(codes.Unknown, err.Error())
	}
	if err2 != nil { // only if the details cannot be marshalled: keep the code
		return status.Error(st.Code(), err.Error())
	}
	return st.Err()
}

// fromStatus turns a gRPC error received from the other process back into
// the SDK's vocabulary. Transport failures (the process died, the connection
// broke) become KindNotConnected so callers retry once the adapter is back.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := errors.New(st.Message())
	var reason string
	var delay time.Duration
	var limit *LimitError
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == errorDomain {
				reason = d.GetReason()
				if reason == reasonLimit {
					limit = limitFromInfo(d.GetMetadata())
				}
			}
		case *errdetails.RetryInfo:
			delay = d.GetRetryDelay().AsDuration()
		}
	}
	switch {
	case limit != nil && delay > 0:
		return RetryAfter(delay, limit)
	case limit != nil:
		return Permanent(limit)
	case st.Code() == codes.ResourceExhausted && reason == "":
		if le := grpcSizeLimit(st.Message()); le != nil {
			return Permanent(le) // gRPC's own size check: the message was never read
		}
	case reason == reasonRetryAfter:
		return RetryAfter(delay, msg)
	case reason == reasonPermanent:
		return Permanent(msg)
	case reason == reasonCannotResolve:
		return fmt.Errorf("%s: %w", st.Message(), ErrCannotResolve)
	case reason == reasonNotConnected:
		return NotConnected(msg)
	case st.Code() == codes.InvalidArgument:
		return Permanent(msg)
	case st.Code() == codes.Canceled:
		return fmt.Errorf("%w: %s", context.Canceled, st.Message())
	case st.Code() == codes.DeadlineExceeded:
		return fmt.Errorf("%w: %s", context.DeadlineExceeded, st.Message())
	case st.Code() == codes.Unavailable:
		// No reason attached: the transport itself failed.
		return NotConnected(msg)
	}
	return msg
}

// grpcSizeRE matches gRPC's own message-size errors, e.g. "grpc: received
// message larger than max (52428850 vs. 33554432)".
var grpcSizeRE = regexp.MustCompile(`^grpc: (?:received|trying to send) message larger than max \((\d+) vs\. (\d+)\)`)

func grpcSizeLimit(msg string) *LimitError {
	m := grpcSizeRE.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	got, _ := strconv.ParseInt(m[1], 10, 64)
	maxBytes, _ := strconv.ParseInt(m[2], 10, 64)
	return &LimitError{Limit: LimitRequestBytes, Max: maxBytes, Got: got}
}

// ErrSendSkipped is the core's, never an adapter's: a Send it did not make
// because an earlier attempt with the same idempotency key may have
// reached the platform (begun, never recorded) and the channel's policy
// for such sends is to skip them rather than risk a duplicate.
var ErrSendSkipped = errors.New("send skipped: an earlier attempt may have reached the platform")

// ErrCannotResolve is what a SendResolver returns (wrapped or not) when
// its platform offers no way to look this send up (a provider without a
// lookup): the core then follows the channel's policy for sends in doubt.
var ErrCannotResolve = errors.New("the platform cannot tell whether this send went out")
