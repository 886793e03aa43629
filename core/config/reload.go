package config

import (
	"sync"
	"sync/atomic"
)

// Reloader holds the current configuration of a running daemon and replaces it on
// Reload only when the new file is valid, so a SIGHUP with a broken file keeps the daemon
// on its last good configuration.
type Reloader struct {
	path string
	opts []Option

	mu  sync.Mutex // serialises reloads so two SIGHUPs cannot interleave
	cur atomic.Pointer[Config]
}

// NewReloader loads path once; it fails if the initial file is invalid.
func NewReloader(path string, opts ...Option) (*Reloader, []Problem, error) {
	c, warnings, err := Load(path, opts...)
	if err != nil {
		return nil, warnings, err
	}
	r := &Reloader{path: path, opts: opts}
	r.cur.Store(c)
	return r, warnings, nil
}

// Current returns the last good configuration; safe for concurrent use.
func (r *Reloader) Current() *Config { return r.cur.Load() }

// Reload re-reads the file. On success it returns the new configuration, which Current
// then returns; on failure it returns the problems and Current keeps the old one. Which
// changes take effect without a restart is the caller's business.
func (r *Reloader) Reload() (*Config, []Problem, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, warnings, err := Load(r.path, r.opts...)
	if err != nil {
		return nil, warnings, err
	}
	r.cur.Store(c)
	return c, warnings, nil
}
