package conversation

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/core/store"
)

// outcome is what a handler decided about an item.
type outcome int

const (
	outcomeDone       outcome = iota // ack it
	outcomeRetry                     // keep it; try again after a backoff
	outcomeDeadLetter                // move it to the dead-letter list
)

// result is a handler's verdict; err explains retry and dead-letter.
type result struct {
	outcome outcome
	err     error
	// wait, when positive, is how long to wait before the retry (a platform's
	// retry-after); otherwise the dispatcher's backoff applies.
	wait time.Duration
	// effects are stored in the same commit as the ack of a done item.
	effects store.Effects
}

func ok() result { return result{outcome: outcomeDone} }

// okLinked is done, with links recorded atomically with the ack.
func okLinked(links ...store.MessageLink) result {
	return result{outcome: outcomeDone, effects: store.Effects{Links: links}}
}
func retryAfter(err error, d time.Duration) result {
	return result{outcome: outcomeRetry, err: err, wait: d}
}
func retryLater(err error) result { return result{outcome: outcomeRetry, err: err} }
func deadLetter(err error) result { return result{outcome: outcomeDeadLetter, err: err} }

// handler processes one item of a key; the dispatcher calls it for one item
// of a key at a time, in order. next is the key's buffered successors, for
// handlers that reorder (outbound picks the lowest LiveEngage sequence).
type handler func(ctx context.Context, item store.Item, attempt int) result

// dispatcher drains one queue: items of the same key strictly in order, one
// at a time; different keys in parallel, at most workers at once.
type dispatcher struct {
	queue   store.Queue
	handle  handler
	workers int
	backoff backoff
	log     hclog.Logger
	// pick, if set, chooses which buffered item of a key goes next (default:
	// the first), or asks to wait a while for a better one to arrive; it lets
	// outbound deliver by LiveEngage sequence.
	pick func(items []store.Item) (int, time.Duration)
	// maxBuffered bounds items read from the store but not yet done.
	maxBuffered int
	// onOutcome observes every verdict (metrics).
	onOutcome func(item store.Item, r result, took time.Duration)

	// stopping is closed when the dispatcher stops reading: workers finish
	// the attempt in progress but start no retry.
	stopping <-chan struct{}

	mu       sync.Mutex
	keys     map[string][]store.Item // buffered items per key; present while a worker runs for the key
	buffered int
	changed  chan struct{} // closed (and replaced) when the buffer changes
	sem      chan struct{}
	wg       sync.WaitGroup
}

// backoff is the retry schedule for transient failures.
type backoff struct {
	Initial time.Duration
	Max     time.Duration
}

