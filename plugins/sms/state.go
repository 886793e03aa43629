package sms

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// stateTTL is how long receipts, choices, send progress and unfinished
// concatenated messages are remembered. Providers retry and report for
// about a day (Vonage resends for 24 h).
const stateTTL = 48 * time.Hour

// state is what the adapter must remember across restarts, kept in
// <StateDir>/sms-state.json and rewritten atomically on every change. SMS
// volumes per channel are small, so a JSON file is enough and, unlike a
// locked database, lets a restarted adapter open it while the old one is
// still exiting.
type state struct {
	mu     sync.Mutex
	path   string // "" keeps it in memory only
	data   stateData
	pruned time.Time
}

// pruneEvery bounds how often update forgets old entries.
const pruneEvery = 10 * time.Minute

type stateData struct {
	// MediaKey signs agent-media URLs (hex).
	MediaKey string `json:"media_key"`
	// OptedOut lists numbers that sent STOP, with when.
	OptedOut map[string]time.Time `json:"opted_out"`
	// Choices are the numbered options last offered to each number.
	Choices map[string]offered `json:"choices"`
	// Sent maps provider message ids to the number and the furthest status
	// already reported, so late or repeated callbacks never regress.
	Sent map[string]sentMessage `json:"sent"`
	// Progress remembers the ids of the parts of a split Send, by
	// idempotency key, so a retried Send does not resend parts.
	Progress map[string]progress `json:"progress"`
	// Parts holds parts of concatenated Vonage messages until all arrived.
	Parts map[string]*concat `json:"parts"`
	// Media lists agent files served under <webhook>/media/<id>.
	Media map[string]mediaFile `json:"media"`
}

type offered struct {
	Choices []sdk.Choice `json:"choices"`
	At      time.Time    `json:"at"`
}

type sentMessage struct {
	Phone string    `json:"phone"`
	Rank  int       `json:"rank"` // receiptRank of the furthest status delivered
	At    time.Time `json:"at"`
}

type progress struct {
	Parts [][]string `json:"parts"` // provider ids of each piece sent so far
	At    time.Time  `json:"at"`
}

type concat struct {
	Total int            `json:"total"`
	Parts map[int]string `json:"parts"` // part number → text
	IDs   map[int]string `json:"ids"`   // part number → messageId
	At    time.Time      `json:"at"`
}

type mediaFile struct {
	ContentType string    `json:"content_type"`
	Expires     time.Time `json:"expires"`
}

// openState loads dir/sms-state.json (dir "" keeps state in memory).
func openState(dir string, now time.Time) (*state, error) {
	s := &state{}
	if dir != "" {
		if err := os.MkdirAll(filepath.Join(dir, "media"), 0o700); err != nil {
			return nil, fmt.Errorf("sms state: %w", err)
		}
		s.path = filepath.Join(dir, "sms-state.json")
		b, err := os.ReadFile(s.path)
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &s.data); err != nil {
				return nil, fmt.Errorf("sms state %s: %w", s.path, err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("sms state: %w", err)
		}
	}
	d := &s.data
	if d.MediaKey == "" {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("sms state: media key: %w", err)
		}
		d.MediaKey = hex.EncodeToString(k)
	}
	if d.OptedOut == nil {
		d.OptedOut = map[string]time.Time{}
	}
	if d.Choices == nil {
		d.Choices = map[string]offered{}
	}
	if d.Sent == nil {
		d.Sent = map[string]sentMessage{}
	}
	if d.Progress == nil {
		d.Progress = map[string]progress{}
	}
	if d.Parts == nil {
		d.Parts = map[string]*concat{}
	}
	if d.Media == nil {
		d.Media = map[string]mediaFile{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	return s, s.saveLocked()
}

// update applies fn under the lock and saves the result durably. fn
// must validate before it changes anything: an error skips the save but
// cannot undo a change already made.
func (s *state) update(fn func(d *stateData) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(&s.data); err != nil {
		return err
	}
	if now := time.Now(); now.Sub(s.pruned) > pruneEvery {
		s.pruneLocked(now)
	}
	return s.saveLocked()
}

// read runs fn under the lock without saving.
func (s *state) read(fn func(d *stateData)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.data)
}

func (s *state) saveLocked() error {
	if s.path == "" {
		return nil
	}
	b, err := json.Marshal(&s.data)
	if err != nil {
		return fmt.Errorf("sms state: %w", err)
	}
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("sms state: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		return fmt.Errorf("sms state: %w", err)
	}
	return nil
}

// pruneLocked forgets what is too old to matter and expired media files.
func (s *state) pruneLocked(now time.Time) {
	s.pruned = now
	d := &s.data
	for k, v := range d.Choices {
		if now.Sub(v.At) > stateTTL {
			delete(d.Choices, k)
		}
	}
	for k, v := range d.Sent {
		if now.Sub(v.At) > stateTTL {
			delete(d.Sent, k)
		}
	}
	for k, v := range d.Progress {
		if now.Sub(v.At) > stateTTL {
			delete(d.Progress, k)
		}
	}
	for k, v := range d.Parts {
		if now.Sub(v.At) > stateTTL {
			delete(d.Parts, k)
		}
	}
	for id, m := range d.Media {
		if now.After(m.Expires) {
			delete(d.Media, id)
			if s.path != "" {
				_ = os.Remove(filepath.Join(filepath.Dir(s.path), "media", id))
			}
		}
	}
}

func (s *state) mediaDir() string {
	if s.path == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(s.path), "media")
}
