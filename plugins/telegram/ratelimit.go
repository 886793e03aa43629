package telegram

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// limiter keeps the adapter within Telegram's advice (channels.md §1.10):
// about one message per second per chat, 30 per second overall. Each is a
// token bucket; a send reserves a token and waits until it is due.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   int
	perChat map[string]*bucket
	global  *bucket
}

type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newLimiter(perChatRate float64, perChatBurst int, globalRate float64) *limiter {
	return &limiter{
		rate:    perChatRate,
		burst:   perChatBurst,
		perChat: map[string]*bucket{},
		global:  &bucket{rate: globalRate, burst: globalRate, tokens: max(1, globalRate)},
	}
}

// reserve takes a token (the balance may go negative) and returns how long
// to wait before using it.
func (b *bucket) reserve(now time.Time) time.Duration {
	if !b.last.IsZero() {
		b.tokens = min(max(1, b.burst), b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// wait blocks until one more message may go to chat, or ctx ends. A wait
// longer than maxWait is not started: the token is given back and the core
// is asked to retry later (sdk.RetryAfter), since the SDK runs Send with a
// context that is never cancelled.
func (l *limiter) wait(ctx context.Context, chat string, maxWait time.Duration) error {
	l.mu.Lock()
	now := time.Now()
	b, ok := l.perChat[chat]
	if !ok {
		if len(l.perChat) >= 10000 {
			l.evictIdleLocked(now)
		}
		b = &bucket{rate: l.rate, burst: float64(l.burst), tokens: float64(l.burst)}
		l.perChat[chat] = b
	}
	d := b.reserve(now)
	if d > maxWait {
		b.tokens++
		l.mu.Unlock()
		return sdk.RetryAfter(d, fmt.Errorf("telegram: chat %s is over its rate limit of %v messages/s", chat, l.rate))
	}
	l.mu.Unlock()
	if err := sleep(ctx, d); err != nil {
		return err
	}
	// The global token is taken when the chat's turn has come, so it is not
	// held while waiting for a slow chat.
	l.mu.Lock()
	d = l.global.reserve(time.Now())
	l.mu.Unlock()
	return sleep(ctx, d)
}

// evictIdleLocked forgets chats whose buckets are full again.
func (l *limiter) evictIdleLocked(now time.Time) {
	for k, b := range l.perChat {
		if b.tokens+now.Sub(b.last).Seconds()*b.rate >= b.burst {
			delete(l.perChat, k)
		}
	}
}
