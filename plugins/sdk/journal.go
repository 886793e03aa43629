package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// journalTTL is how long a Send result is remembered. The core retries a
// send for far less time than this.
const journalTTL = 7 * 24 * time.Hour

// journal remembers successful Sends by idempotency key on disk, so a Send
// the core repeats after a crash (its own or the adapter's) is answered
// without sending to the platform again. Appends are fsynced, and
// concurrent appends share one fsync.
type journal struct {
	path string
	lock *os.File // held while open: one adapter process per journal

	mu      sync.Mutex
	entries map[string]journalEntry
	f       *os.File
	pending []journalEntry
	waiters []chan error
	writing bool
}

type journalEntry struct {
	Key string    `json:"k"`
	IDs []string  `json:"ids"`
	At  time.Time `json:"t"`
}

// journalLockWait bounds how long a new adapter process waits for the one it
// replaces to finish its last sends and release the journal.
const journalLockWait = 2 * drainTimeout

// openJournal loads dir/send-journal.jsonl, dropping entries older than the
// TTL and a torn last line (from a crash mid-write), and rewrites it
// compacted. It first takes the journal's lock: the process being replaced
// (its core died) may still be journaling its last sends, and reading before
// it is done would forget them.
func openJournal(dir string, now time.Time) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("send journal: %w", err)
	}
	lock, err := lockFile(filepath.Join(dir, "send-journal.lock"), journalLockWait)
	if err != nil {
		return nil, fmt.Errorf("send journal: %w", err)
	}
	j := &journal{path: filepath.Join(dir, "send-journal.jsonl"), entries: map[string]journalEntry{}, lock: lock}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	if f, err := os.Open(j.path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var e journalEntry
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.Key == "" {
				continue // a torn line: its Send was never answered, so the core retries it
			}
			if now.Sub(e.At) < journalTTL {
				j.entries[e.Key] = e
			}
		}
		err := sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("send journal %s: %w", j.path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("send journal: %w", err)
	}
	if err := j.compact(); err != nil {
		return nil, err
	}
	ok = true
	return j, nil
}

// compact writes the live entries to a new file and swaps it in atomically.
func (j *journal) compact() error {
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("send journal: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, e := range j.entries {
		line, _ := json.Marshal(e)
		w.Write(append(line, '\n'))
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("send journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("send journal: %w", err)
	}
	if d, err := os.Open(filepath.Dir(j.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	j.f, err = os.OpenFile(j.path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("send journal: %w", err)
	}
	return nil
}

// handOver records every entry with record (the core's journal), forgets
// those it took and compacts the file; it returns how many it handed over.
// Call it before any Send.
func (j *journal) handOver(ctx context.Context, record func(ctx context.Context, key string, ids []string) error) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	var err error
	for key, e := range j.entries {
		if err = record(ctx, key, e.IDs); err != nil {
			break
		}
		delete(j.entries, key)
		n++
	}
	if n > 0 {
		if cerr := j.f.Close(); cerr != nil {
			return n, fmt.Errorf("send journal: %w", cerr)
		}
		if cerr := j.compact(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

// lookup returns the ids a key was sent as.
func (j *journal) lookup(key string) ([]string, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[key]
	return e.IDs, ok
}

// record stores a successful Send durably before it returns.
func (j *journal) record(key string, ids []string, now time.Time) error {
	done := make(chan error, 1)
	j.mu.Lock()
	e := journalEntry{Key: key, IDs: ids, At: now}
	j.entries[key] = e
	j.pending = append(j.pending, e)
	j.waiters = append(j.waiters, done)
	if !j.writing {
		j.writing = true
		go j.flush()
	}
	j.mu.Unlock()
	return <-done
}

// flush writes whatever is pending with one fsync, until nothing is.
func (j *journal) flush() {
	for {
		j.mu.Lock()
		batch, waiters := j.pending, j.waiters
		j.pending, j.waiters = nil, nil
		if len(batch) == 0 {
			j.writing = false
			j.mu.Unlock()
			return
		}
		f := j.f
		j.mu.Unlock()
		var buf []byte
		for _, e := range batch {
			line, _ := json.Marshal(e)
			buf = append(append(buf, line...), '\n')
		}
		_, err := f.Write(buf)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("send journal: %w", err)
		}
		for _, w := range waiters {
			w <- err
		}
	}
}

// close waits for pending writes, closes the file and releases the lock.
func (j *journal) close() error {
	for {
		j.mu.Lock()
		if !j.writing {
			break
		}
		j.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if j.lock != nil {
		err = errors.Join(err, j.lock.Close()) // closing releases the flock
		j.lock = nil
	}
	return err
}
