package conversation

import (
	"context"
	"sync"
	"time"
)

// A takeover is the first item of a conversation worked on after its lease
// lapsed in the hands of another instance, which may have died in the
// middle of sending it: its adapter may have sent a message and, its core
// gone, could not record the send in the store. The SDK journals such a
// send locally and hands it to the store when that instance starts again,
// so each send of that item first waits (once, up to InDoubtWait) for its
// record to appear. Found: the adapter answers the Send from the journal.
type takeover struct {
	mu      sync.Mutex
	awaited map[string]bool // send keys already waited for
}

type takeoverKey struct{}

func withTakeover(ctx context.Context) context.Context {
	return context.WithValue(ctx, takeoverKey{}, &takeover{awaited: map[string]bool{}})
}

// inDoubt reports whether the send key of a taken-over item is yet to be
// waited for (true once per key).
func inDoubt(ctx context.Context, key string) bool {
	t, ok := ctx.Value(takeoverKey{}).(*takeover)
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.awaited[key] {
		return false
	}
	t.awaited[key] = true
	return true
}

// inDoubtPoll is how often the journal is read while waiting: this runs only
// after a takeover, for the first item of a conversation.
const inDoubtPoll = 200 * time.Millisecond

// awaitSendRecord waits up to InDoubtWait for the journal to show the send
// key on channel. When none appears the message is sent: if the dead
// instance had sent it, the consumer sees it twice, so this is counted.
func (e *Engine) awaitSendRecord(ctx context.Context, channel, key string) {
	start := time.Now()
	for {
		_, found, err := e.opts.Store.LookupSend(ctx, channel, key)
		if err == nil && found {
			if waited := time.Since(start); waited > inDoubtPoll {
				e.log.Info("a send of a taken-over conversation was reported by the instance that made it", "channel", channel, "key", key, "waited", waited.Round(time.Millisecond))
			}
			return
		}
		if time.Since(start) >= e.opts.InDoubtWait || !sleep(ctx, inDoubtPoll) {
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	if st, err := e.opts.Store.SendState(ctx, channel, key); err == nil && st.InDoubt {
		return // its intent is recorded: the channel's policy for sends in doubt decides, and counts it
	}
	e.metrics.sendsInDoubt.WithLabelValues(channel, "resent_after_takeover").Inc()
	e.log.Warn("sending a message of a taken-over conversation that the instance that died may have sent: no record of its send appeared within delivery.in_doubt_wait; if it had, the consumer sees it twice",
		"channel", channel, "key", key, "in_doubt_wait", e.opts.InDoubtWait)
}

// SendInDoubt counts and logs a send found begun and never recorded (its
// adapter died between the platform's answer and the record), and what the
// channel's policy made of it: "resent" or "skipped".
func (e *Engine) SendInDoubt(channel, key, outcome string, begun time.Time) {
	e.metrics.sendsInDoubt.WithLabelValues(channel, outcome).Inc()
	e.log.Warn("a send may or may not have reached the platform: it was begun and its outcome never recorded (the adapter died meanwhile?)",
		"channel", channel, "key", key, "begun", begun, "outcome", outcome)
}
