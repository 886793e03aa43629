package store

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Leases implements Queue.
func (q *memQueue) Leases() Leases { return memLeases{q} }

type memLeases struct{ q *memQueue }

func (l memLeases) Claim(ctx context.Context, owner string, maxKeys, maxItems int, ttl time.Duration) ([]Claim, error) {
	if owner == "" || maxKeys <= 0 || maxItems <= 0 || ttl <= 0 {
		return nil, fmt.Errorf("claim: owner, maxKeys, maxItems and ttl are required: %w", ErrInvalid)
	}
	q, m := l.q, l.q.m
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	now := m.opts.Now()
	seqs := make([]uint64, 0, len(q.items))
	for s := range q.items {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var out []Claim
	byKey := map[string]int{}
	for _, s := range seqs {
		it := q.items[s]
		if i, ok := byKey[it.Key]; ok {
			if i >= 0 && len(out[i].Items) < maxItems {
				out[i].Items = append(out[i].Items, cloneItem(it))
			}
			continue
		}
		if len(out) == maxKeys {
			byKey[it.Key] = -1
			continue
		}
		cur, held := q.leases[it.Key]
		if held && now.Before(cur.Expires) {
			byKey[it.Key] = -1
			continue
		}
		q.token++
		lease := Lease{Queue: q.name, Key: it.Key, Owner: owner, Token: q.token, Expires: now.Add(ttl)}
		q.leases[it.Key] = lease
		byKey[it.Key] = len(out)
		out = append(out, Claim{Lease: lease, Items: []Item{cloneItem(it)}, TakenOver: held})
	}
	return out, nil
}

// live reports whether l is the key's current, unexpired lease; m.mu held.
func (l memLeases) live(lease Lease) bool {
	cur, ok := l.q.leases[lease.Key]
	return ok && cur.Owner == lease.Owner && cur.Token == lease.Token && l.q.m.opts.Now().Before(cur.Expires)
}

func (l memLeases) lost(op string, lease Lease) error {
	return fmt.Errorf("%s %s key %q under token %d: %w", op, l.q.name, lease.Key, lease.Token, ErrLeaseLost)
}

func (l memLeases) Items(ctx context.Context, lease Lease, after uint64, limit int) ([]Item, error) {
	q, m := l.q, l.q.m
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	if !l.live(lease) {
		return nil, l.lost("items", lease)
	}
	var out []Item
	for _, it := range q.items {
		if it.Key == lease.Key && it.Seq > after {
			out = append(out, cloneItem(it))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (l memLeases) Extend(ctx context.Context, lease Lease, ttl time.Duration) (Lease, error) {
	m := l.q.m
	if err := m.lock(ctx); err != nil {
		return Lease{}, err
	}
	defer m.mu.Unlock()
	if !l.live(lease) {
		return Lease{}, l.lost("extend", lease)
	}
	lease.Expires = m.opts.Now().Add(ttl)
	l.q.leases[lease.Key] = lease
	return lease, nil
}

func (l memLeases) Release(ctx context.Context, lease Lease) error {
	m := l.q.m
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if cur, ok := l.q.leases[lease.Key]; ok && cur.Owner == lease.Owner && cur.Token == lease.Token {
		delete(l.q.leases, lease.Key)
	}
	return nil
}

// held returns the pending item seq of lease's key, after checking the
// lease; ok is false when the item is gone. m.mu held.
func (l memLeases) held(op string, lease Lease, seq uint64) (Item, bool, error) {
	if !l.live(lease) {
		return Item{}, false, l.lost(op, lease)
	}
	it, ok := l.q.items[seq]
	if ok && it.Key != lease.Key {
		return Item{}, false, fmt.Errorf("%s %s item %d: key %q is not the lease's %q: %w", op, l.q.name, seq, it.Key, lease.Key, ErrLeaseLost)
	}
	return it, ok, nil
}

func (l memLeases) Ack(ctx context.Context, lease Lease, seq uint64, fx Effects) (bool, error) {
	if err := fx.Validate(); err != nil {
		return false, err
	}
	m := l.q.m
	if err := m.lock(ctx); err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	if _, _, err := l.held("ack", lease, seq); err != nil {
		return false, err
	}
	m.putEffectsLocked(fx)
	delete(l.q.items, seq)
	for _, it := range l.q.items {
		if it.Key == lease.Key {
			return false, nil
		}
	}
	delete(l.q.leases, lease.Key)
	return true, nil
}

func (l memLeases) MarkAttempted(ctx context.Context, lease Lease, seq uint64) error {
	m := l.q.m
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	it, ok, err := l.held("mark attempted", lease, seq)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("mark attempted %s item %d: %w", l.q.name, seq, ErrNotFound)
	}
	it.Attempts++
	l.q.items[seq] = it
	return nil
}

func (l memLeases) DeadLetter(ctx context.Context, lease Lease, seq uint64, reason string) (DeadLetter, error) {
	m := l.q.m
	if err := m.lock(ctx); err != nil {
		return DeadLetter{}, err
	}
	defer m.mu.Unlock()
	it, ok, err := l.held("dead-letter", lease, seq)
	if err != nil {
		return DeadLetter{}, err
	}
	if !ok {
		return DeadLetter{}, fmt.Errorf("dead-letter %s item %d: %w", l.q.name, seq, ErrNotFound)
	}
	delete(l.q.items, seq)
	m.dlqSeq++
	d := DeadLetter{ID: m.dlqSeq, Queue: l.q.name, Item: it, Reason: reason, DeadAt: m.opts.Now().UTC()}
	m.dlq[d.ID] = d
	return cloneDeadLetter(d), nil
}
