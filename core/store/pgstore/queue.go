package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/internal/notify"
)

type queue struct {
	s      *Store
	name   store.QueueName
	sig    *notify.Seq
	wakes  atomic.Uint64
	polled atomic.Int64 // the newest seq the last poll saw
}

// Inbound implements store.Store.
func (s *Store) Inbound() store.Queue { return s.queues[store.Inbound] }

// Outbound implements store.Store.
func (s *Store) Outbound() store.Queue { return s.queues[store.Outbound] }

func (q *queue) Name() store.QueueName { return q.name }

// wake counts a commit of new items (here, on another instance, or seen
// by a poll) and wakes the queue's waiters.
func (q *queue) wake() { q.sig.Advance(q.wakes.Add(1)) }

// Last is the queue's wake mark (see the package doc), not a Seq.
func (q *queue) Last() uint64 { return q.sig.Last() }

func (q *queue) Wait(ctx context.Context, after uint64) error {
	return q.sig.Wait(ctx, after, store.ErrClosed)
}

const itemColumns = `seq, key, dedupe_key, sequence, payload, enqueued_at, attempts, replays`

func scanItem(r pgx.CollectableRow) (store.Item, error) {
	var it store.Item
	var seq int64
	var key, dedupe []byte
	err := r.Scan(&seq, &key, &dedupe, &it.Sequence, &it.Payload, &it.EnqueuedAt, &it.Attempts, &it.Replays)
	it.Seq, it.Key, it.DedupeKey = uint64(seq), string(key), string(dedupe)
	it.EnqueuedAt = it.EnqueuedAt.UTC()
	return it, err
}

