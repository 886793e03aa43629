package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/store"
)

// leaseRec is a key's current lease in lease.<queue>; the bucket's
// sequence is the queue's last fencing token.
type leaseRec struct {
	V int `json:"v"`
	store.Lease
}

func (r *leaseRec) version() int { return r.V }

func leaseBucket(q store.QueueName) []byte { return []byte("lease." + string(q)) }

// Leases implements store.Queue.
func (q *queue) Leases() store.Leases { return leases{q} }

type leases struct{ q *queue }

func (l leases) Claim(ctx context.Context, owner string, maxKeys, maxItems int, ttl time.Duration) ([]store.Claim, error) {
	if owner == "" || maxKeys <= 0 || maxItems <= 0 || ttl <= 0 {
		return nil, fmt.Errorf("claim: owner, maxKeys, maxItems and ttl are required: %w", store.ErrInvalid)
	}
	now := l.q.s.now()
	// Look first in a read transaction: a claim that finds every key taken
	// (the usual answer while this process's workers hold them) costs no
	// commit.
	var free bool
	err := l.q.s.read(ctx, func(tx *bolt.Tx) error {
		keys, err := l.freeKeys(tx, now, 1)
		free = len(keys) > 0
		return err
	})
	if err != nil || !free {
		return nil, err
	}
	var out []store.Claim
	err = l.q.s.write(ctx, func(tx *bolt.Tx) error {
		out = nil
		keys, err := l.freeKeys(tx, now, maxKeys)
		if err != nil {
			return err
		}
		lb := tx.Bucket(leaseBucket(l.q.name))
		for _, key := range keys {
			token, err := lb.NextSequence()
			if err != nil {
				return err
			}
			lease := store.Lease{Queue: l.q.name, Key: key, Owner: owner, Token: token, Expires: now.Add(ttl)}
			if err := putLease(lb, lease); err != nil {
				return err
			}
			items, err := keyItems(tx, l.q.name, key, 0, maxItems)
			if err != nil {
				return err
			}
			out = append(out, store.Claim{Lease: lease, Items: items})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
	}
	return out, nil
}

// freeKeys returns up to max keys with pending items and no live lease,
// oldest first item first. It reads one head per key, so its cost grows
// with the keys leased, not with the items queued.
func (l leases) freeKeys(tx *bolt.Tx, now time.Time, max int) ([]string, error) {
	lb := tx.Bucket(leaseBucket(l.q.name))
	var out []string
	c := tx.Bucket(headsBucket(l.q.name)).Cursor()
	for k, key := c.First(); k != nil && len(out) < max; k, key = c.Next() {
		cur, held, err := leaseOf(lb, string(key))
		if err != nil {
			return nil, err
		}
		if !held || !now.Before(cur.Expires) {
			out = append(out, string(key))
		}
	}
	return out, nil
}

func leaseOf(lb *bolt.Bucket, key string) (store.Lease, bool, error) {
	v := lb.Get([]byte(key))
	if v == nil {
		return store.Lease{}, false, nil
	}
	var rec leaseRec
	if err := decode(v, &rec); err != nil {
		return store.Lease{}, false, err
	}
	return rec.Lease, true, nil
}

func putLease(lb *bolt.Bucket, l store.Lease) error {
	v, err := encode(leaseRec{V: recordVersion, Lease: l})
	if err != nil {
		return err
	}
	return lb.Put([]byte(l.Key), v)
}

// check returns ErrLeaseLost unless l is its key's current, unexpired lease.
func (l leases) check(tx *bolt.Tx, lease store.Lease, now time.Time) error {
	cur, held, err := leaseOf(tx.Bucket(leaseBucket(l.q.name)), lease.Key)
	if err != nil {
		return err
	}
	if !held || cur.Owner != lease.Owner || cur.Token != lease.Token || !now.Before(cur.Expires) {
		return fmt.Errorf("key %q under token %d: %w", lease.Key, lease.Token, store.ErrLeaseLost)
	}
	return nil
}

// checkItem also refuses an item of another key.
func (l leases) checkItem(tx *bolt.Tx, lease store.Lease, seq uint64, now time.Time) error {
	if err := l.check(tx, lease, now); err != nil {
		return err
	}
	if v := tx.Bucket(queueBucket(l.q.name)).Get(u64(seq)); v != nil {
		var rec itemRec
		if err := decode(v, &rec); err != nil {
			return err
		}
		if rec.Key != lease.Key {
			return fmt.Errorf("item %d: key %q is not the lease's %q: %w", seq, rec.Key, lease.Key, store.ErrLeaseLost)
		}
	}
	return nil
}

func (l leases) Items(ctx context.Context, lease store.Lease, after uint64, limit int) ([]store.Item, error) {
	now := l.q.s.now()
	var out []store.Item
	err := l.q.s.read(ctx, func(tx *bolt.Tx) error {
		if err := l.check(tx, lease, now); err != nil {
			return err
		}
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
	now := l.q.s.now()
	var out store.Lease
	err := l.q.s.write(ctx, func(tx *bolt.Tx) error {
		if err := l.check(tx, lease, now); err != nil {
			return err
		}
		out = lease
		out.Expires = now.Add(ttl)
		return putLease(tx.Bucket(leaseBucket(l.q.name)), out)
	})
	if err != nil {
		return store.Lease{}, fmt.Errorf("extend %s: %w", l.q.name, err)
	}
	return out, nil
}

func (l leases) Release(ctx context.Context, lease store.Lease) error {
	err := l.q.s.write(ctx, func(tx *bolt.Tx) error {
		lb := tx.Bucket(leaseBucket(l.q.name))
		cur, held, err := leaseOf(lb, lease.Key)
		if err != nil || !held || cur.Owner != lease.Owner || cur.Token != lease.Token {
			return err
		}
		return lb.Delete([]byte(lease.Key))
	})
	if err != nil {
		return fmt.Errorf("release %s: %w", l.q.name, err)
	}
	return nil
}

func (l leases) Ack(ctx context.Context, lease store.Lease, seq uint64, fx store.Effects) (drained bool, err error) {
	if err := fx.Validate(); err != nil {
		return false, err
	}
	now := l.q.s.now()
	err = l.q.s.write(ctx, func(tx *bolt.Tx) error {
		if err := l.checkItem(tx, lease, seq, now); err != nil {
			return err
		}
		var err error
		if drained, err = ackTx(tx, l.q.name, seq, lease.Key, now.Add(l.q.s.opts.LinkTTL), fx); err != nil || !drained {
			return err
		}
		return tx.Bucket(leaseBucket(l.q.name)).Delete([]byte(lease.Key))
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
	now := l.q.s.now()
	var miss error
	err := l.q.s.write(ctx, func(tx *bolt.Tx) error {
		miss = nil
		if err := l.checkItem(tx, lease, seq, now); err != nil {
			return err
		}
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
	err := l.q.s.write(ctx, func(tx *bolt.Tx) error {
		out, miss = store.DeadLetter{}, nil
		if err := l.checkItem(tx, lease, seq, now); err != nil {
			return err
		}
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

// clearLeases deletes every lease of b, keeping its sequence.
func clearLeases(b *bolt.Bucket) error {
	var keys [][]byte
	if err := b.ForEach(func(k, _ []byte) error { keys = append(keys, append([]byte(nil), k...)); return nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
