package boltstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/storetest"
)

// The LiveEngage client can keep its consumer JWS here.
var _ liveperson.ConsumerTokenStore = (*Store)(nil)

func openT(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if opts.SweepInterval == 0 {
		opts.SweepInterval = -1
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestReopenPreservesEverything(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "dir", "leconnect.db") // parents created
	clock := storetest.NewClock()
	opts := Options{Options: store.Options{Now: clock.Now}}
	s := openT(t, path, opts)
	if s.db.NoSync { // commit-before-acknowledge depends on it
		t.Fatal("fsync on commit is off")
	}

	id := store.Identity{Channel: "telegram", ConsumerID: "7"}
	cons, err := s.PutConsumer(ctx, store.Consumer{Identity: id, ExtConsumerID: "ext-7",
		Conversation: store.Conversation{ID: "conv-7", State: store.StateOpen}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutConsumerToken(ctx, "ext-7", "jws-secret"); err != nil {
		t.Fatal(err)
	}
	link := store.MessageLink{Channel: "telegram", ChatID: "c7", ChannelMessageID: "m1", ConversationID: "conv-7", Sequence: 2}
	if err := s.PutLinks(ctx, link); err != nil {
		t.Fatal(err)
	}
	res, err := s.Inbound().Enqueue(ctx,
		store.Message{Key: "a", DedupeKey: "ev-1", Payload: []byte("1")},
		store.Message{Key: "a", DedupeKey: "ev-2", Payload: []byte("2")},
		store.Message{Key: "b", Payload: []byte("3")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Outbound().Enqueue(ctx, store.Message{Key: "conv-7", DedupeKey: "conv-7/5", Payload: []byte("out")}); err != nil {
		t.Fatal(err)
	}
	la, lb := holdKey(t, s.Inbound(), "a"), holdKey(t, s.Inbound(), "b")
	if err := s.Inbound().Leases().MarkAttempted(ctx, la, res[0].Seq); err != nil {
		t.Fatal(err)
	}
	dead, err := s.Inbound().Leases().DeadLetter(ctx, la, res[1].Seq, "permanent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Inbound().Leases().Ack(ctx, lb, res[2].Seq, store.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openT(t, path, opts)
	if got, err := s2.GetConsumer(ctx, id); err != nil || got.Revision != cons.Revision || got.ExtConsumerID != "ext-7" {
		t.Fatalf("consumer after reopen = %+v, %v", got, err)
	}
	if owner, err := s2.ConversationOwner(ctx, "conv-7"); err != nil || owner != id {
		t.Fatalf("owner after reopen = %+v, %v", owner, err)
	}
	if tok, ok, err := s2.GetConsumerToken(ctx, "ext-7"); err != nil || !ok || tok != "jws-secret" {
		t.Fatalf("token after reopen = %q, %v, %v", tok, ok, err)
	}
	if got, err := s2.LinkByChannelMessage(ctx, "telegram", "c7", "m1"); err != nil || got != link {
		t.Fatalf("link after reopen = %+v, %v", got, err)
	}
	items, err := s2.Inbound().Pending(ctx, 0, 0)
	if err != nil || len(items) != 1 || items[0].Seq != res[0].Seq || string(items[0].Payload) != "1" || items[0].Attempts != 1 {
		t.Fatalf("inbound after reopen = %+v, %v", items, err)
	}
	if n, _ := s2.Inbound().Depth(ctx); n != 1 {
		t.Fatalf("inbound depth after reopen = %d, want 1", n)
	}
	if out, _ := s2.Outbound().Pending(ctx, 0, 0); len(out) != 1 || string(out[0].Payload) != "out" {
		t.Fatalf("outbound after reopen = %+v", out)
	}
	if list, err := s2.DeadLetters().List(ctx, 0, 0); err != nil || len(list) != 1 || list[0].ID != dead.ID || list[0].Reason != "permanent" {
		t.Fatalf("dead letters after reopen = %+v, %v", list, err)
	}
	// Dedupe keys survive, and sequences continue where they were.
	r, err := s2.Inbound().Enqueue(ctx, store.Message{Key: "a", DedupeKey: "ev-1"}, store.Message{Key: "a", Payload: []byte("4")})
	if err != nil {
		t.Fatal(err)
	}
	if !r[0].Duplicate || r[1].Seq <= res[2].Seq {
		t.Fatalf("after reopen: results %+v (last seq before was %d)", r, res[2].Seq)
	}
	if err := s2.Inbound().Wait(ctx, res[2].Seq); err != nil {
		t.Fatalf("Wait after reopen: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		prepare func(t *testing.T) string
		is      error  // sentinel the error must match, if any
		text    string // substring the message must have
		// written: the open wrote before it found the damage (bbolt meets
		// an overwritten page only when the open's first write reads it).
		written bool
	}{
		{
			name: "locked by another opener",
			prepare: func(t *testing.T) string {
				p := filepath.Join(dir, "locked.db")
				openT(t, p, Options{}) // held until the test ends
				return p
			},
			is:   store.ErrLocked,
			text: "another leconnect",
		},
		{
			name: "newer schema",
			prepare: func(t *testing.T) string {
				p := filepath.Join(dir, "newer.db")
				s := openT(t, p, Options{})
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				db, err := bolt.Open(p, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion+1))) }); err != nil {
					t.Fatal(err)
				}
				return p
			},
			is:   store.ErrSchemaTooNew,
			text: fmt.Sprintf("schema version %d, this binary supports up to %d", schemaVersion+1, schemaVersion),
		},
		{
			name: "bolt file of something else",
			prepare: func(t *testing.T) string {
				p := filepath.Join(dir, "foreign.db")
				db, err := bolt.Open(p, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bMeta); return err }); err != nil {
					t.Fatal(err)
				}
				return p
			},
			text: "not a leconnect store",
		},
		{
			name: "not a database",
			prepare: func(t *testing.T) string {
				p := filepath.Join(dir, "garbage.db")
				if err := os.WriteFile(p, []byte(strings.Repeat("not bolt ", 1000)), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
			text: "invalid",
		},
		{
			name:    "emptied to 0 bytes",
			prepare: damagedStore(dir, "emptied.db", func(t *testing.T, p string) { mustT(t, os.Truncate(p, 0)) }),
			is:      store.ErrDamaged,
			text:    "the file is empty (0 bytes); restore it from a backup",
		},
		{
			name: "truncated to half",
			prepare: damagedStore(dir, "truncated.db", func(t *testing.T, p string) {
				fi, err := os.Stat(p)
				mustT(t, err)
				mustT(t, os.Truncate(p, fi.Size()/2))
			}),
			is:   store.ErrDamaged,
			text: "restore it from a backup",
		},
		{
			name: "a page overwritten",
			prepare: damagedStore(dir, "page.db", func(t *testing.T, p string) {
				overwrite(t, p, 3*4096, make([]byte, 4096)) // the first page after the two meta pages and the freelist
			}),
			is:      store.ErrDamaged,
			text:    "restore it from a backup",
			written: true,
		},
		{
			name: "both meta pages overwritten",
			prepare: damagedStore(dir, "meta.db", func(t *testing.T, p string) {
				overwrite(t, p, 16, []byte("not a meta page"))
				overwrite(t, p, 4096+16, []byte("not a meta page"))
			}),
			is:   store.ErrDamaged,
			text: "restore it from a backup",
		},
		{
			name: "directory in the way",
			prepare: func(t *testing.T) string {
				p := filepath.Join(dir, "isdir.db")
				if err := os.Mkdir(p, 0o700); err != nil {
					t.Fatal(err)
				}
				return p
			},
			text: "directory",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.prepare(t)
			before, _ := os.ReadFile(path)
			s, err := Open(path, Options{LockTimeout: 50 * time.Millisecond, SweepInterval: -1})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if after, _ := os.ReadFile(path); !tc.written && !bytes.Equal(before, after) {
				t.Fatalf("a failed Open changed the file (%d to %d bytes, first difference at %d): %v", len(before), len(after), firstDiff(before, after), err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err %q should name %s and say %q", err, path, tc.text)
			}
		})
	}
}

// damagedStore makes a store at dir/name holding queued items, closes it
// and damages the file.
func damagedStore(dir, name string, damage func(t *testing.T, path string)) func(t *testing.T) string {
	return func(t *testing.T) string {
		p := filepath.Join(dir, name)
		s := openT(t, p, Options{SweepInterval: -1})
		for range 200 {
			if _, err := s.Inbound().Enqueue(context.Background(), store.Message{Key: "conv", Payload: make([]byte, 500)}); err != nil {
				t.Fatal(err)
			}
		}
		mustT(t, s.Close())
		damage(t, p)
		return p
	}
}

func overwrite(t *testing.T, path string, at int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	mustT(t, err)
	defer f.Close()
	_, err = f.WriteAt(b, at)
	mustT(t, err)
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// holdNextBatch blocks the committer inside a transaction, then returns a
// function that waits until n calls are queued behind it and lets
// everything go. The n calls then form exactly one batch, whatever the
// scheduler does.
func holdNextBatch(t *testing.T, s *Store) (releaseWhenQueued func(n int)) {
	t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.gc.holdTx = func() { once.Do(func() { close(entered); <-release }) }
	blocker := make(chan error, 1)
	go func() { blocker <- s.gc.do(func(*bolt.Tx) error { return nil }) }()
	<-entered
	return func(n int) {
		t.Helper()
		waitQueued(t, s, n)
		close(release)
		if err := <-blocker; err != nil {
			t.Fatalf("blocking transaction: %v", err)
		}
	}
}

// waitQueued waits (bounded) until n write calls wait for the committer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := 0; ; i++ {
		s.gc.mu.Lock()
		queued := len(s.gc.queue)
		s.gc.mu.Unlock()
		if queued >= n {
			return
		}
		if i == 5000 {
			t.Fatalf("only %d of %d calls queued", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTransactionRollback fails a transaction after part of a batch was
// written, while other enqueuers share its group commit. The failed call
// stores nothing (items, seqs and dedupe keys all rolled back); the others
// are re-run and must each be stored exactly once, at the seq they were told.
func TestTransactionRollback(t *testing.T) {
	ctx := t.Context()
	const others = 6
	s := openT(t, filepath.Join(t.TempDir(), "f.db"), Options{})
	s.testFault = func(step, key string) error {
		if step == "enqueue-put" && key == "poison" {
			return errors.New("injected fault")
		}
		return nil
	}
	release := holdNextBatch(t, s)
	var wg sync.WaitGroup
	results := make([][]store.EnqueueResult, others)
	errs := make([]error, others+1)
	// Queue the calls one at a time so the faulty one sits mid-batch.
	for i := range others + 1 {
		switch {
		case i == others/2:
			wg.Go(func() {
				_, errs[others] = s.Inbound().Enqueue(ctx,
					store.Message{Key: "ok-first", DedupeKey: "p1"},
					store.Message{Key: "poison", DedupeKey: "p2"})
			})
		default:
			j := i
			if i > others/2 {
				j = i - 1
			}
			wg.Go(func() {
				results[j], errs[j] = s.Inbound().Enqueue(ctx, store.Message{Key: fmt.Sprintf("k%d", j), DedupeKey: fmt.Sprintf("d%d", j), Payload: []byte{byte(j)}})
			})
		}
		waitQueued(t, s, i+1)
	}
	release(others + 1)
	wg.Wait()
	for i := range others {
		if errs[i] != nil {
			t.Fatalf("enqueuer %d failed with its batch neighbour: %v", i, errs[i])
		}
	}
	if errs[others] == nil || !strings.Contains(errs[others].Error(), "injected fault") {
		t.Fatalf("faulty enqueue: err %v, want the injected fault", errs[others])
	}
	items, err := s.Inbound().Pending(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != others {
		t.Fatalf("%d items stored, want %d: %+v", len(items), others, items)
	}
	seqs := map[uint64]bool{}
	for _, it := range items {
		if it.Key == "ok-first" || it.Key == "poison" || seqs[it.Seq] {
			t.Fatalf("unexpected or doubled item %+v", it)
		}
		seqs[it.Seq] = true
	}
	for i, r := range results {
		if len(r) != 1 || !seqs[r[0].Seq] {
			t.Fatalf("enqueuer %d was told %+v, which is not stored", i, r)
		}
	}
	if n, _ := s.Inbound().Depth(ctx); n != others {
		t.Fatalf("Depth = %d, want %d", n, others)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		for _, k := range []string{"p1", "p2"} {
			if tx.Bucket(dedupeBucket(store.Inbound)).Get([]byte(k)) != nil {
				t.Errorf("dedupe key %s of the rolled-back batch was kept", k)
			}
		}
		return nil
	})
}

// TestGroupCommit: calls that arrive while a commit is in progress share the
// next one.
func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	const callers = 8
	s := openT(t, filepath.Join(t.TempDir(), "g.db"), Options{})
	release := holdNextBatch(t, s)
	before := s.Stats()
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			if _, err := s.Outbound().Enqueue(ctx, store.Message{Key: fmt.Sprintf("c%d", i)}); err != nil {
				t.Errorf("Enqueue: %v", err)
			}
		})
	}
	release(callers)
	wg.Wait()
	after := s.Stats()
	// One commit for the blocking transaction, one for all the callers.
	if got := after.Commits - before.Commits; got != 2 {
		t.Fatalf("%d commits for a blocker and %d queued enqueues, want 2", got, callers)
	}
	if got := after.EnqueueCalls - before.EnqueueCalls; got != callers {
		t.Fatalf("EnqueueCalls grew by %d, want %d", got, callers)
	}
	if n, _ := s.Outbound().Depth(ctx); n != callers {
		t.Fatalf("Depth = %d, want %d", n, callers)
	}
}

func TestBackgroundSweep(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock()
	s := openT(t, filepath.Join(t.TempDir(), "s.db"), Options{
		Options:       store.Options{Now: clock.Now, DedupeTTL: time.Minute, LinkTTL: time.Minute},
		SweepInterval: 5 * time.Millisecond,
		SweepLimit:    3, // several bounded transactions per sweep
	})
	for i := range 10 {
		if _, err := s.Inbound().Enqueue(ctx, store.Message{Key: "k", DedupeKey: fmt.Sprintf("d%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutLinks(ctx, store.MessageLink{Channel: "c", ChatID: "x", ChannelMessageID: "m", ConversationID: "v", Sequence: 1}); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		_ = s.db.View(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bExpiry, dedupeBucket(store.Inbound), bLinks, bLinkSeq} {
				n += tx.Bucket(b).Stats().KeyN
			}
			return nil
		})
		return n
	}
	if n := count(); n != 10+10+1+1+1 {
		t.Fatalf("%d keys before expiry, want 23", n)
	}
	clock.Advance(time.Minute)
	// Bounded wait for the sweeper (it runs every 5ms); no timing assertion.
	for i := 0; count() != 0; i++ {
		if i == 2000 {
			t.Fatalf("sweeper left %d keys", count())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPathInErrorsAfterClose(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "c.db"), Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Inbound().Enqueue(context.Background(), store.Message{Key: "k"}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Enqueue after Close: %v", err)
	}
}

// TestRecordEncoding pins the v1 value encoding: what this binary writes must
// stay readable by later ones, so a change here is a schema change.
func TestRecordEncoding(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name   string
		rec    any
		decode func([]byte) (any, error)
	}{
		{"item", itemRec{V: 1, Key: "conv-1", DedupeKey: "telegram/99", Payload: []byte(`{"text":"hi"}`), EnqueuedAt: at, Attempts: 2, Replays: 1},
			func(b []byte) (any, error) { var r itemRec; err := decode(b, &r); return r, err }},
		{"consumer", consumerRec{V: 1, Consumer: store.Consumer{
			Identity: store.Identity{Channel: "telegram", ConsumerID: "42"}, Address: store.Address{ChatID: "42"},
			ExtConsumerID: "ext", Conversation: store.Conversation{ID: "c", DialogID: "d", State: store.StateOpen, OpenedAt: at},
			Attrs: map[string]string{"k": "v"}, Revision: 3, UpdatedAt: at}},
			func(b []byte) (any, error) { var r consumerRec; err := decode(b, &r); return r, err }},
		{"dead letter", deadRec{V: 1, DeadLetter: store.DeadLetter{ID: 2, Queue: store.Outbound,
			Item: store.Item{Seq: 9, Key: "c", Payload: []byte("x"), EnqueuedAt: at}, Reason: "400", DeadAt: at}},
			func(b []byte) (any, error) { var r deadRec; err := decode(b, &r); return r, err }},
		{"link", linkRec{V: 1, MessageLink: store.MessageLink{Channel: "slack", ChatID: "C", ChannelMessageID: "1.2", ConversationID: "c", Sequence: 4}, ExpiresAt: at.UnixNano()},
			func(b []byte) (any, error) { var r linkRec; err := decode(b, &r); return r, err }},
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "records-v1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(golden)), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("testdata has %d records, test has %d", len(lines), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encode(tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != lines[i] {
				t.Fatalf("encoding changed:\n got %s\nwant %s", b, lines[i])
			}
			back, err := tc.decode([]byte(lines[i]))
			if err != nil {
				t.Fatal(err)
			}
			again, _ := encode(back)
			if !slices.Equal(again, b) {
				t.Fatalf("round trip changed the record:\n got %s\nwant %s", again, b)
			}
		})
	}
	t.Run("unknown version refused", func(t *testing.T) {
		var r itemRec
		if err := decode([]byte(`{"v":2,"key":"k"}`), &r); err == nil || !strings.Contains(err.Error(), "version 2") {
			t.Fatalf("decode of v2 record: %v", err)
		}
	})
}

