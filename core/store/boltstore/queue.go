package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/internal/notify"
)

type queue struct {
	s    *Store
	name store.QueueName
	sig  *notify.Seq
	keys *keyTable // per-key index and leases, in memory
}

// Inbound implements store.Store.
func (s *Store) Inbound() store.Queue { return s.queues[store.Inbound] }

// Outbound implements store.Store.
func (s *Store) Outbound() store.Queue { return s.queues[store.Outbound] }

func (q *queue) Name() store.QueueName { return q.name }

// addDepth adjusts the pending-item counter kept in meta, so Depth is O(1).
func addDepth(tx *bolt.Tx, q store.QueueName, delta int64) error {
	meta := tx.Bucket(bMeta)
	n := int64(readU64(meta.Get(depthKey(q)))) + delta
	if n < 0 {
		n = 0
	}
	return meta.Put(depthKey(q), u64(uint64(n)))
}

func (q *queue) Enqueue(ctx context.Context, msgs ...store.Message) ([]store.EnqueueResult, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	s := q.s
	now := s.now()
	// Encode outside the transaction: the write lock is shared by everyone.
	vals := make([][]byte, len(msgs))
	for i, m := range msgs {
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("enqueue %s: %w", q.name, err)
		}
		vals[i] = encodeItem(itemRec{V: recordVersion, Key: m.Key, DedupeKey: m.DedupeKey, Sequence: m.Sequence, Payload: m.Payload, EnqueuedAt: now.UTC()})
	}
	kind := dedupeKind(q.name)
	var res []store.EnqueueResult
	var last uint64
	err := s.write(ctx, func(tx *bolt.Tx) error {
		res, last = make([]store.EnqueueResult, len(msgs)), 0 // fn may be re-run
		qb, db, eb := tx.Bucket(queueBucket(q.name)), tx.Bucket(dedupeBucket(q.name)), tx.Bucket(bExpiry)
		added := int64(0)
		for i, m := range msgs {
			if m.DedupeKey != "" {
				dk := []byte(m.DedupeKey)
				if v := db.Get(dk); v != nil && now.UnixNano() < int64(readU64(v)) {
					res[i].Duplicate = true
					continue
				}
				ttl := m.DedupeTTL
				if ttl <= 0 {
					ttl = s.opts.DedupeTTL
				}
				exp := now.Add(ttl)
				if err := db.Put(dk, u64(uint64(exp.UnixNano()))); err != nil {
					return err
				}
				if err := eb.Put(expiryKey(exp, kind, dk), []byte{}); err != nil {
					return err
				}
			}
			seq, err := qb.NextSequence()
			if err != nil {
				return err
			}
			if err := qb.Put(u64(seq), vals[i]); err != nil {
				return err
			}
			if err := s.fault("enqueue-put", m.Key); err != nil {
				return err
			}
			res[i].Seq = seq
			added++
		}
		last = qb.Sequence()
		tx.OnCommit(func() {
			q.keys.mu.Lock()
			defer q.keys.mu.Unlock()
			for i, m := range msgs {
				if !res[i].Duplicate {
					q.keys.added(m.Key, res[i].Seq)
				}
			}
		})
		return addDepth(tx, q.name, added)
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", q.name, err)
	}
	s.enqueues.Add(1)
	q.sig.Advance(last)
	return res, nil
}

func (q *queue) Pending(ctx context.Context, after uint64, limit int) ([]store.Item, error) {
	limit = store.ClampLimit(limit)
	var out []store.Item
	err := q.s.read(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(queueBucket(q.name)).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			rec, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("item %d: %w", readU64(k), err)
			}
			out = append(out, recToItem(readU64(k), rec))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending %s: %w", q.name, err)
	}
	return out, nil
}

// deleteItemTx deletes pending item seq (if still there) and counts it
// out of the queue's depth; the key table follows at commit.
func deleteItemTx(tx *bolt.Tx, q store.QueueName, seq uint64) error {
	b := tx.Bucket(queueBucket(q))
	if b.Get(u64(seq)) == nil {
		return nil
	}
	if err := b.Delete(u64(seq)); err != nil {
		return err
	}
	return addDepth(tx, q, -1)
}

// markAttemptedTx increments item seq's attempts; miss is ErrNotFound when
// it is not pending.
func markAttemptedTx(tx *bolt.Tx, q store.QueueName, seq uint64) (miss, err error) {
	b := tx.Bucket(queueBucket(q))
	k := u64(seq)
	v := b.Get(k)
	if v == nil {
		return fmt.Errorf("item %d: %w", seq, store.ErrNotFound), nil
	}
	rec, err := decodeItem(v)
	if err != nil {
		return nil, err
	}
	rec.Attempts++
	return nil, b.Put(k, encodeItem(rec))
}

