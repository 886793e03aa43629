package sdk

import "sync"

// PartLedger is for adapters that send one OutboundMessage as several
// platform messages (a long text split, a file then its buttons). It
// remembers, per idempotency key, the ids of the parts already sent, so a
// Send retried after a partial failure resumes after them instead of sending
// them again. It lives in memory (the SDK's send journal covers restarts)
// and keeps the last max keys.
type PartLedger struct {
	mu      sync.Mutex
	max     int
	entries map[string]*partEntry
	order   []string
}

type partEntry struct {
	lock sync.Mutex // held by the Send working on the key
	ids  []string
}

// NewPartLedger returns a ledger that remembers the last max keys.
func NewPartLedger(max int) *PartLedger {
	return &PartLedger{max: max, entries: map[string]*partEntry{}}
}

// Send sends the parts [already sent, n) in order with send and returns the
// ids of all n parts. Concurrent calls with the same key wait for each
// other; an empty key is not remembered. On an error, the parts sent so far
// are remembered and the error returned.
func (l *PartLedger) Send(key string, n int, send func(part int) (id string, err error)) ([]string, error) {
	e := l.acquire(key)
	defer e.lock.Unlock()
	for i := len(e.ids); i < n; i++ {
		id, err := send(i)
		if err != nil {
			return nil, err
		}
		e.ids = append(e.ids, id)
	}
	return append([]string(nil), e.ids...), nil
}

func (l *PartLedger) acquire(key string) *partEntry {
	if key == "" {
		e := &partEntry{}
		e.lock.Lock()
		return e
	}
	l.mu.Lock()
	e, ok := l.entries[key]
	if !ok {
		e = &partEntry{}
		l.entries[key] = e
		l.order = append(l.order, key)
		if len(l.order) > l.max {
			delete(l.entries, l.order[0])
			l.order = l.order[1:]
		}
	}
	l.mu.Unlock()
	e.lock.Lock()
	return e
}
