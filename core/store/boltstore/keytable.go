package boltstore

import (
	"container/heap"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/store"
)

// keyTable is one queue's per-key view, in memory: the pending seqs of
// each key, the keys free to claim (oldest item first) and the leases.
//
// It lives in memory because the file is locked to one process (bbolt's
// flock): no other process can hold a lease, and a lease outlives its
// process nowhere. Keeping the per-key index on disk cost a random B+tree
// insert per enqueue and halved group-commit throughput; writing leases
// cost a commit per claim. The items themselves are on disk, and Open
// rebuilds the table from them (loadKeyTable). What must grow across
// restarts does: each Open starts a new token epoch, kept in meta.
//
// The table follows commits, never transactions: every change is applied
// in the transaction's OnCommit, which runs after the commit is visible to
// new transactions and before the committer starts the next one. So a
// claim that sees the table reads items from a snapshot at least as new.
//
// A fenced write checks its lease before it is committed and counts as in
// flight on it until done; a lapsed lease with a write in flight is not
// claimable, so the next holder never reads the key without that write.
type keyTable struct {
	mu     sync.Mutex
	token  uint64 // the last fencing token handed out
	keys   map[string]*keyState
	leased map[string]*keyState // the keys with a lease (live or lapsed)
	free   freeKeys             // keys with items and no lease, by oldest seq
}

type keyState struct {
	seqs   []uint64    // pending, ascending
	lease  *leaseEntry // nil when nobody holds the key
	inFree bool        // queued in free
}

type leaseEntry struct {
	store.Lease
	writes int // fenced writes checked but not yet done
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

// loadKeyTable builds q's table from its pending items.
func loadKeyTable(tx *bolt.Tx, q store.QueueName, epoch uint64) (*keyTable, error) {
	t := &keyTable{token: epoch << epochShift, keys: map[string]*keyState{}, leased: map[string]*keyState{}}
	c := tx.Bucket(queueBucket(q)).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rec, err := decodeItem(v)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", readU64(k), err)
		}
		t.added(rec.Key, readU64(k))
	}
	return t, nil
}

// added records a committed item: seq above every pending seq of the
// queue (enqueued or replayed). t.mu held.
func (t *keyTable) added(key string, seq uint64) {
	st := t.keys[key]
	if st == nil {
		st = &keyState{}
		t.keys[key] = st
	}
	st.seqs = append(st.seqs, seq)
	t.pushFree(key, st)
}

// removed records that item seq of key left the queue (acked or
// dead-lettered); it reports whether the key has no item left. t.mu held.
func (t *keyTable) removed(key string, seq uint64) (empty bool) {
	st := t.keys[key]
	if st == nil {
		return true
	}
	if i, found := slices.BinarySearch(st.seqs, seq); found {
		st.seqs = slices.Delete(st.seqs, i, i+1)
	}
	t.tidy(key, st)
	return len(st.seqs) == 0
}

// pushFree queues key for claiming if it has items and no lease. t.mu held.
func (t *keyTable) pushFree(key string, st *keyState) {
	if st.inFree || st.lease != nil || len(st.seqs) == 0 {
		return
	}
	st.inFree = true
	heap.Push(&t.free, freeKey{key: key, head: st.seqs[0]})
}

// tidy forgets a key with nothing left. t.mu held.
func (t *keyTable) tidy(key string, st *keyState) {
	if len(st.seqs) == 0 && st.lease == nil && !st.inFree {
		delete(t.keys, key)
	}
}

// live returns key's lease entry if l is its current, unexpired lease; t.mu held.
func (t *keyTable) live(l store.Lease, now time.Time) (*keyState, *leaseEntry, error) {
	st := t.keys[l.Key]
	if st == nil || st.lease == nil || st.lease.Owner != l.Owner || st.lease.Token != l.Token || !now.Before(st.lease.Expires) {
		return nil, nil, fmt.Errorf("key %q under token %d: %w", l.Key, l.Token, store.ErrLeaseLost)
	}
	return st, st.lease, nil
}

// release drops l if it is still its key's lease, freeing the key for
// claims if items are left. t.mu held.
func (t *keyTable) release(l store.Lease) {
	st := t.keys[l.Key]
	if st == nil || st.lease == nil || st.lease.Token != l.Token {
		return
	}
	st.lease = nil
	delete(t.leased, l.Key)
	t.pushFree(l.Key, st)
	t.tidy(l.Key, st)
}

// claim leases up to max keys to owner: keys whose lease lapsed (with no
// write in flight; the first takenOver of the result), then free keys,
// oldest item first. t.mu held.
func (t *keyTable) claim(q store.QueueName, owner string, max int, now time.Time, ttl time.Duration) (leases []store.Lease, takenOver int) {
	var keys []string
	for key, st := range t.leased {
		if len(keys) < max && len(st.seqs) > 0 && st.lease.writes == 0 && !now.Before(st.lease.Expires) {
			keys = append(keys, key)
		}
	}
	takenOver = len(keys) // lapsed leases come first
	for len(keys) < max && t.free.Len() > 0 {
		f := heap.Pop(&t.free).(freeKey)
		st := t.keys[f.key]
		if st == nil {
			continue
		}
		st.inFree = false
		if st.lease != nil || len(st.seqs) == 0 {
			t.tidy(f.key, st)
			continue
		}
		keys = append(keys, f.key)
	}
	out := make([]store.Lease, 0, len(keys))
	for _, key := range keys {
		t.token++
		l := store.Lease{Queue: q, Key: key, Owner: owner, Token: t.token, Expires: now.Add(ttl)}
		st := t.keys[key]
		st.lease = &leaseEntry{Lease: l}
		t.leased[key] = st
		out = append(out, l)
	}
	return out, takenOver
}

// seqsAfter returns up to limit (all when limit <= 0) of key's pending
// seqs above after. t.mu held.
func (t *keyTable) seqsAfter(key string, after uint64, limit int) []uint64 {
	st := t.keys[key]
	if st == nil {
		return nil
	}
	i, _ := slices.BinarySearch(st.seqs, after+1)
	out := st.seqs[i:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return slices.Clone(out)
}

// holds reports whether seq is a pending item of key. t.mu held.
func (t *keyTable) holds(key string, seq uint64) bool {
	st := t.keys[key]
	if st == nil {
		return false
	}
	_, found := slices.BinarySearch(st.seqs, seq)
	return found
}

type freeKey struct {
	key  string
	head uint64 // the key's oldest seq when queued (it cannot change while free)
}

// freeKeys is a min-heap by head.
type freeKeys []freeKey

func (h freeKeys) Len() int           { return len(h) }
func (h freeKeys) Less(i, j int) bool { return h[i].head < h[j].head }
func (h freeKeys) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *freeKeys) Push(x any)        { *h = append(*h, x.(freeKey)) }
func (h *freeKeys) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
