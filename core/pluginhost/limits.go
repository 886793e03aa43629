package pluginhost

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Limits bound what an adapter may hand the core through Host.Deliver, so
// that the core's memory stays bounded whatever an adapter sends. Zero
// fields take the defaults.
type Limits struct {
	// MaxTextChars bounds one message's text in UTF-16 code units, as
	// LiveEngage counts; a text that could never fit a Send API request
	// (5000 characters in all) is refused rather than dead-lettered later.
	MaxTextChars int
	// MaxMediaBytes bounds one media item.
	MaxMediaBytes int64
	// MaxBatchEvents bounds the events of one Deliver call.
	MaxBatchEvents int
	// MaxInFlightBytes bounds the bytes of Deliver calls being stored at
	// once; it is also the largest one call may be on the wire.
	MaxInFlightBytes int64
	// LogLinesPerSecond bounds the adapter's log lines mirrored into the
	// core's log; past it the core reads the adapter's stderr no faster.
	LogLinesPerSecond int
}

// DefaultLimits match the config defaults.
var DefaultLimits = Limits{
	MaxTextChars: 5000, MaxMediaBytes: 20 << 20, MaxBatchEvents: 100, MaxInFlightBytes: 32 << 20, LogLinesPerSecond: 1000,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxTextChars > 0 {
		d.MaxTextChars = l.MaxTextChars
	}
	if l.MaxMediaBytes > 0 {
		d.MaxMediaBytes = l.MaxMediaBytes
	}
	if l.MaxBatchEvents > 0 {
		d.MaxBatchEvents = l.MaxBatchEvents
	}
	if l.MaxInFlightBytes > 0 {
		d.MaxInFlightBytes = min(l.MaxInFlightBytes, sdk.MaxMessageBytes)
	}
	if l.LogLinesPerSecond > 0 {
		d.LogLinesPerSecond = l.LogLinesPerSecond
	}
	return d
}

// busyRetry is what an adapter over the bytes in flight is told to wait.
const busyRetry = time.Second

// boundedInbox is Host.Deliver for one channel with its limits applied:
// a call over a bound is refused whole, before anything is stored.
type boundedInbox struct {
	channel  string
	limits   Limits
	next     sdk.Deliverer
	inFlight *semaphore.Weighted
	refused  func(channel, limit string)
}

func newBoundedInbox(channel string, l Limits, next sdk.Deliverer, refused func(channel, limit string)) *boundedInbox {
	if refused == nil {
		refused = func(string, string) {}
	}
	return &boundedInbox{channel: channel, limits: l, next: next, inFlight: semaphore.NewWeighted(l.MaxInFlightBytes), refused: refused}
}

// Deliver refuses a call over a size or count bound, then holds its bytes
// in the channel's in-flight budget while the core stores it.
func (b *boundedInbox) Deliver(ctx context.Context, events []sdk.Event) error {
	size, err := b.check(events)
	if err == nil && !b.inFlight.TryAcquire(size) {
		err = sdk.RetryAfter(busyRetry, &sdk.LimitError{Limit: sdk.LimitInFlightBytes, Max: b.limits.MaxInFlightBytes, Got: size})
	}
	if err != nil {
		var le *sdk.LimitError
		if errors.As(err, &le) {
			b.refused(b.channel, le.Limit)
		}
		return err
	}
	defer b.inFlight.Release(size)
	return b.next.Deliver(ctx, events)
}

// check refuses a call over a size or count bound and returns its size.
func (b *boundedInbox) check(events []sdk.Event) (int64, error) {
	if n := len(events); n > b.limits.MaxBatchEvents {
		return 0, sdk.Permanent(&sdk.LimitError{Limit: sdk.LimitBatchEvents, Max: int64(b.limits.MaxBatchEvents), Got: int64(n)})
	}
	var total int64
	for _, e := range events {
		if m := e.Message; m != nil {
			if n := sdk.UTF16Len(m.Text); n > b.limits.MaxTextChars {
				return 0, sdk.Permanent(&sdk.LimitError{Limit: sdk.LimitTextChars, Max: int64(b.limits.MaxTextChars), Got: int64(n), Event: e.ID})
			}
			for _, md := range m.Media {
				if n := int64(len(md.Data)); n > b.limits.MaxMediaBytes {
					return 0, sdk.Permanent(&sdk.LimitError{Limit: sdk.LimitMediaBytes, Max: b.limits.MaxMediaBytes, Got: n, Event: e.ID})
				}
			}
		}
		total += eventBytes(e)
	}
	if total > b.limits.MaxInFlightBytes {
		return 0, sdk.Permanent(&sdk.LimitError{Limit: sdk.LimitInFlightBytes, Max: b.limits.MaxInFlightBytes, Got: total})
	}
	return total, nil
}

// eventBytes estimates what storing e holds in memory: its variable parts.
func eventBytes(e sdk.Event) int64 {
	n := int64(len(e.ID) + len(e.Consumer.ID) + len(e.Consumer.DisplayName) + len(e.Address.ChatID) + 256)
	for k, v := range e.Consumer.Attributes {
		n += int64(len(k) + len(v))
	}
	if m := e.Message; m != nil {
		n += int64(len(m.ID) + len(m.Text))
		for _, md := range m.Media {
			n += int64(len(md.Data) + len(md.Caption) + len(md.FileName) + len(md.ContentType))
		}
		if m.Choice != nil {
			n += int64(len(m.Choice.ID) + len(m.Choice.Text))
		}
	}
	if r := e.Receipt; r != nil {
		for _, id := range r.MessageIDs {
			n += int64(len(id))
		}
	}
	return n
}
