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

// handler processes one item of a key under its lease (writes it makes
// to the item, such as MarkAttempted, carry the lease); the dispatcher
// calls it for one item of a key at a time.
type handler func(ctx context.Context, lease store.Lease, item store.Item, attempt int) result

// dispatcher drains one queue through the store's leases: it claims keys
// with pending items up to its worker budget and works each claimed key's
// items one at a time, in order, while different keys run in parallel. The
// store guarantees that no other owner (another instance, or a worker of
// this one whose lease lapsed) holds the key meanwhile.
type dispatcher struct {
	queue   store.Queue
	handle  handler
	workers int
	backoff backoff
	log     hclog.Logger
	// owner names this process in leases; unique per run.
	owner string
	// leaseTTL is how long a claim holds a key unless extended; workers
	// extend every third of it while they hold the key.
	leaseTTL time.Duration
	// pick, if set, chooses which buffered item of a key goes next (default:
	// the first), or asks to wait a while for a better one to arrive; it lets
	// outbound deliver by LiveEngage sequence.
	pick func(items []store.Item, notBefore time.Time) (int, time.Duration)
	// maxItems bounds the items of one key read ahead; with workers it
	// bounds what the dispatcher holds in memory.
	maxItems int
	// onOutcome observes every verdict (metrics).
	onOutcome func(item store.Item, r result, took time.Duration)
	// onClaim observes every claim (metrics, readiness); onLost every lease
	// lost while working.
	onClaim func(claims []store.Claim, took time.Duration, err error)
	onLost  func()

	// stopping is closed when the dispatcher stops claiming: workers finish
	// the attempt in progress, start no other and release their keys.
	stopping <-chan struct{}
	// gaveBack wakes the claim loop when a worker gave a key back (released
	// it, or drained it) that may have items (capacity 1: one pending wake
	// is enough).
	gaveBack chan struct{}
	wg       sync.WaitGroup

	heldMu sync.Mutex
	held   map[uint64]heldKey // by token: the keys workers hold now
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

// run claims keys until ctx ends, then waits for workers to finish their
// current item and release their keys (they stop at work's end: cancel
// work to cut them short).
func (d *dispatcher) run(ctx, work context.Context) error {
	if d.maxItems <= 0 {
		d.maxItems = 100
	}
	if d.leaseTTL <= 0 {
		d.leaseTTL = 30 * time.Second
	}
	d.stopping = ctx.Done()
	d.gaveBack = make(chan struct{}, 1)
	d.held = map[uint64]heldKey{}
	extendCtx, stopExtending := context.WithCancel(context.WithoutCancel(ctx))
	defer stopExtending() // after the workers are done (deferred below)
	go d.extendLeases(extendCtx)
	slots := make(chan struct{}, d.workers) // one per worker running
	defer d.wg.Wait()
	leases := d.queue.Leases()
	for ctx.Err() == nil {
		free := d.workers - len(slots)
		if free == 0 {
			select { // every worker busy: wait for one to finish
			case slots <- struct{}{}:
				<-slots
			case <-ctx.Done():
			}
			continue
		}
		// The mark is read before the claim, so an item committed after
		// the claim looked wakes the wait below.
		mark := d.queue.Last()
		start := time.Now()
		// Not cut short by the stop: a claim the store committed but whose
		// answer we dropped would hold its keys until the leases lapse.
		// Keys claimed as the stop begins are given back by their workers.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.leaseTTL/3)
		claims, err := leases.Claim(cctx, d.owner, free, d.maxItems, d.leaseTTL)
		cancel()
		if d.onClaim != nil {
			d.onClaim(claims, time.Since(start), err)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			d.log.Error("claim", "queue", d.queue.Name(), "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for _, c := range claims {
			if c.TakenOver {
				d.log.Info("took over a conversation whose lease lapsed", "queue", d.queue.Name(), "key", c.Lease.Key, "token", c.Lease.Token)
			}
			slots <- struct{}{}
			d.wg.Add(1)
			go func() {
				defer func() { <-slots; d.wg.Done() }()
				d.work(work, c)
			}()
		}
		if len(claims) > 0 {
			continue
		}
		// Nothing to claim: wait for a new item, for a worker to give a
		// key back (it may have left items), or for a lease elsewhere to
		// lapse (another instance died holding a key).
		waitCtx, cancel := context.WithTimeout(ctx, d.leaseTTL/2)
		go func() {
			select {
			case <-d.gaveBack:
				cancel()
			case <-waitCtx.Done():
			}
		}()
		if err := d.queue.Wait(waitCtx, mark); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			d.log.Error("wait on queue", "queue", d.queue.Name(), "err", err)
			sleep(ctx, time.Second)
		}
		cancel()
	}
	return nil
}

// work drains one claimed key: its items one at a time (in the order pick
// chooses), reading more while the key has them, until an ack reports the
// key drained (the store released it in that commit), the lease is lost,
// or the dispatcher stops (the key is released for whoever comes next).
func (d *dispatcher) work(ctx context.Context, c store.Claim) {
	lease := c.Lease
	ctx, done := d.hold(ctx, lease)
	defer done()
	buf := c.Items
	// A key taken over from a holder that died: what it could not finish
	// (LiveEngage's retries of deliveries to it among them) comes back from
	// about now, so picking waits count from here, and from the end of the
	// first item, which may have waited for the dead holder's send.
	var notBefore time.Time
	if c.TakenOver {
		notBefore = time.Now()
	}
	var last uint64 // the highest seq read
	for _, it := range buf {
		last = max(last, it.Seq)
	}
	leases := d.queue.Leases()
	for {
		select {
		case <-d.stopping: // finish nothing more; the key goes back
			d.release(ctx, lease)
			return
		default:
		}
		if len(buf) == 0 {
			more, err := leases.Items(ctx, lease, last, d.maxItems)
			switch {
			case errors.Is(err, store.ErrLeaseLost) || ctx.Err() != nil:
				return
			case err != nil:
				d.log.Error("read items", "queue", d.queue.Name(), "key", lease.Key, "err", err)
				if !sleep(ctx, time.Second) {
					return
				}
				continue
			case len(more) == 0: // the last item was dead-lettered
				d.release(ctx, lease)
				return
			}
			buf = more
			last = more[len(more)-1].Seq
		}
		i, wait := 0, time.Duration(0)
		if d.pick != nil {
			i, wait = d.pick(buf, notBefore)
		}
		if wait > 0 {
			// A missing item: read what arrived since (bounded), and if
			// nothing did, wait until something is committed to the queue
			// (the mark is read first, so nothing slips by) or the wait
			// is over; then pick again.
			mark := d.queue.Last()
			if len(buf) < d.maxItems {
				more, err := leases.Items(ctx, lease, last, d.maxItems-len(buf))
				switch {
				case errors.Is(err, store.ErrLeaseLost) || ctx.Err() != nil:
					return
				case err != nil:
					d.log.Error("read items", "queue", d.queue.Name(), "key", lease.Key, "err", err)
				case len(more) > 0:
					buf = append(buf, more...)
					last = more[len(more)-1].Seq
					continue
				}
			}
			if !d.awaitItem(ctx, mark, wait) {
				d.release(ctx, lease)
				return
			}
			continue
		}
		it := buf[i]
		ictx := ctx
		takenOver := c.TakenOver
		if takenOver {
			// The first item worked on: the dead holder may have been
			// in the middle of it.
			ictx, c.TakenOver = withTakeover(ctx), false
		}
		drained, ok := d.process(ictx, lease, it)
		if takenOver {
			notBefore = time.Now()
		}
		if !ok {
			if ctx.Err() == nil || d.stoppingNow() {
				d.release(ctx, lease)
			}
			return
		}
		if drained {
			// An item of the key committed while the ack decided it was the
			// last (PostgreSQL commits concurrently) woke the claim loop
			// while the key was still held: have it look again.
			d.wakeClaims()
			return
		}
		buf = append(buf[:i:i], buf[i+1:]...)
	}
}

// awaitItem waits up to wait for an item above mark, reporting false when
// the dispatcher stops or ctx ends first.
func (d *dispatcher) awaitItem(ctx context.Context, mark uint64, wait time.Duration) bool {
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	go func() {
		select {
		case <-d.stopping:
			cancel()
		case <-waitCtx.Done():
		}
	}()
	err := d.queue.Wait(waitCtx, mark)
	return ctx.Err() == nil && !d.stoppingNow() && (err == nil || errors.Is(err, context.DeadlineExceeded))
}

func (d *dispatcher) stoppingNow() bool {
	select {
	case <-d.stopping:
		return true
	default:
		return false
	}
}

// held counts the keys this dispatcher's workers hold now.
func (d *dispatcher) heldKeys() int {
	d.heldMu.Lock()
	defer d.heldMu.Unlock()
	return len(d.held)
}

// hold registers a claimed key for extendLeases until the returned stop
// is called; the returned context ends when the lease is lost, so a
// handler working for a key that moved to another owner stops.
func (d *dispatcher) hold(ctx context.Context, lease store.Lease) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	d.heldMu.Lock()
	d.held[lease.Token] = heldKey{lease: lease, lost: cancel}
	d.heldMu.Unlock()
	return ctx, func() {
		d.heldMu.Lock()
		delete(d.held, lease.Token)
		d.heldMu.Unlock()
		cancel()
	}
}

