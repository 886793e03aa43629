package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// One round trip: a statement per message, all in one implicit
	// transaction. A message whose dedupe key is live inserts nothing (the
	// key stays as it is), an earlier one in the same batch included.
	b := &pgx.Batch{}
	for _, m := range msgs {
		if m.DedupeKey == "" {
			b.Queue(`INSERT INTO items (queue, key, dedupe_key, sequence, payload, enqueued_at) VALUES ($1, $2, '', $3, $4, $5) RETURNING seq`,
				q.name, []byte(m.Key), m.Sequence, nonNil(m.Payload), now)
			continue
		}
		ttl := m.DedupeTTL
		if ttl <= 0 {
			ttl = s.opts.DedupeTTL
		}
		b.Queue(`WITH fresh AS (
				INSERT INTO dedupe (queue, key, expires_at) VALUES ($1, $3, $6)
				ON CONFLICT (queue, key) DO UPDATE SET expires_at = excluded.expires_at WHERE dedupe.expires_at <= $7
				RETURNING 1)
			INSERT INTO items (queue, key, dedupe_key, sequence, payload, enqueued_at)
			SELECT $1, $2, $3, $4, $5, $7 WHERE EXISTS (SELECT 1 FROM fresh)
			RETURNING seq`,
			q.name, []byte(m.Key), []byte(m.DedupeKey), m.Sequence, nonNil(m.Payload), now.Add(ttl), now)
	}
	b.Queue(`SELECT pg_notify($1, $2)`, notifyChannel, string(q.name))
	res := make([]store.EnqueueResult, len(msgs))
	err := s.sendReading(ctx, b, func(br pgx.BatchResults) error {
		for i := range msgs {
			var seq int64
			err := br.QueryRow().Scan(&seq)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				res[i].Duplicate = true
			case err != nil:
				return err
			default:
				res[i].Seq = uint64(seq)
			}
		}
		return nil
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
	if err := l.q.s.begin(ctx); err != nil {
		return nil, err
	}
	defer l.q.s.end()
	now := l.q.s.now()
	// The oldest keys with no live lease, leased. A key someone else claims
	// at the same moment conflicts on its lease row: this statement waits
	// for that commit, then finds the lease live and leaves the key out.
	// Two holders are impossible.
	rows, err := l.q.s.pool.Query(ctx, `
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
		RETURNING key, token, xmax <> 0`, l.q.name, now, maxKeys, owner, now.Add(ttl)) // xmax is set when a lapsed lease row was updated, 0 on insert
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
	}
	var out []store.Claim
	keys := [][]byte{}
	byKey := map[string]int{}
	for rows.Next() {
		var key []byte
		var token int64
		var takenOver bool
		if err := rows.Scan(&key, &token, &takenOver); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
		}
		byKey[string(key)] = len(out)
		keys = append(keys, key)
		out = append(out, store.Claim{Lease: store.Lease{Queue: l.q.name, Key: string(key), Owner: owner, Token: uint64(token), Expires: now.Add(ttl)}, TakenOver: takenOver})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	// The items, read after the grant with a snapshot of their own: the
	// statement above may have waited for the key's previous holder, and
	// its snapshot predates that holder's last writes.
	rows, err = l.q.s.pool.Query(ctx, `SELECT `+itemColumns+` FROM (
			SELECT *, row_number() OVER (PARTITION BY key ORDER BY seq) AS n FROM items WHERE queue = $1 AND key = ANY($2)
		) x WHERE n <= $3 ORDER BY seq`, l.q.name, keys, maxItems)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
	}
	items, err := pgx.CollectRows(rows, scanItem)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", l.q.name, err)
	}
	for _, it := range items {
		c := &out[byKey[it.Key]]
		c.Items = append(c.Items, it)
	}
	// Oldest first: by first item (a key whose items went meanwhile last;
	// its holder finds none and releases it).
	slices.SortStableFunc(out, func(a, b store.Claim) int {
		switch {
		case len(a.Items) == 0 || len(b.Items) == 0:
			return cmp.Compare(len(b.Items), len(a.Items))
		}
		return cmp.Compare(a.Items[0].Seq, b.Items[0].Seq)
	})
	return out, nil
}

func (l leases) lost(lease store.Lease) error {
	return fmt.Errorf("key %q under token %d: %w", lease.Key, lease.Token, store.ErrLeaseLost)
}

