package boltstore

import (
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer is the group commit: one goroutine runs write transactions one
// after another, and each transaction carries every write call that arrived
// while the previous one was being fsynced. A lone call therefore waits for
// one fsync and no timer (bbolt's DB.Batch waits MaxBatchDelay first), and
// under load the batch grows by itself to what arrives during an fsync.
//
// Like DB.Batch, a call's function may run more than once: when it fails,
// the transaction is rolled back, the failing call is run again alone (so
// its error is its own, not a side effect of a neighbour) and the rest of
// the batch is retried without it. Functions must therefore be idempotent
// apart from their effect on the transaction.
type committer struct {
	db       *bolt.DB
	maxBatch int
	onCommit func() // counts committed transactions
	// wrapErr explains a commit's write error (disk full, read-only).
	wrapErr func(error) error

	mu      sync.Mutex
	queue   []call
	closed  bool
	wake    chan struct{} // capacity 1: "the queue is not empty"
	stopped chan struct{}
	// holdTx, when set by a test, runs inside each batch transaction before
	// the calls, so a test can see batches form deterministically.
	holdTx func()
}

type call struct {
	fn   func(*bolt.Tx) error
	done chan error
}

var errCommitterClosed = errors.New("committer closed")

func newCommitter(db *bolt.DB, maxBatch int, onCommit func(), wrapErr func(error) error) *committer {
	c := &committer{db: db, maxBatch: maxBatch, onCommit: onCommit, wrapErr: wrapErr,
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.loop()
	return c
}

// do runs fn in a group-committed transaction and returns once that
// transaction is on disk (or failed).
func (c *committer) do(fn func(*bolt.Tx) error) error {
	cl := call{fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errCommitterClosed
	}
	c.queue = append(c.queue, cl)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // already signalled
	}
	return <-cl.done
}

// close stops the loop after the calls already queued are committed.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.stopped
}

func (c *committer) loop() {
	defer close(c.stopped)
	for range c.wake {
		for {
			c.mu.Lock()
			n := min(len(c.queue), c.maxBatch)
			batch := c.queue[:n:n]
			c.queue = c.queue[n:]
			closed := c.closed
			c.mu.Unlock()
			if n == 0 {
				if closed {
					return
				}
				break
			}
			c.commit(batch)
		}
	}
}

func (c *committer) commit(calls []call) {
	for len(calls) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			if c.holdTx != nil {
				c.holdTx()
			}
			for i, cl := range calls {
				if err := safely(cl.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			solo := calls[failed]
			calls = append(calls[:failed:failed], calls[failed+1:]...)
			solo.done <- c.update(solo.fn)
			continue
		}
		if err == nil {
			c.onCommit()
		} else {
			err = c.wrapErr(err)
		}
		// Success, or a commit error (disk full, I/O) that every call shares.
		for _, cl := range calls {
			cl.done <- err
		}
		return
	}
}

func (c *committer) update(fn func(*bolt.Tx) error) error {
	err := c.db.Update(func(tx *bolt.Tx) error { return safely(fn, tx) })
	if err == nil {
		c.onCommit()
	} else {
		err = c.wrapErr(err)
	}
	return err
}

// safely turns a panic in fn into an error so one bad call cannot take the
// committer (and every caller waiting on it) down.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in store transaction: %v", p)
		}
	}()
	return fn(tx)
}