type heldKey struct {
	lease store.Lease
	lost  context.CancelFunc
}

// extendLeases renews every held lease each third of the lease ttl until
// ctx ends: one loop for all keys, not a timer per key.
func (d *dispatcher) extendLeases(ctx context.Context) {
	t := time.NewTicker(d.leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.heldMu.Lock()
		held := make([]heldKey, 0, len(d.held))
		for _, h := range d.held {
			held = append(held, h)
		}
		d.heldMu.Unlock()
		for _, h := range held {
			_, err := d.queue.Leases().Extend(ctx, h.lease, d.leaseTTL)
			switch {
			case errors.Is(err, store.ErrLeaseLost):
				d.log.Warn("lease lost", "queue", d.queue.Name(), "key", h.lease.Key, "token", h.lease.Token)
				if d.onLost != nil {
					d.onLost()
				}
				h.lost()
			case err != nil && ctx.Err() == nil:
				d.log.Error("extend lease", "queue", d.queue.Name(), "key", h.lease.Key, "err", err)
			}
		}
	}
}

// release gives a key back (its items stay for the next claim) and wakes
// the claim loop, which may take it again.
func (d *dispatcher) release(ctx context.Context, lease store.Lease) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.queue.Leases().Release(rctx, lease); err != nil {
		d.log.Warn("release", "queue", d.queue.Name(), "key", lease.Key, "err", err)
	}
	d.wakeClaims()
}