// deadLetterTx moves item seq to the dead-letter list; miss is ErrNotFound
// when it is not pending.
func deadLetterTx(tx *bolt.Tx, q store.QueueName, seq uint64, reason string, now time.Time) (d store.DeadLetter, miss, err error) {
	b := tx.Bucket(queueBucket(q))
	k := u64(seq)
	v := b.Get(k)
	if v == nil {
		return store.DeadLetter{}, fmt.Errorf("item %d: %w", seq, store.ErrNotFound), nil
	}
	rec, err := decodeItem(v)
	if err != nil {
		return store.DeadLetter{}, nil, err
	}
	dl := tx.Bucket(bDLQ)
	id, err := dl.NextSequence()
	if err != nil {
		return store.DeadLetter{}, nil, err
	}
	d = store.DeadLetter{ID: id, Queue: q, Item: recToItem(seq, rec), Reason: reason, DeadAt: now}
	dv, err := encode(deadRec{V: recordVersion, DeadLetter: d})
	if err != nil {
		return store.DeadLetter{}, nil, err
	}
	if err := dl.Put(u64(id), dv); err != nil {
		return store.DeadLetter{}, nil, err
	}
	return d, nil, deleteItemTx(tx, q, seq)
}

func (q *queue) Depth(ctx context.Context) (int, error) {
	var n uint64
	err := q.s.read(ctx, func(tx *bolt.Tx) error {
		n = readU64(tx.Bucket(bMeta).Get(depthKey(q.name)))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("depth %s: %w", q.name, err)
	}
	return int(n), nil
}

func (q *queue) Last() uint64 { return q.sig.Last() }

func (q *queue) Wait(ctx context.Context, after uint64) error {
	return q.sig.Wait(ctx, after, store.ErrClosed)
}

// ---- dead letters -------------------------------------------------------------

// DeadLetters implements store.Store.
func (s *Store) DeadLetters() store.DeadLetters { return dlq{s} }

type dlq struct{ s *Store }

func (d dlq) List(ctx context.Context, after uint64, limit int) ([]store.DeadLetter, error) {
	limit = store.ClampLimit(limit)
	var out []store.DeadLetter
	err := d.s.read(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bDLQ).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var rec deadRec
			if err := decode(v, &rec); err != nil {
				return fmt.Errorf("dead letter %d: %w", readU64(k), err)
			}
			out = append(out, rec.DeadLetter)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

func (d dlq) Get(ctx context.Context, id uint64) (store.DeadLetter, error) {
	var rec deadRec
	err := d.s.read(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bDLQ).Get(u64(id))
		if v == nil {
			return store.ErrNotFound
		}
		return decode(v, &rec)
	})
	if err != nil {
		return store.DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, err)
	}
	return rec.DeadLetter, nil
}

func (d dlq) Replay(ctx context.Context, id uint64) (store.Item, error) {
	var out store.Item
	var name store.QueueName
	var miss error
	err := d.s.write(ctx, func(tx *bolt.Tx) error {
		out, name, miss = store.Item{}, "", nil
		dl := tx.Bucket(bDLQ)
		v := dl.Get(u64(id))
		if v == nil {
			// Reported outside the transaction: a failing call makes the
			// committer re-run the rest of its batch.
			miss = store.ErrNotFound
			return nil
		}
		var rec deadRec
		if err := decode(v, &rec); err != nil {
			return err
		}
		if !rec.Queue.Valid() {
			return fmt.Errorf("unknown queue %q", rec.Queue)
		}
		qb := tx.Bucket(queueBucket(rec.Queue))
		seq, err := qb.NextSequence()
		if err != nil {
			return err
		}
		it := rec.Item
		it.Seq = seq
		it.Replays++
		if err := qb.Put(u64(seq), encodeItem(itemToRec(it))); err != nil {
			return err
		}
		q := d.s.queues[rec.Queue]
		tx.OnCommit(func() {
			q.keys.mu.Lock()
			q.keys.added(it.Key, seq)
			q.keys.mu.Unlock()
		})
		if err := dl.Delete(u64(id)); err != nil {
			return err
		}
		out, name = it, rec.Queue
		return addDepth(tx, rec.Queue, 1)
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("replay dead letter %d: %w", id, err)
	}
	if miss != nil {
		return store.Item{}, fmt.Errorf("replay dead letter %d: %w", id, miss)
	}
	// Wake the queue's dispatcher: the item is at its tail.
	d.s.queues[name].sig.Advance(out.Seq)
	return out, nil
}

func (d dlq) Drop(ctx context.Context, id uint64) error {
	var miss error
	err := d.s.write(ctx, func(tx *bolt.Tx) error {
		miss = nil
		dl := tx.Bucket(bDLQ)
		if dl.Get(u64(id)) == nil {
			miss = store.ErrNotFound
			return nil
		}
		return dl.Delete(u64(id))
	})
	if err == nil {
		err = miss
	}
	if err != nil {
		return fmt.Errorf("drop dead letter %d: %w", id, err)
	}
	return nil
}