func (q *queue) Enqueue(ctx context.Context, msgs ...store.Message) ([]store.EnqueueResult, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("enqueue %s: %w", q.name, err)
		}
	}
	s := q.s
	now := s.now()
	var res []store.EnqueueResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		res = make([]store.EnqueueResult, len(msgs))
		added := false
		for i, m := range msgs {
			if m.DedupeKey != "" {
				ttl := m.DedupeTTL
				if ttl <= 0 {
					ttl = s.opts.DedupeTTL
				}
				// A live key stays as it is: the message is a duplicate.
				tag, err := tx.Exec(ctx, `INSERT INTO dedupe (queue, key, expires_at) VALUES ($1, $2, $3)
					ON CONFLICT (queue, key) DO UPDATE SET expires_at = excluded.expires_at WHERE dedupe.expires_at <= $4`,
					q.name, []byte(m.DedupeKey), now.Add(ttl), now)
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 0 {
					res[i].Duplicate = true
					continue
				}
			}
			var seq int64
			if err := tx.QueryRow(ctx, `INSERT INTO items (queue, key, dedupe_key, sequence, payload, enqueued_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq`,
				q.name, []byte(m.Key), []byte(m.DedupeKey), m.Sequence, nonNil(m.Payload), now).Scan(&seq); err != nil {
				return err
			}
			res[i].Seq = uint64(seq)
			added = true
		}
		if !added {
			return nil
		}
		return notifyTx(ctx, tx, string(q.name))
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", q.name, err)
	}
	q.wake()
	return res, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (q *queue) Pending(ctx context.Context, after uint64, limit int) ([]store.Item, error) {
	if err := q.s.begin(ctx); err != nil {
		return nil, err
	}
	defer q.s.end()
	rows, err := q.s.pool.Query(ctx, `SELECT `+itemColumns+` FROM items WHERE queue = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		q.name, int64(after), store.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("pending %s: %w", q.name, err)
	}
	out, err := pgx.CollectRows(rows, scanItem)
	if err != nil {
		return nil, fmt.Errorf("pending %s: %w", q.name, err)
	}
	return out, nil
}

func (q *queue) Depth(ctx context.Context) (int, error) {
	if err := q.s.begin(ctx); err != nil {
		return 0, err
	}
	defer q.s.end()
	var n int
	if err := q.s.pool.QueryRow(ctx, `SELECT count(*) FROM items WHERE queue = $1`, q.name).Scan(&n); err != nil {
		return 0, fmt.Errorf("depth %s: %w", q.name, err)
	}
	return n, nil
}

// ---- leases -------------------------------------------------------------------

// Leases implements store.Queue.
func (q *queue) Leases() store.Leases { return leases{q} }

type leases struct{ q *queue }

func (l leases) Claim(ctx context.Context, owner string, maxKeys, maxItems int, ttl time.Duration) ([]store.Claim, error) {
	if owner == "" || maxKeys <= 0 || maxItems <= 0 || ttl <= 0 {
		return nil, fmt.Errorf("claim: owner, maxKeys, maxItems and ttl are required: %w", store.ErrInvalid)
	}
	now := l.q.s.now()
	var out []store.Claim
	err := l.q.s.tx(ctx, func(tx pgx.Tx) error {
		out = nil
		// A key someone else claims at the same moment conflicts on its
		// lease row: this statement waits for that commit, then finds the
		// lease live and leaves the key out. Two holders are impossible.
		rows, err := tx.Query(ctx, `
			WITH cand AS (
				SELECT i.key, min(i.seq) AS head FROM items i
				WHERE i.queue = $1 AND NOT EXISTS (
					SELECT 1 FROM leases l WHERE l.queue = $1 AND l.key = i.key AND l.expires_at > $2)
				GROUP BY i.key ORDER BY head LIMIT $3
			)
			INSERT INTO leases (queue, key, owner, token, expires_at)
			SELECT $1, key, $4, nextval('lease_tokens'), $5 FROM cand ORDER BY head
			ON CONFLICT (queue, key) DO UPDATE SET owner = excluded.owner, token = excluded.token, expires_at = excluded.expires_at
				WHERE leases.expires_at <= $2
			RETURNING key, token`, l.q.name, now, maxKeys, owner, now.Add(ttl))
		if err != nil {
			return err
		}
		granted, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Lease, error) {
			lease := store.Lease{Queue: l.q.name, Owner: owner, Expires: now.Add(ttl)}
			var token int64
			var key []byte
			err := r.Scan(&key, &token)
			lease.Key, lease.Token = string(key), uint64(token)
			return lease, err
		})
		if err != nil || len(granted) == 0 {
			return err
		}
		keys := make([][]byte, len(granted))
		byKey := map[string]int{}
		for i, g := range granted {
			keys[i], byKey[g.Key] = []byte(g.Key), i
			out = append(out, store.Claim{Lease: g})
		}
		rows, err = tx.Query(ctx, `SELECT `+itemColumns+` FROM (
				SELECT *, row_number() OVER (PARTITION BY key ORDER BY seq) AS n FROM items WHERE queue = $1 AND key = ANY($2)
			) x WHERE n <= $3 ORDER BY seq`, l.q.name, keys, maxItems)
		if err != nil {
			return err
		}
		items, err := pgx.CollectRows(rows, scanItem)
		if err != nil {
			return err
		}
		for _, it := range items {
			c := &out[byKey[it.Key]]
			c.Items = append(c.Items, it)
		}
		// Oldest first, as the claim chose them.
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
	}
	sortClaims(out)
	return out, nil
}

// sortClaims orders claims by their first item.
func sortClaims(cs []store.Claim) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && firstSeq(cs[j]) < firstSeq(cs[j-1]); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

func firstSeq(c store.Claim) uint64 {
	if len(c.Items) == 0 {
		return 0
	}
	return c.Items[0].Seq
}

func (l leases) lost(lease store.Lease) error {
	return fmt.Errorf("key %q under token %d: %w", lease.Key, lease.Token, store.ErrLeaseLost)
}

// check locks lease's row until tx ends and verifies it is still live;
// with seq > 0 it also refuses an item of another key.
func (l leases) check(ctx context.Context, tx pgx.Tx, lease store.Lease, seq uint64) error {
	var live bool
	err := tx.QueryRow(ctx, `SELECT owner = $3 AND token = $4 AND expires_at > $5 FROM leases WHERE queue = $1 AND key = $2 FOR UPDATE`,
		l.q.name, []byte(lease.Key), lease.Owner, int64(lease.Token), l.q.s.now()).Scan(&live)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !live {
		return l.lost(lease)
	}
	if err != nil || seq == 0 {
		return err
	}
	var key []byte
	err = tx.QueryRow(ctx, `SELECT key FROM items WHERE queue = $1 AND seq = $2`, l.q.name, int64(seq)).Scan(&key)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	case string(key) != lease.Key:
		return fmt.Errorf("item %d is not of key %q: %w", seq, lease.Key, store.ErrLeaseLost)
	}
	return nil
}

func (l leases) Items(ctx context.Context, lease store.Lease, after uint64, limit int) ([]store.Item, error) {
	var out []store.Item
	err := l.q.s.tx(ctx, func(tx pgx.Tx) error {
		var live bool
		err := tx.QueryRow(ctx, `SELECT owner = $3 AND token = $4 AND expires_at > $5 FROM leases WHERE queue = $1 AND key = $2`,
			l.q.name, []byte(lease.Key), lease.Owner, int64(lease.Token), l.q.s.now()).Scan(&live)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && !live {
			return l.lost(lease)
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+itemColumns+` FROM items WHERE queue = $1 AND key = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
			l.q.name, []byte(lease.Key), int64(after), store.ClampLimit(limit))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanItem)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("items %s: %w", l.q.name, err)
	}
	return out, nil
}

