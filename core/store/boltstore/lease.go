package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/store"
)

// Leases implements store.Queue; the state is the queue's keyTable.
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
	t := l.q.keys
	t.mu.Lock()
	granted, takenOver := t.claim(l.q.name, owner, maxKeys, l.q.s.now(), ttl)
	out := make([]store.Claim, len(granted))
	seqs := make([][]uint64, len(granted))
	for i, lease := range granted {
		out[i].Lease, out[i].TakenOver = lease, i < takenOver
		seqs[i] = t.seqsAfter(lease.Key, 0, maxItems)
	}
	t.mu.Unlock()
	if len(out) == 0 {
		return nil, nil
	}
	// The snapshot begins after the commits the table showed (see
	// keyTable); the keys are ours now, so their items stay put.
	err := l.q.s.db.View(func(tx *bolt.Tx) error {
		for i := range out {
			var err error
			if out[i].Items, err = readItems(tx, l.q.name, seqs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.mu.Lock()
		for _, lease := range granted {
			t.release(lease)
		}
		t.mu.Unlock()
		return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
	}
	return out, nil
}

// readItems reads the items seqs of queue q, in order.
func readItems(tx *bolt.Tx, q store.QueueName, seqs []uint64) ([]store.Item, error) {
	qb := tx.Bucket(queueBucket(q))
	out := make([]store.Item, 0, len(seqs))
	for _, seq := range seqs {
		v := qb.Get(u64(seq))
		if v == nil {
			return nil, fmt.Errorf("item %d is indexed but not stored", seq)
		}
		rec, err := decodeItem(v)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", seq, err)
		}
		out = append(out, recToItem(seq, rec))
	}
	return out, nil
}

func (l leases) Items(ctx context.Context, lease store.Lease, after uint64, limit int) ([]store.Item, error) {
	t := l.q.keys
	t.mu.Lock()
	_, _, err := t.live(lease, l.q.s.now())
	seqs := t.seqsAfter(lease.Key, after, limit)
	t.mu.Unlock()
	if err == nil && len(seqs) == 0 {
		return nil, nil
	}
	var out []store.Item
	if err == nil {
		err = l.q.s.read(ctx, func(tx *bolt.Tx) error {
			var err error
			out, err = readItems(tx, l.q.name, seqs)
			return err
		})
	}
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
	t := l.q.keys
	t.mu.Lock()
	defer t.mu.Unlock()
	now := l.q.s.now()
	_, e, err := t.live(lease, now)
	if err != nil {
		return store.Lease{}, fmt.Errorf("extend %s: %w", l.q.name, err)
	}
	e.Expires = now.Add(ttl)
	return e.Lease, nil
}

func (l leases) Release(ctx context.Context, lease store.Lease) error {
	if err := l.q.s.begin(ctx); err != nil {
		return err
	}
	defer l.q.s.mu.RUnlock()
	t := l.q.keys
	t.mu.Lock()
	defer t.mu.Unlock()
	t.release(lease)
	return nil
}

// fenced runs fn in a write transaction if lease is live, counting the
// write in flight on the lease until it is done (see keyTable). It refuses
// an item of another key.
func (l leases) fenced(ctx context.Context, lease store.Lease, seq uint64, fn func(tx *bolt.Tx) error) error {
	t := l.q.keys
	t.mu.Lock()
	_, e, err := t.live(lease, l.q.s.now())
	if err == nil {
		e.writes++
	}
	t.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		t.mu.Lock()
		e.writes--
		t.mu.Unlock()
	}()
	return l.q.s.write(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(queueBucket(l.q.name)).Get(u64(seq)) != nil {
			t.mu.Lock()
			ours := t.holds(lease.Key, seq)
			t.mu.Unlock()
			if !ours {
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
	t := l.q.keys
	err = l.fenced(ctx, lease, seq, func(tx *bolt.Tx) error {
		if err := putEffectsTx(tx, l.q.s.now().Add(l.q.s.opts.LinkTTL), fx); err != nil {
			return err
		}
		if err := deleteItemTx(tx, l.q.name, seq); err != nil {
			return err
		}
		// Whether the key is drained is decided as the commit lands, in
		// commit order: an item enqueued in the same batch keeps the key
		// held; one enqueued later finds it free, and its commit wakes the
		// claimers.
		tx.OnCommit(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			if drained = t.removed(lease.Key, seq); drained {
				t.release(lease)
			}
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
	t := l.q.keys
	var out store.DeadLetter
	var miss error
	err := l.fenced(ctx, lease, seq, func(tx *bolt.Tx) error {
		var err error
		if out, miss, err = deadLetterTx(tx, l.q.name, seq, reason, now.UTC()); err != nil || miss != nil {
			return err
		}
		tx.OnCommit(func() {
			t.mu.Lock()
			t.removed(lease.Key, seq)
			t.mu.Unlock()
		})
		return nil
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
// file (lease.<queue>); they now live in memory (keyTable).
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