func (b backoff) after(attempt int) time.Duration {
	d := b.Initial
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// retryWait is the wait before attempt+1. A handler's own wait (a
// platform's retry-after, a brief wait for something about to happen) is a
// floor; from the third attempt on the backoff grows under it too, so that
// no retry path spins however short the wait it asks for.
func (b backoff) retryWait(attempt int, asked time.Duration) time.Duration {
	switch {
	case asked <= 0:
		return b.after(attempt)
	case attempt > 2:
		return max(asked, b.after(attempt-2))
	}
	return asked
}

// run reads the queue until ctx ends, then waits for workers to finish
// their current item (they stop at work's end: cancel work to cut them short).
func (d *dispatcher) run(ctx, work context.Context) error {
	if d.maxBuffered <= 0 {
		d.maxBuffered = 10000
	}
	d.keys = map[string][]store.Item{}
	d.stopping = ctx.Done()
	d.changed = make(chan struct{})
	d.sem = make(chan struct{}, d.workers)
	defer d.wg.Wait()
	var cursor uint64
	for ctx.Err() == nil {
		// Bound memory: wait while too much is buffered.
		d.mu.Lock()
		full, changed := d.buffered >= d.maxBuffered, d.changed
		d.mu.Unlock()
		if full {
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		items, err := d.queue.Pending(ctx, cursor, min(500, d.maxBuffered))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			d.log.Error("read queue", "queue", d.queue.Name(), "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if len(items) == 0 {
			if err := d.queue.Wait(ctx, cursor); err != nil && !errors.Is(err, context.Canceled) {
				d.log.Error("wait on queue", "queue", d.queue.Name(), "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for _, it := range items {
			cursor = it.Seq
			d.add(work, it)
		}
	}
	return nil
}

// add buffers an item behind its key, starting the key's worker if idle.
func (d *dispatcher) add(work context.Context, it store.Item) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buffered++
	if q, running := d.keys[it.Key]; running {
		d.keys[it.Key] = append(q, it)
		d.signal() // a worker waiting for a missing item re-picks
		return
	}
	d.keys[it.Key] = []store.Item{it}
	d.wg.Add(1)
	go d.worker(work, it.Key)
}

// worker processes a key's items until none are buffered.
func (d *dispatcher) worker(ctx context.Context, key string) {
	defer d.wg.Done()
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		d.finishKey(key)
		return
	case <-d.stopping:
		d.finishKey(key)
		return
	}
	defer func() { <-d.sem }()
	for {
		select {
		case <-d.stopping: // finish the item in hand, start no other
			d.finishKey(key)
			return
		default:
		}
		d.mu.Lock()
		items := d.keys[key]
		if len(items) == 0 {
			delete(d.keys, key)
			d.mu.Unlock()
			return
		}
		i, wait := 0, time.Duration(0)
		if d.pick != nil {
			i, wait = d.pick(items)
		}
		it, changed := items[i], d.changed
		d.mu.Unlock()
		if wait > 0 {
			// Wait for the missing item, waking when anything changes.
			t := time.NewTimer(wait)
			stopped := false
			select {
			case <-t.C:
			case <-changed:
			case <-ctx.Done():
				stopped = true
			case <-d.stopping:
				stopped = true
			}
			t.Stop()
			if stopped {
				d.finishKey(key)
				return
			}
			continue
		}

		if !d.process(ctx, it) {
			d.finishKey(key)
			return // shutting down; the item stays in the store
		}
		d.mu.Lock()
		items = d.keys[key]
		for j := range items {
			if items[j].Seq == it.Seq {
				d.keys[key] = append(items[:j:j], items[j+1:]...)
				break
			}
		}
		d.buffered--
		d.signal()
		d.mu.Unlock()
	}
}

// signal wakes everyone waiting for the buffer to change; d.mu is held.
func (d *dispatcher) signal() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// finishKey forgets a key's buffered items (they stay in the store and are
// read again after a restart).
func (d *dispatcher) finishKey(key string) {
	d.mu.Lock()
	d.buffered -= len(d.keys[key])
	delete(d.keys, key)
	d.mu.Unlock()
}

// process handles one item until it is acked or dead-lettered; it returns
// false when ctx ended first.
func (d *dispatcher) process(ctx context.Context, it store.Item) bool {
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return false
		}
		start := time.Now()
		r := d.handle(ctx, it, attempt)
		if ctx.Err() != nil && r.outcome != outcomeDone {
			return false
		}
		if d.onOutcome != nil {
			d.onOutcome(it, r, time.Since(start))
		}
		switch r.outcome {
		case outcomeDone:
			if err := d.ack(ctx, it, r.effects); err != nil {
				return false
			}
			return true
		case outcomeDeadLetter:
			d.log.Error("dead-lettered", "queue", d.queue.Name(), "key", it.Key, "seq", it.Seq, "err", r.err)
			if _, err := d.queue.DeadLetter(context.WithoutCancel(ctx), it.Seq, r.err.Error()); err != nil && !errors.Is(err, store.ErrNotFound) {
				d.log.Error("dead-letter", "seq", it.Seq, "err", err)
				return false
			}
			return true
		}
		select {
		case <-d.stopping:
			return false // shutting down: the item stays queued for the next start
		default:
		}
		wait := d.backoff.retryWait(attempt, r.wait)
		d.log.Warn("will retry", "queue", d.queue.Name(), "key", it.Key, "seq", it.Seq, "attempt", attempt, "wait", wait, "err", r.err)
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// ack retries a failing ack a few times: the item's effect happened already,
// so giving up would repeat it after a restart.
func (d *dispatcher) ack(ctx context.Context, it store.Item, fx store.Effects) error {
	var err error
	for i := 0; i < 5; i++ {
		err = d.queue.AckEffects(context.WithoutCancel(ctx), it.Seq, fx)
		if err == nil {
			return nil
		}
		d.log.Error("ack", "queue", d.queue.Name(), "seq", it.Seq, "err", err)
		if !sleep(ctx, 100*time.Millisecond<<i) {
			break
		}
	}
	return err
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
