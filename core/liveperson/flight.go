package liveperson

import (
	"context"
	"sync"
)

// flightGroup runs at most one fetch per key at a time and lets every caller
// wait for it. Unlike x/sync/singleflight, the fetch runs on its own goroutine
// with its own context, so a caller giving up (context cancelled) neither
// cancels the fetch for the others nor leaks a half-finished result.
type flightGroup[T any] struct {
	mu sync.Mutex
	m  map[string]*flight[T]
}

type flight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// do joins the fetch in progress for key, or starts fn for it.
func (g *flightGroup[T]) do(key string, fn func() (T, error)) *flight[T] {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f
	}
	if g.m == nil {
		g.m = make(map[string]*flight[T])
	}
	f := &flight[T]{done: make(chan struct{})}
	g.m[key] = f
	go func() {
		f.val, f.err = fn()
		g.mu.Lock()
		delete(g.m, key)
		g.mu.Unlock()
		close(f.done)
	}()
	return f
}

// wait returns the fetch's result, or ctx's error if ctx ends first.
func (f *flight[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
