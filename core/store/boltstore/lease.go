package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/store"
)

// Leases live in memory, in the store: the file is locked to one process
// (bbolt's flock), so no other process can ever hold one, and a lease
// outlives its process nowhere. Writing them to the file would cost a
// commit (an fsync) per claim and release for nothing. What must survive a
// restart does: tokens keep growing across opens (each Open starts a new
// epoch, persisted in meta), and the items a lease covers are on disk.
//
// A fenced write checks its lease before it is committed and counts as
// in flight until it is; a key with a write in flight is never claimed,
// so a claim's read transaction always sees the writes of the key's
// previous holder, even one whose lease lapsed while its write was queued.
type leaseTable struct {
	mu    sync.Mutex
	next  uint64 // the last fencing token handed out
	byKey map[string]*leaseEntry
}

type leaseEntry struct {
	lease  store.Lease
	writes int // fenced writes checked but not yet committed
}

// epochShift leaves each Open 2^40 tokens (three years of 10,000 claims a
// second) above every token of the earlier opens.
const epochShift = 40

var keyLeaseEpoch = []byte("lease_epoch")

// nextLeaseEpoch is called at Open, in its migration transaction.
func nextLeaseEpoch(meta *bolt.Bucket) (uint64, error) {
	epoch := readU64(meta.Get(keyLeaseEpoch)) + 1
	return epoch, meta.Put(keyLeaseEpoch, u64(epoch))
}

func newLeaseTable(epoch uint64) *leaseTable {
	return &leaseTable{next: epoch << epochShift, byKey: map[string]*leaseEntry{}}
}

// live returns key's entry if lease is its current, unexpired lease; t.mu held.
func (t *leaseTable) live(lease store.Lease, now time.Time) (*leaseEntry, error) {
	e := t.byKey[lease.Key]
	if e == nil || e.lease.Owner != lease.Owner || e.lease.Token != lease.Token || !now.Before(e.lease.Expires) {
		return nil, fmt.Errorf("key %q under token %d: %w", lease.Key, lease.Token, store.ErrLeaseLost)
	}
	return e, nil
}

// forget drops key's entry if it is still lease's; t.mu held.
func (t *leaseTable) forget(lease store.Lease) {
	if e := t.byKey[lease.Key]; e != nil && e.lease.Token == lease.Token {
		delete(t.byKey, lease.Key)
	}
}

// Leases implements store.Queue.
func (q *queue) Leases() store.Leases { return leases{q} }

type leases struct{ q *queue }

func (l leases) Claim(ctx context.Context, owner string, maxKeys, maxItems int, ttl time.Duration) ([]store.Claim, error) {
	if owner == "" || maxKeys <= 0 || maxItems <= 0 || ttl <= 0 {
		return nil, fmt.Errorf("claim: owner, maxKeys, maxItems and ttl are required: %w", store.ErrInvalid)
	}
	if err := l.q.s.begin(ctx); err != nil {
		return nil, err
	}
	defer l.q.s.mu.RUnlock()
	t := l.q.leases
	t.mu.Lock()
	// The read transaction begins under t.mu, after every commit whose
	// write was counted in flight has finished (see leaseTable); once the
	// keys are leased, their items are read outside the lock, from the
	// same snapshot: nobody else writes to them now.
	tx, err := l.q.s.db.Begin(false)
	if err != nil {
		t.mu.Unlock()
		return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
	}
	defer func() { _ = tx.Rollback() }()
	now := l.q.s.now()
	var out []store.Claim
	c := tx.Bucket(headsBucket(l.q.name)).Cursor()
	for k, key := c.First(); k != nil && len(out) < maxKeys; k, key = c.Next() {
		if e := t.byKey[string(key)]; e != nil && (e.writes > 0 || now.Before(e.lease.Expires)) {
			continue
		}
		t.next++
		lease := store.Lease{Queue: l.q.name, Key: string(key), Owner: owner, Token: t.next, Expires: now.Add(ttl)}
		t.byKey[lease.Key] = &leaseEntry{lease: lease}
		out = append(out, store.Claim{Lease: lease})
	}
	t.mu.Unlock()
	for i := range out {
		items, err := keyItems(tx, l.q.name, out[i].Lease.Key, 0, maxItems)
		if err != nil {
			t.mu.Lock()
			for _, c := range out {
				t.forget(c.Lease)
			}
			t.mu.Unlock()
			return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
		}
		out[i].Items = items
	}
	return out, nil
}

