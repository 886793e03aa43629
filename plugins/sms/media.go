package sms

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// mediaStore keeps agent files the provider fetches from a signed,
// expiring URL under the channel's webhook:
//
//	GET <webhook>/media/<id>?exp=<unix seconds>&sig=<hex HMAC-SHA256(key, id "\n" exp)>
//
// The core does not serve files for adapters, so the adapter does, through
// the webhook path the core already forwards. Files live in
// <StateDir>/media (memory without a state dir) until they expire.
type mediaStore struct {
	st  *state
	dir string

	mu  sync.Mutex
	mem map[string][]byte
}

var mediaIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func newMediaStore(st *state) *mediaStore {
	return &mediaStore{st: st, dir: st.mediaDir(), mem: map[string][]byte{}}
}

// put stores data and returns the signed URL under base (the webhook URL).
func (m *mediaStore) put(base string, data []byte, contentType string, ttl time.Duration, now time.Time) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("media id: %w", err)
	}
	id := hex.EncodeToString(b)
	if m.dir != "" {
		if err := os.WriteFile(filepath.Join(m.dir, id), data, 0o600); err != nil {
			return "", fmt.Errorf("store media: %w", err)
		}
	} else {
		m.mu.Lock()
		m.mem[id] = data
		m.mu.Unlock()
	}
	exp := now.Add(ttl)
	err := m.st.update(func(d *stateData) error {
		d.Media[id] = mediaFile{ContentType: contentType, Expires: exp}
		return nil
	})
	if err != nil {
		return "", err
	}
	return base + "/media/" + id + "?" + url.Values{"exp": {strconv.FormatInt(exp.Unix(), 10)}, "sig": {m.sign(id, exp.Unix())}}.Encode(), nil
}

func (m *mediaStore) sign(id string, exp int64) string {
	var key []byte
	m.st.read(func(d *stateData) { key, _ = hex.DecodeString(d.MediaKey) })
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id + "\n" + strconv.FormatInt(exp, 10)))
	return hex.EncodeToString(h.Sum(nil))
}

// serve answers GET/HEAD <webhook>/media/<id>: 404 for an unknown id or a
// bad or expired signature, so the URL reveals nothing.
func (m *mediaStore) serve(w http.ResponseWriter, r *http.Request, id string, now time.Time) {
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if !mediaIDPattern.MatchString(id) || err != nil || now.Unix() >= exp ||
		!hmac.Equal([]byte(m.sign(id, exp)), []byte(strings.ToLower(q.Get("sig")))) {
		http.NotFound(w, r)
		return
	}
	var meta mediaFile
	var known bool
	m.st.read(func(d *stateData) { meta, known = d.Media[id] })
	if !known {
		http.NotFound(w, r)
		return
	}
	var data []byte
	if m.dir != "" {
		data, err = os.ReadFile(filepath.Join(m.dir, id))
	} else {
		m.mu.Lock()
		data, known = m.mem[id]
		m.mu.Unlock()
		if !known {
			err = os.ErrNotExist
		}
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", meta.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Cache-Control", "private, max-age=60")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}
