package notify

import (
	"context"
	"sync"
)

// Seq tracks the highest committed sequence of one queue. The zero value is
// not usable; call New.
type Seq struct {
	mu     sync.Mutex
	last   uint64
	closed bool
	ch     chan struct{} // closed and replaced on every advance
}

// New returns a Seq starting at last.
func New(last uint64) *Seq { return &Seq{last: last, ch: make(chan struct{})} }

// Advance records that seq was committed and wakes waiters.
func (s *Seq) Advance(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq <= s.last || s.closed {
		return
	}
	s.last = seq
	close(s.ch)
	s.ch = make(chan struct{})
}

// Last is the highest sequence recorded so far.
func (s *Seq) Last() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Close wakes every waiter for good; Wait then returns errClosed.
func (s *Seq) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// Wait returns nil once a sequence greater than after was committed,
// closedErr once Close was called, or ctx's error.
func (s *Seq) Wait(ctx context.Context, after uint64, closedErr error) error {
	for {
		s.mu.Lock()
		last, closed, ch := s.last, s.closed, s.ch
		s.mu.Unlock()
		switch {
		case last > after:
			return nil
		case closed:
			return closedErr
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
