package conversation

import "sync"

// handoff passes what the accepting side already decoded (a channel's
// event, a parsed LiveEngage change) to the worker that takes the item, by
// queue position, so the worker does not decode the stored payload again.
// It is a cache, not state: a worker that finds nothing (another instance
// took the item, the process restarted, the entry was evicted) decodes the
// payload, which holds the same thing.
type handoff[T any] struct {
	mu    sync.Mutex
	items map[uint64]T
	ring  []uint64 // insertion order; the oldest entry is evicted when full
	next  int
}

func newHandoff[T any](capacity int) *handoff[T] {
	return &handoff[T]{items: make(map[uint64]T, capacity), ring: make([]uint64, capacity)}
}

// put keeps v for the item at seq, evicting the oldest entry when full.
func (h *handoff[T]) put(seq uint64, v T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.items, h.ring[h.next]) // a no-op unless that entry is still waiting
	h.ring[h.next] = seq
	h.next = (h.next + 1) % len(h.ring)
	h.items[seq] = v
}

// take returns and forgets what was kept for seq.
func (h *handoff[T]) take(seq uint64) (T, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.items[seq]
	delete(h.items, seq)
	return v, ok
}