// TestItemEncoding pins the binary item encoding (schema 4) and checks that
// items written as JSON by earlier binaries read the same.
func TestItemEncoding(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	seq := int64(7)
	want := itemRec{V: 1, Key: "conv-1", DedupeKey: "telegram/99", Payload: []byte(`{"text":"hi"}`), EnqueuedAt: at, Attempts: 2, Replays: 1}
	const golden = "02" + "06636f6e762d31" + "0b74656c656772616d2f3939" + "00" + "80d8f5d9b0c0c59931" + "02" + "01" + "7b2274657874223a226869227d"
	b := encodeItem(want)
	if hex.EncodeToString(b) != golden {
		t.Fatalf("encoding changed:\n got %x\nwant %s", b, golden)
	}
	lines, err := os.ReadFile(filepath.Join("testdata", "records-v1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := decodeItem([]byte(strings.SplitN(string(lines), "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	fromBinary, err := decodeItem(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, want) || !reflect.DeepEqual(fromBinary, want) {
		t.Fatalf("decoded\n JSON   %+v\n binary %+v\nwant    %+v", fromJSON, fromBinary, want)
	}
	for _, rec := range []itemRec{
		{V: 1, Key: "k", Sequence: &seq, Payload: bytes.Repeat([]byte{0, 0xff}, 300), EnqueuedAt: at.Add(123 * time.Nanosecond)},
		{V: 1, Key: "é\x00ü", EnqueuedAt: time.Unix(0, 0).UTC()},
	} {
		back, err := decodeItem(encodeItem(rec))
		if err != nil || !reflect.DeepEqual(back, rec) {
			t.Fatalf("round trip of %+v: %+v, %v", rec, back, err)
		}
	}
	// Every truncation of a value is an error, never a panic or a wrong item
	// (short of the payload, which runs to the end).
	full := encodeItem(itemRec{V: 1, Key: "conv", DedupeKey: "d", Sequence: &seq, EnqueuedAt: at, Attempts: 300})
	for n := range len(full) {
		if r, err := decodeItem(full[:n]); err == nil {
			t.Fatalf("decoding %d of %d bytes gave %+v", n, len(full), r)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
