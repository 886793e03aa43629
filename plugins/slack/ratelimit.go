package slack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// tier is a Web API rate tier (channels.md §2.6): requests per minute and
// the burst tolerated.
type tier struct {
	perMinute float64
	burst     int
}

// methodTiers are the tiers of the methods the adapter calls. Per method,
// per workspace, per app (§2.6). chat.postMessage is "Special": about one
// per second per channel (limited per channel below) plus several hundred
// per minute per workspace.
var methodTiers = map[string]tier{
	"auth.test":                    {100, 10}, // Tier 4 (Special per docs; UNCONFIRMED)
	"files.getUploadURLExternal":   {100, 10}, // Tier 4 (§2.8)
	"files.completeUploadExternal": {100, 10}, // Tier 4 (UNCONFIRMED)
	"chat.postMessage":             {300, 30}, // workspace-wide share of "Special"
	"apps.connections.open":        {20, 5},   // Tier 2 assumed (UNCONFIRMED); reconnects are rare
}

// postPerChannel is chat.postMessage's per-channel rate: 1 per second with
// short bursts (§2.7).
var postPerChannel = tier{perMinute: 60, burst: 3}

// limiter keeps the adapter inside Slack's limits before Slack has to
// answer 429. Each method and each channel is a token bucket; a call
// reserves a token and waits until it is due.
type limiter struct {
	mu      sync.Mutex
	scale   float64
	maxWait time.Duration
	buckets map[string]*bucket
}

type bucket struct {
	rate, burst, tokens float64 // rate per second
	last                time.Time
}

func newLimiter(scale float64, maxWait time.Duration) *limiter {
	return &limiter{scale: scale, maxWait: maxWait, buckets: map[string]*bucket{}}
}

// reserve takes a token (the balance may go negative) and returns how long
// to wait before using it.
func (b *bucket) reserve(now time.Time) time.Duration {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// wait blocks until a call to method (for channel, when not empty: the
// per-channel post limit) may go. A wait longer than maxWait is not
// started: the token is given back and the core is asked to retry later.
func (l *limiter) wait(ctx context.Context, method, channel string) error {
	if l == nil {
		return nil
	}
	key, t := method, methodTiers[method]
	if channel != "" {
		key, t = method+"@"+channel, postPerChannel
	}
	if t.perMinute == 0 {
		return nil
	}
	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= 10000 {
			l.evictIdleLocked(time.Now())
		}
		b = &bucket{rate: t.perMinute / 60 * l.scale, burst: float64(t.burst) * max(1, l.scale), tokens: float64(t.burst) * max(1, l.scale)}
		l.buckets[key] = b
	}
	d := b.reserve(time.Now())
	if d > l.maxWait {
		b.tokens++
		l.mu.Unlock()
		return sdk.RetryAfter(d, fmt.Errorf("slack %s: over the adapter's rate limit for %s", method, key))
	}
	l.mu.Unlock()
	t2 := time.NewTimer(d)
	defer t2.Stop()
	select {
	case <-t2.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limiter) evictIdleLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*b.rate >= b.burst {
			delete(l.buckets, k)
		}
	}
}