// wakeClaims has the claim loop look for work again (a key was given back).
func (d *dispatcher) wakeClaims() {
	select {
	case d.gaveBack <- struct{}{}:
	default:
	}
}

// process handles one item until it is acked or dead-lettered. ok is false
// when ctx ended, the dispatcher stopped or the lease was lost first;
// drained reports that the ack took the key's last item.
func (d *dispatcher) process(ctx context.Context, lease store.Lease, it store.Item) (drained, ok bool) {
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return false, false
		}
		start := time.Now()
		r := d.handle(ctx, lease, it, attempt)
		if ctx.Err() != nil && r.outcome != outcomeDone {
			return false, false
		}
		if d.onOutcome != nil {
			d.onOutcome(it, r, time.Since(start))
		}
		switch r.outcome {
		case outcomeDone:
			drained, err := d.ack(ctx, lease, it, r.effects)
			return drained, err == nil
		case outcomeDeadLetter:
			d.log.Error("dead-lettered", "queue", d.queue.Name(), "key", it.Key, "seq", it.Seq, "err", r.err)
			err := d.settle(ctx, "dead-letter", it, func(ctx context.Context) error {
				_, err := d.queue.Leases().DeadLetter(ctx, lease, it.Seq, r.err.Error())
				if errors.Is(err, store.ErrNotFound) {
					return nil // gone already
				}
				return err
			})
			return false, err == nil
		}
		if errors.Is(r.err, store.ErrLeaseLost) {
			return false, false
		}
		if d.stoppingNow() {
			return false, false // shutting down: the item stays queued for the next start
		}
		wait := d.backoff.retryWait(attempt, r.wait)
		d.log.Warn("will retry", "queue", d.queue.Name(), "key", it.Key, "seq", it.Seq, "attempt", attempt, "wait", wait, "err", r.err)
		if !sleep(ctx, wait) {
			return false, false
		}
	}
}

// ack records a done item and its effects.
func (d *dispatcher) ack(ctx context.Context, lease store.Lease, it store.Item, fx store.Effects) (drained bool, err error) {
	err = d.settle(ctx, "ack", it, func(ctx context.Context) error {
		var err error
		drained, err = d.queue.Leases().Ack(ctx, lease, it.Seq, fx)
		return err
	})
	return drained, err
}

// settle retries a write that records what an item did (its ack, its
// dead-lettering) until it succeeds, the lease is lost or the work
// context ends: the item's effect happened already, so giving up and
// handling it again would repeat it. Waits grow to the retry maximum.
func (d *dispatcher) settle(ctx context.Context, what string, it store.Item, write func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := write(context.WithoutCancel(ctx))
		if err == nil || errors.Is(err, store.ErrLeaseLost) {
			return err
		}
		d.log.Error(what+" failed; will retry", "queue", d.queue.Name(), "key", it.Key, "seq", it.Seq, "attempt", attempt, "err", err)
		if !sleep(ctx, d.backoff.after(attempt)) {
			return err
		}
	}
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