func (l leases) Extend(ctx context.Context, lease store.Lease, ttl time.Duration) (store.Lease, error) {
	now := l.q.s.now()
	out := lease
	out.Expires = now.Add(ttl)
	err := l.q.s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE leases SET expires_at = $5 WHERE queue = $1 AND key = $2 AND owner = $3 AND token = $4 AND expires_at > $6`,
			l.q.name, []byte(lease.Key), lease.Owner, int64(lease.Token), out.Expires, now)
		if err == nil && tag.RowsAffected() == 0 {
			return l.lost(lease)
		}
		return err
	})
	if err != nil {
		return store.Lease{}, fmt.Errorf("extend %s: %w", l.q.name, err)
	}
	return out, nil
}

func (l leases) Release(ctx context.Context, lease store.Lease) error {
	err := l.q.s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM leases WHERE queue = $1 AND key = $2 AND owner = $3 AND token = $4`,
			l.q.name, []byte(lease.Key), lease.Owner, int64(lease.Token))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		// Items may be left: let the others look.
		return notifyTx(ctx, tx, string(l.q.name))
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
	err = l.q.s.tx(ctx, func(tx pgx.Tx) error {
		if err := l.check(ctx, tx, lease, seq); err != nil {
			return err
		}
		if err := l.q.s.putEffects(ctx, tx, fx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM items WHERE queue = $1 AND seq = $2`, l.q.name, int64(seq)); err != nil {
			return err
		}
		var more bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM items WHERE queue = $1 AND key = $2)`, l.q.name, []byte(lease.Key)).Scan(&more); err != nil {
			return err
		}
		if drained = !more; drained {
			_, err := tx.Exec(ctx, `DELETE FROM leases WHERE queue = $1 AND key = $2 AND token = $3`, l.q.name, []byte(lease.Key), int64(lease.Token))
			return err
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ack %s: %w", l.q.name, err)
	}
	if len(fx.Echoes) > 0 || len(fx.Links) > 0 {
		l.q.s.wakeState()
	}
	return drained, nil
}

func (l leases) MarkAttempted(ctx context.Context, lease store.Lease, seq uint64) error {
	err := l.q.s.tx(ctx, func(tx pgx.Tx) error {
		if err := l.check(ctx, tx, lease, seq); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE items SET attempts = attempts + 1 WHERE queue = $1 AND seq = $2`, l.q.name, int64(seq))
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("item %d: %w", seq, store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("mark attempted %s: %w", l.q.name, err)
	}
	return nil
}

func (l leases) DeadLetter(ctx context.Context, lease store.Lease, seq uint64, reason string) (store.DeadLetter, error) {
	now := l.q.s.now()
	var out store.DeadLetter
	err := l.q.s.tx(ctx, func(tx pgx.Tx) error {
		if err := l.check(ctx, tx, lease, seq); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM items WHERE queue = $1 AND seq = $2 RETURNING `+itemColumns, l.q.name, int64(seq))
		if err != nil {
			return err
		}
		items, err := pgx.CollectRows(rows, scanItem)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return fmt.Errorf("item %d: %w", seq, store.ErrNotFound)
		}
		out = store.DeadLetter{Queue: l.q.name, Item: items[0], Reason: reason, DeadAt: now}
		return insertDeadLetter(ctx, tx, &out)
	})
	if err != nil {
		return store.DeadLetter{}, fmt.Errorf("dead-letter %s: %w", l.q.name, err)
	}
	return out, nil
}

