package store

import (
	"context"
	"sync"
	"time"
)

// LocalSingletons implements Singletons for a store only one process opens
// (the embedded store and Memory): the one process is the whole cluster,
// so its leases live in memory and start free after a restart.
type LocalSingletons struct {
	Now func() time.Time

	mu     sync.Mutex
	token  uint64
	leases map[string]SingletonLease
}

// AcquireSingleton implements Singletons.
func (l *LocalSingletons) AcquireSingleton(ctx context.Context, name, owner string, ttl time.Duration) (SingletonLease, bool, error) {
	if err := ValidateSingleton(name, owner, ttl); err != nil {
		return SingletonLease{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return SingletonLease{}, false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	cur, ok := l.leases[name]
	live := ok && now.Before(cur.Expires)
	switch {
	case live && cur.Owner != owner:
		return cur, false, nil
	case !live:
		l.token++
		cur = SingletonLease{Name: name, Owner: owner, Token: l.token}
	}
	cur.Expires = now.Add(ttl)
	if l.leases == nil {
		l.leases = map[string]SingletonLease{}
	}
	l.leases[name] = cur
	return cur, true, nil
}

// ReleaseSingleton implements Singletons.
func (l *LocalSingletons) ReleaseSingleton(ctx context.Context, lease SingletonLease) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.leases[lease.Name]; ok && cur.Owner == lease.Owner && cur.Token == lease.Token {
		delete(l.leases, lease.Name)
	}
	return nil
}
