package sdk

import (
	"context"
	"fmt"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Names of the bounds the core puts on Host.Deliver, as [LimitError.Limit]
// carries them. They match the channel's `limits:` keys in the core's config.
const (
	LimitTextChars     = "max_text_chars"      // one message's text, in UTF-16 code units
	LimitMediaBytes    = "max_media_bytes"     // one media item's bytes
	LimitBatchEvents   = "max_batch_events"    // events in one Deliver call
	LimitRequestBytes  = "max_request_bytes"   // one Deliver call on the wire
	LimitInFlightBytes = "max_in_flight_bytes" // Deliver calls being stored at once
)

// LimitError says the core refused a Deliver call because it is over one of
// the channel's bounds. Nothing of the call was stored, so do not acknowledge
// the platform. Check for it with errors.As. Over a size or count bound the
// error is [KindPermanent] (split the work or drop it); over the bytes in
// flight it is [KindRetryAfter] (the core is busy storing earlier calls).
type LimitError struct {
	Limit string // one of the Limit* names
	Max   int64  // the bound; 0 when the core did not say
	Got   int64  // what the call had; 0 when unknown
	Event string // the event over the bound, when one event is
}

func (e *LimitError) Error() string {
	what := "deliver refused: over " + e.Limit
	if e.Event != "" {
		what = fmt.Sprintf("deliver refused: event %q over %s", e.Event, e.Limit)
	}
	switch {
	case e.Max > 0 && e.Got > 0:
		return fmt.Sprintf("%s (%d, limit %d)", what, e.Got, e.Max)
	case e.Max > 0:
		return fmt.Sprintf("%s (limit %d)", what, e.Max)
	}
	return what
}

// reasonLimit marks a LimitError on the wire; its metadata carries the fields.
const reasonLimit = "LIMIT_EXCEEDED"

// limitStatus is toStatus for a LimitError (wrapped in e).
func limitStatus(e *Error, le *LimitError) *status.Status {
	info := &errdetails.ErrorInfo{Domain: errorDomain, Reason: reasonLimit, Metadata: map[string]string{
		"limit": le.Limit, "max": strconv.FormatInt(le.Max, 10), "got": strconv.FormatInt(le.Got, 10), "event": le.Event,
	}}
	st := status.New(codes.ResourceExhausted, e.Error())
	var err error
	if e.Kind == KindRetryAfter {
		st, err = st.WithDetails(info, &errdetails.RetryInfo{RetryDelay: durationpb.New(e.Delay)})
	} else {
		st, err = st.WithDetails(info)
	}
	if err != nil {
		return status.New(codes.ResourceExhausted, e.Error())
	}
	return st
}

// limitFromInfo rebuilds a LimitError from its ErrorInfo metadata.
func limitFromInfo(md map[string]string) *LimitError {
	le := &LimitError{Limit: md["limit"], Event: md["event"]}
	le.Max, _ = strconv.ParseInt(md["max"], 10, 64)
	le.Got, _ = strconv.ParseInt(md["got"], 10, 64)
	return le
}

// oversizeCounter is a gRPC stats handler that reports calls gRPC refused
// for their size: those end before any handler or interceptor runs.
type oversizeCounter func(limit string)

func (f oversizeCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (f oversizeCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (f oversizeCounter) HandleConn(context.Context, stats.ConnStats) {}

func (f oversizeCounter) HandleRPC(_ context.Context, s stats.RPCStats) {
	if end, ok := s.(*stats.End); ok && end.Error != nil {
		if st, _ := status.FromError(end.Error); st.Code() == codes.ResourceExhausted && grpcSizeLimit(st.Message()) != nil {
			f(LimitRequestBytes)
		}
	}
}