func insertDeadLetter(ctx context.Context, tx pgx.Tx, d *store.DeadLetter) error {
	raw, err := json.Marshal(d.Item)
	if err != nil {
		return err
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO dead_letters (queue, item, reason, dead_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		d.Queue, raw, d.Reason, d.DeadAt).Scan(&id)
	d.ID = uint64(id)
	return err
}

// ---- dead letters -------------------------------------------------------------

// DeadLetters implements store.Store.
func (s *Store) DeadLetters() store.DeadLetters { return dlq{s} }

type dlq struct{ s *Store }

func scanDeadLetter(r pgx.CollectableRow) (store.DeadLetter, error) {
	var d store.DeadLetter
	var id int64
	var raw []byte
	if err := r.Scan(&id, &d.Queue, &raw, &d.Reason, &d.DeadAt); err != nil {
		return d, err
	}
	d.ID, d.DeadAt = uint64(id), d.DeadAt.UTC()
	return d, json.Unmarshal(raw, &d.Item)
}

func (d dlq) List(ctx context.Context, after uint64, limit int) ([]store.DeadLetter, error) {
	if err := d.s.begin(ctx); err != nil {
		return nil, err
	}
	defer d.s.end()
	rows, err := d.s.pool.Query(ctx, `SELECT id, queue, item, reason, dead_at FROM dead_letters WHERE id > $1 ORDER BY id LIMIT $2`,
		int64(after), store.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

func (d dlq) Get(ctx context.Context, id uint64) (store.DeadLetter, error) {
	if err := d.s.begin(ctx); err != nil {
		return store.DeadLetter{}, err
	}
	defer d.s.end()
	rows, err := d.s.pool.Query(ctx, `SELECT id, queue, item, reason, dead_at FROM dead_letters WHERE id = $1`, int64(id))
	if err != nil {
		return store.DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, err)
	}
	out, err := pgx.CollectExactlyOneRow(rows, scanDeadLetter)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, err)
	}
	return out, nil
}

func (d dlq) Replay(ctx context.Context, id uint64) (store.Item, error) {
	var out store.Item
	err := d.s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM dead_letters WHERE id = $1 RETURNING id, queue, item, reason, dead_at`, int64(id))
		if err != nil {
			return err
		}
		dl, err := pgx.CollectExactlyOneRow(rows, scanDeadLetter)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !dl.Queue.Valid() {
			return fmt.Errorf("unknown queue %q", dl.Queue)
		}
		out = dl.Item
		out.Replays++
		var seq int64
		if err := tx.QueryRow(ctx, `INSERT INTO items (queue, key, dedupe_key, sequence, payload, enqueued_at, attempts, replays)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq`,
			dl.Queue, []byte(out.Key), []byte(out.DedupeKey), out.Sequence, nonNil(out.Payload), out.EnqueuedAt, out.Attempts, out.Replays).Scan(&seq); err != nil {
			return err
		}
		out.Seq = uint64(seq)
		return notifyTx(ctx, tx, string(dl.Queue))
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("replay dead letter %d: %w", id, err)
	}
	for _, q := range d.s.queues {
		q.wake()
	}
	return out, nil
}

func (d dlq) Drop(ctx context.Context, id uint64) error {
	err := d.s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM dead_letters WHERE id = $1`, int64(id))
		if err == nil && tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("drop dead letter %d: %w", id, err)
	}
	return nil
}