// fence queues the lease check every fenced write starts with (see
// leconnect_fence in schema.go); seq 0 checks no item.
func (l leases) fence(b *pgx.Batch, lease store.Lease, seq uint64) {
	b.Queue(`SELECT leconnect_fence($1, $2, $3, $4, $5, $6)`, string(l.q.name), []byte(lease.Key), lease.Owner, int64(lease.Token), l.q.s.now(), int64(seq))
}

func (l leases) Items(ctx context.Context, lease store.Lease, after uint64, limit int) ([]store.Item, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT owner = $3 AND token = $4 AND expires_at > $5 FROM leases WHERE queue = $1 AND key = $2`,
		l.q.name, []byte(lease.Key), lease.Owner, int64(lease.Token), l.q.s.now())
	b.Queue(`SELECT `+itemColumns+` FROM items WHERE queue = $1 AND key = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
		l.q.name, []byte(lease.Key), int64(after), store.ClampLimit(limit))
	var out []store.Item
	err := l.q.s.sendReading(ctx, b, func(br pgx.BatchResults) error {
		var live bool
		err := br.QueryRow().Scan(&live)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && !live {
			return l.lost(lease)
		}
		if err != nil {
			return err
		}
		rows, err := br.Query()
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
	if err := l.q.s.begin(ctx); err != nil {
		return store.Lease{}, err
	}
	defer l.q.s.end()
	now := l.q.s.now()
	out := lease
	out.Expires = now.Add(ttl)
	tag, err := l.q.s.pool.Exec(ctx, `UPDATE leases SET expires_at = $5 WHERE queue = $1 AND key = $2 AND owner = $3 AND token = $4 AND expires_at > $6`,
		l.q.name, []byte(lease.Key), lease.Owner, int64(lease.Token), out.Expires, now)
	if err == nil && tag.RowsAffected() == 0 {
		err = l.lost(lease)
	}
	if err != nil {
		return store.Lease{}, fmt.Errorf("extend %s: %w", l.q.name, err)
	}
	return out, nil
}

func (l leases) Release(ctx context.Context, lease store.Lease) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM leases WHERE queue = $1 AND key = $2 AND owner = $3 AND token = $4`,
		l.q.name, []byte(lease.Key), lease.Owner, int64(lease.Token))
	b.Queue(`SELECT pg_notify($1, $2)`, notifyChannel, string(l.q.name)) // items may be left: let the others look
	if err := l.q.s.send(ctx, b); err != nil {
		return fmt.Errorf("release %s: %w", l.q.name, err)
	}
	return nil
}

func (l leases) Ack(ctx context.Context, lease store.Lease, seq uint64, fx store.Effects) (drained bool, err error) {
	if err := fx.Validate(); err != nil {
		return false, err
	}
	// One round trip: the fence, the effects, the delete, and the release
	// when no item of the key is left (an item enqueued meanwhile, not yet
	// committed, finds the key free and its commit wakes the claimers).
	b := &pgx.Batch{}
	l.fence(b, lease, seq)
	l.q.s.queueEffects(b, fx)
	b.Queue(`DELETE FROM items WHERE queue = $1 AND seq = $2`, l.q.name, int64(seq))
	b.Queue(`DELETE FROM leases WHERE queue = $1 AND key = $2 AND token = $3
		AND NOT EXISTS (SELECT 1 FROM items WHERE queue = $1 AND key = $2) RETURNING 1`, l.q.name, []byte(lease.Key), int64(lease.Token))
	err = l.q.s.sendReading(ctx, b, func(br pgx.BatchResults) error {
		for range b.Len() - 1 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		var one int
		err := br.QueryRow().Scan(&one)
		drained = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
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
	b := &pgx.Batch{}
	l.fence(b, lease, seq)
	b.Queue(`UPDATE items SET attempts = attempts + 1 WHERE queue = $1 AND seq = $2`, l.q.name, int64(seq))
	err := l.q.s.sendReading(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		tag, err := br.Exec()
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
		if _, err := tx.Exec(ctx, `SELECT leconnect_fence($1, $2, $3, $4, $5, $6)`,
			string(l.q.name), []byte(lease.Key), lease.Owner, int64(lease.Token), now, int64(seq)); err != nil {
			return leaseError(err)
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