func (l leases) Items(ctx context.Context, lease store.Lease, after uint64, limit int) ([]store.Item, error) {
	t := l.q.leases
	t.mu.Lock()
	_, err := t.live(lease, l.q.s.now())
	t.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("items %s: %w", l.q.name, err)
	}
	var out []store.Item
	err = l.q.s.read(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = keyItems(tx, l.q.name, lease.Key, after, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("items %s: %w", l.q.name, err)
	}
	return out, nil
}

func (l leases) Extend(ctx context.Context, lease store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := l.q.s.begin(ctx); err != nil {
		return store.Lease{}, err
	}
	defer l.q.s.mu.RUnlock()
	t := l.q.leases
	t.mu.Lock()
	defer t.mu.Unlock()
	now := l.q.s.now()
	e, err := t.live(lease, now)
	if err != nil {
		return store.Lease{}, fmt.Errorf("extend %s: %w", l.q.name, err)
	}
	e.lease.Expires = now.Add(ttl)
	return e.lease, nil
}

func (l leases) Release(ctx context.Context, lease store.Lease) error {
	if err := l.q.s.begin(ctx); err != nil {
		return err
	}
	defer l.q.s.mu.RUnlock()
	t := l.q.leases
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forget(lease)
	return nil
}

// fenced runs fn in a write transaction if lease is live, counting the
// write in flight until its commit is done (so nobody claims the key
// meanwhile). fn also refuses an item of another key.
func (l leases) fenced(ctx context.Context, lease store.Lease, seq uint64, fn func(tx *bolt.Tx) error) error {
	t := l.q.leases
	t.mu.Lock()
	e, err := t.live(lease, l.q.s.now())
	if err == nil {
		e.writes++
	}
	t.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		t.mu.Lock()
		if cur := t.byKey[lease.Key]; cur == e {
			cur.writes--
		}
		t.mu.Unlock()
	}()
	return l.q.s.write(ctx, func(tx *bolt.Tx) error {
		if v := tx.Bucket(queueBucket(l.q.name)).Get(u64(seq)); v != nil {
			idx := binary.BigEndian.AppendUint64(appendStr(nil, lease.Key), seq)
			if tx.Bucket(keysBucket(l.q.name)).Get(idx) == nil {
				return fmt.Errorf("item %d is not of key %q: %w", seq, lease.Key, store.ErrLeaseLost)
			}
		}
		return fn(tx)
	})
}

func (l leases) Ack(ctx context.Context, lease store.Lease, seq uint64, fx store.Effects) (drained bool, err error) {
	if err := fx.Validate(); err != nil {
		return false, err
	}
	t := l.q.leases
	err = l.fenced(ctx, lease, seq, func(tx *bolt.Tx) error {
		var err error
		if drained, err = ackTx(tx, l.q.name, seq, lease.Key, l.q.s.now().Add(l.q.s.opts.LinkTTL), fx); err != nil || !drained {
			return err
		}
		// Released as the commit lands, before the committer starts the
		// next transaction: an item enqueued after this one finds the key
		// free, and its commit wakes the claimers.
		tx.OnCommit(func() {
			t.mu.Lock()
			t.forget(lease)
			t.mu.Unlock()
		})
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ack %s: %w", l.q.name, err)
	}
	if len(fx.Echoes) > 0 || len(fx.Links) > 0 {
		l.q.s.stateChanged()
	}
	return drained, nil
}

func (l leases) MarkAttempted(ctx context.Context, lease store.Lease, seq uint64) error {
	var miss error
	err := l.fenced(ctx, lease, seq, func(tx *bolt.Tx) error {
		var err error
		miss, err = markAttemptedTx(tx, l.q.name, seq)
		return err
	})
	if err == nil {
		err = miss
	}
	if err != nil {
		return fmt.Errorf("mark attempted %s: %w", l.q.name, err)
	}
	return nil
}

func (l leases) DeadLetter(ctx context.Context, lease store.Lease, seq uint64, reason string) (store.DeadLetter, error) {
	now := l.q.s.now()
	var out store.DeadLetter
	var miss error
	err := l.fenced(ctx, lease, seq, func(tx *bolt.Tx) error {
		var err error
		out, miss, err = deadLetterTx(tx, l.q.name, seq, reason, now.UTC())
		return err
	})
	if err == nil {
		err = miss
	}
	if err != nil {
		return store.DeadLetter{}, fmt.Errorf("dead-letter %s: %w", l.q.name, err)
	}
	return out, nil
}

// dropLeaseBuckets is part of schema 2 → 3: schema 2 kept leases in the
// file (lease.<queue>); they now live in memory.
func dropLeaseBuckets(tx *bolt.Tx) error {
	for _, q := range []store.QueueName{store.Inbound, store.Outbound} {
		name := []byte("lease." + string(q))
		if tx.Bucket(name) == nil {
			continue
		}
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
	}
	return nil
}
