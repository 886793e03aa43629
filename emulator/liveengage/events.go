package liveengage

import (
	"encoding/json"
	"sync"
	"sync/atomic"
)

// LiveEvent is one entry of the live event stream (SSE and Subscribe).
// Type "notification" carries a webhook body exactly as it is (or would
// be) POSTed; type "delivery" carries a Delivery.
type LiveEvent struct {
	Type           string          `json:"type"`
	ConversationID string          `json:"conversationId,omitempty"`
	Data           json.RawMessage `json:"data"`
}

// eventHub fans live events out to subscribers. Slow subscribers lose
// events rather than slowing the Send API down.
type eventHub struct {
	n      atomic.Int32
	mu     sync.RWMutex
	subs   map[chan LiveEvent]struct{}
	closed bool
}

func newEventHub() *eventHub { return &eventHub{subs: map[chan LiveEvent]struct{}{}} }

func (h *eventHub) active() bool { return h.n.Load() > 0 }

func (h *eventHub) publish(ev LiveEvent) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.RLock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
		}
	}
	h.mu.RUnlock()
}

func (h *eventHub) subscribe(buf int) (<-chan LiveEvent, func()) {
	ch := make(chan LiveEvent, buf)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	h.subs[ch] = struct{}{}
	h.n.Add(1)
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			if _, ok := h.subs[ch]; ok {
				delete(h.subs, ch)
				h.n.Add(-1)
				close(ch)
			}
			h.mu.Unlock()
		})
	}
}

func (h *eventHub) close() {
	h.mu.Lock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
	h.n.Store(0)
	h.mu.Unlock()
}

// Subscribe returns a channel of live events (buffer events deep; overflow
// is dropped) and a cancel function. The channel closes on cancel or Close.
func (e *Emulator) Subscribe(buffer int) (<-chan LiveEvent, func()) {
	if buffer <= 0 {
		buffer = 256
	}
	return e.hub.subscribe(buffer)
}
