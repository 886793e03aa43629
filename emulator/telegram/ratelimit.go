package telegram

import (
	"math"
	"time"
)

// bucket is a token bucket; a nil bucket never limits. Callers hold e.mu.
type bucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) *bucket {
	if rate < 0 {
		return nil
	}
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// wait reports how long until one token is available (0 if now).
func (b *bucket) wait(now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.refill(now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

func (b *bucket) take(now time.Time) {
	if b == nil {
		return
	}
	b.refill(now)
	b.tokens--
}

func (b *bucket) refill(now time.Time) {
	if !b.last.IsZero() {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

// allowSendLocked applies the per-chat and global limits to one message
// sent to chatID. It takes a token from both or from neither and returns
// the retry_after in whole seconds (at least 1) when refused.
func (e *Emulator) allowSendLocked(chatID int64) (retryAfter int, ok bool) {
	now := time.Now()
	cb, found := e.chatBuckets[chatID]
	if !found {
		cb = newBucket(e.opts.ChatRate, e.opts.ChatBurst)
		e.chatBuckets[chatID] = cb
	}
	w := max(cb.wait(now), e.global.wait(now))
	if w > 0 {
		return max(1, int(math.Ceil(w.Seconds()))), false
	}
	cb.take(now)
	e.global.take(now)
	return 0, true
}
