package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/internal/notify"
)

// schemaVersion is the layout this binary writes (see doc.go). Open refuses
// files with a higher version.
const schemaVersion = 4

// Options configure Open. The zero value is usable.
type Options struct {
	store.Options
	// LockTimeout is how long Open waits for another process to release the
	// file. Default 1s.
	LockTimeout time.Duration
	// SweepInterval is how often expired dedupe keys and links are purged in
	// the background. Default 1 minute; negative disables the sweeper.
	SweepInterval time.Duration
	// SweepLimit bounds the index entries one purge transaction touches.
	// Default 1000.
	SweepLimit int
	// MaxBatchSize bounds how many write calls share one commit (group
	// commit, see commit.go). Default 1000.
	MaxBatchSize int
	// Logger receives the sweeper's logs. Default: a null logger.
	Logger hclog.Logger

	// openFile, when set by a test, opens the file instead of os.OpenFile
	// (to inject the errors of a read-only file system).
	openFile func(name string, flag int, perm os.FileMode) (*os.File, error)
}

func (o Options) withDefaults() Options {
	o.Options = o.Options.WithDefaults()
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = time.Minute
	}
	if o.SweepLimit <= 0 {
		o.SweepLimit = 1000
	}
	if o.MaxBatchSize <= 0 {
		o.MaxBatchSize = 1000
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}

// Store is the embedded store. Create it with Open; it implements store.Store.
type Store struct {
	path string
	opts Options
	db   *bolt.DB
	log  hclog.Logger
	gc   *committer

	// mu is held for reading by every operation and for writing by Close,
	// so Close waits for operations in flight and none starts after it.
	mu     sync.RWMutex
	closed bool

	queues map[store.QueueName]*queue
	// singletons: the file is locked to one process, so that process is
	// the whole cluster and named leases live in memory.
	store.LocalSingletons

	stateSeq atomic.Uint64 // counts commits of echoes and unowned conversations
	stateSig *notify.Seq   // wakes AwaitEcho and AwaitUnowned

	stopSweep context.CancelFunc
	sweepDone chan struct{}

	// commits counts committed write transactions (each costs two
	// fdatasyncs in bbolt: data pages, then the meta page).
	commits  atomic.Uint64
	enqueues atomic.Uint64 // Enqueue calls that committed
	// testFault, when set by a test, can fail a transaction part-way.
	testFault func(step, key string) error
}

var _ store.Store = (*Store)(nil)

// Stats are counters for benchmarks and metrics.
type Stats struct {
	// Commits is the number of committed write transactions.
	Commits uint64
	// EnqueueCalls is the number of Enqueue calls that committed.
	EnqueueCalls uint64
}

// Stats returns the counters since Open.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), EnqueueCalls: s.enqueues.Load()}
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// damagedHint says what to do about a damaged store file.
const damagedHint = "restore it from a backup (docs/operations.md, Files), or move it aside to start with an empty store, losing what it held (queued messages, conversations)"

// Open opens (creating if missing) the database file at path. It fails with
// store.ErrLocked when another process holds the file for longer than
// LockTimeout, with store.ErrSchemaTooNew when the file was written by a
// newer leconnect, and with store.ErrDamaged when the file is emptied,
// truncated or overwritten (never an empty start in its place); every
// error names the path.
func Open(path string, opts Options) (_ *Store, err error) {
	opts = opts.withDefaults()
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: create directory: %w", path, unwritable(path, err))
		}
	}
	// bbolt writes a new file's first pages before Open returns: an empty
	// file is one that lost them, and bbolt would start it afresh.
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		return nil, fmt.Errorf("open store %s: %w: the file is empty (0 bytes); %s", path, store.ErrDamaged, damagedHint)
	}
	// bbolt panics on pages that are not what the meta page says
	// (a truncated or overwritten file): an error, not a crash.
	var db *bolt.DB
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				func() { defer func() { _ = recover() }(); _ = db.Close() }()
			}
			err = fmt.Errorf("open store %s: %w (%v); %s", path, store.ErrDamaged, r, damagedHint)
		}
	}()
	// 0600: the file holds consumer JWS.
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, OpenFile: opts.openFile})
	if err != nil {
		switch {
		case errors.Is(err, bolterr.ErrTimeout):
			return nil, fmt.Errorf("open store %s: %w (waited %s; is another leconnect using this file?)", path, store.ErrLocked, opts.LockTimeout)
		case errors.Is(err, bolterr.ErrInvalid), errors.Is(err, bolterr.ErrChecksum), errors.Is(err, bolterr.ErrVersionMismatch):
			return nil, fmt.Errorf("open store %s: %w (%v); %s", path, store.ErrDamaged, err, damagedHint)
		}
		return nil, fmt.Errorf("open store %s: %w", path, unwritable(path, err))
	}
	s := &Store{path: path, opts: opts, db: db, log: opts.Logger, queues: map[store.QueueName]*queue{}, stateSig: notify.New(0)}
	s.LocalSingletons.Now = s.now
	epoch, err := s.migrate()
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, unwritable(path, err))
	}
	err = db.View(func(tx *bolt.Tx) error {
		for _, name := range []store.QueueName{store.Inbound, store.Outbound} {
			last := tx.Bucket(queueBucket(name)).Sequence()
			keys, err := loadKeyTable(tx, name, epoch)
			if err != nil {
				return fmt.Errorf("load %s: %w", name, err)
			}
			s.queues[name] = &queue{s: s, name: name, sig: notify.New(last), keys: keys}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.gc = newCommitter(db, opts.MaxBatchSize, func() { s.commits.Add(1) }, func(err error) error { return unwritable(path, err) })
	ctx, cancel := context.WithCancel(context.Background())
	s.stopSweep, s.sweepDone = cancel, make(chan struct{})
	go s.sweep(ctx)
	return s, nil
}

// migrate creates missing buckets, checks the schema version, migrates
// from older ones and starts a new lease epoch.
func (s *Store) migrate() (epoch uint64, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		fresh := meta == nil
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta = tx.Bucket(bMeta)
		var err error
		if epoch, err = nextLeaseEpoch(meta); err != nil {
			return err
		}
		raw := meta.Get(keySchema)
		if raw == nil {
			if !fresh {
				return fmt.Errorf("meta bucket without schema version: not a leconnect store, or damaged")
			}
			return meta.Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
		}
		v, err := strconv.Atoi(string(raw))
		if err != nil {
			return fmt.Errorf("schema version %q unreadable: %w", raw, err)
		}
		if v > schemaVersion {
			return fmt.Errorf("schema version %d, this binary supports up to %d: %w", v, schemaVersion, store.ErrSchemaTooNew)
		}
		if v < 2 {
			if err := migrateSequences(tx); err != nil {
				return fmt.Errorf("migrate schema 1 to 2: %w", err)
			}
			if err := migrateReservedLinks(tx); err != nil {
				return fmt.Errorf("migrate schema 1 to 2: %w", err)
			}
		}
		if v < 3 {
			if err := dropLeaseBuckets(tx); err != nil {
				return fmt.Errorf("migrate schema %d to 3: %w", v, err)
			}
		}
		if v < schemaVersion {
			return meta.Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
		}
		return nil
	})
	return epoch, err
}

// migrateSequences is schema 1 → 2: outbound messaging items (pending or
// dead-lettered) get their LiveEngage sequence as a field, read once from
// the dedupe key schema 1 kept it in ("m" NUL conversation NUL sequence).
func migrateSequences(tx *bolt.Tx) error {
	seqOf := func(dedupe string) *int64 {
		if !strings.HasPrefix(dedupe, "m\x00") {
			return nil
		}
		n, err := strconv.ParseInt(dedupe[strings.LastIndexByte(dedupe, 0)+1:], 10, 64)
		if err != nil {
			return nil
		}
		return &n
	}
	qb := tx.Bucket(queueBucket(store.Outbound))
	c := qb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rec, err := decodeItem(v)
		if err != nil {
			return err
		}
		if rec.Sequence != nil || seqOf(rec.DedupeKey) == nil {
			continue
		}
		rec.Sequence = seqOf(rec.DedupeKey)
		if err := qb.Put(k, encodeItem(rec)); err != nil {
			return err
		}
	}
	db := tx.Bucket(bDLQ)
	dc := db.Cursor()
	for k, v := dc.First(); k != nil; k, v = dc.Next() {
		var rec deadRec
		if err := decode(v, &rec); err != nil {
			return err
		}
		if rec.Queue != store.Outbound || rec.Item.Sequence != nil || seqOf(rec.Item.DedupeKey) == nil {
			continue
		}
		rec.Item.Sequence = seqOf(rec.Item.DedupeKey)
		nv, err := encode(rec)
		if err != nil {
			return err
		}
		if err := db.Put(k, nv); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the sweeper, waits for operations in flight and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stopSweep()
	<-s.sweepDone
	for _, q := range s.queues {
		q.sig.Close()
	}
	s.stateSig.Close()
	s.gc.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// begin starts an operation; the caller must call s.mu.RUnlock when done.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	return nil
}

// write runs fn in a group-committed transaction and returns once it is on
// disk. fn may run more than once (when a call in the same batch fails, the
// batch is retried without it), so fn must reset any results it reports
// through its closure at the start of every run. Errors that are an answer
// rather than a failure (not found, conflict) are reported through the
// closure with a nil return, so they do not cost the batch a retry.
func (s *Store) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return s.gc.do(fn)
}

func (s *Store) read(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

func (s *Store) now() time.Time { return s.opts.Now() }

// fault lets tests fail a transaction part-way (after some writes).
func (s *Store) fault(step, key string) error {
	if s.testFault == nil {
		return nil
	}
	return s.testFault(step, key)
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta).Get(keySchema) == nil {
			return fmt.Errorf("ping store %s: schema version missing", s.path)
		}
		return nil
	})
}

// ---- consumers ----------------------------------------------------------------

// GetConsumer implements store.Consumers.
func (s *Store) GetConsumer(ctx context.Context, id store.Identity) (store.Consumer, error) {
	if err := id.Validate(); err != nil {
		return store.Consumer{}, err
	}
	var rec consumerRec
	err := s.read(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bConsumers).Get(identityKey(id))
		if v == nil {
			return fmt.Errorf("consumer %s/%s: %w", id.Channel, id.ConsumerID, store.ErrNotFound)
		}
		return decode(v, &rec)
	})
	return rec.Consumer, err
}

// PutConsumer implements store.Consumers.
func (s *Store) PutConsumer(ctx context.Context, c store.Consumer) (store.Consumer, error) {
	if err := c.Identity.Validate(); err != nil {
		return store.Consumer{}, err
	}
	if len(c.Conversation.ID) > store.MaxKeyLen || len(c.ParticipantID) > store.MaxKeyLen {
		return store.Consumer{}, fmt.Errorf("consumer: conversation or participant id longer than %d bytes: %w", store.MaxKeyLen, store.ErrInvalid)
	}
	key := identityKey(c.Identity)
	now := s.now()
	var out store.Consumer
	var conflict error
	err := s.write(ctx, func(tx *bolt.Tx) error {
		out, conflict = store.Consumer{}, nil
		b := tx.Bucket(bConsumers)
		var cur uint64
		var oldConv, oldPart string
		if v := b.Get(key); v != nil {
			var rec consumerRec
			if err := decode(v, &rec); err != nil {
				return err
			}
			cur, oldConv, oldPart = rec.Revision, rec.Conversation.ID, rec.ParticipantID
		}
		if cur != c.Revision {
			// Not a transaction error: failing the transaction would make
			// the committer re-run every other call in its batch.
			conflict = fmt.Errorf("consumer %s/%s: stored revision %d, given %d: %w", c.Identity.Channel, c.Identity.ConsumerID, cur, c.Revision, store.ErrConflict)
			return nil
		}
		next := c
		next.Revision = cur + 1
		next.UpdatedAt = now.UTC()
		v, err := encode(consumerRec{V: recordVersion, Consumer: next})
		if err != nil {
			return err
		}
		if err := b.Put(key, v); err != nil {
			return err
		}
		ob := tx.Bucket(bOwners)
		if id := next.Conversation.ID; id != "" {
			ov, err := encode(ownerRec{V: recordVersion, Identity: next.Identity})
			if err != nil {
				return err
			}
			if err := ob.Put([]byte(id), ov); err != nil {
				return err
			}
		}
		if oldConv != "" && oldConv != next.Conversation.ID {
			// Keep the old conversation findable for late notifications, then let it go.
			exp := now.Add(s.opts.LinkTTL)
			ov, err := encode(ownerRec{V: recordVersion, Identity: next.Identity, RetiredUntil: exp.UnixNano()})
			if err != nil {
				return err
			}
			if err := ob.Put([]byte(oldConv), ov); err != nil {
				return err
			}
			if err := tx.Bucket(bExpiry).Put(expiryKey(exp, kindOwner, []byte(oldConv)), []byte{}); err != nil {
				return err
			}
		}
		if err := putParticipant(tx, oldPart, next); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return store.Consumer{}, fmt.Errorf("put consumer %s/%s: %w", c.Identity.Channel, c.Identity.ConsumerID, err)
	}
	if conflict != nil {
		return store.Consumer{}, conflict
	}
	return out, nil
}

// putParticipant indexes c's participant id, dropping the one it replaces
// if that still points at c.
func putParticipant(tx *bolt.Tx, old string, c store.Consumer) error {
	pb := tx.Bucket(bParts)
	if old != "" && old != c.ParticipantID {
		if v := pb.Get([]byte(old)); v != nil {
			var rec ownerRec
			if err := decode(v, &rec); err != nil {
				return err
			}
			if rec.Identity == c.Identity {
				if err := pb.Delete([]byte(old)); err != nil {
					return err
				}
			}
		}
	}
	if c.ParticipantID == "" {
		return nil
	}
	v, err := encode(ownerRec{V: recordVersion, Identity: c.Identity})
	if err != nil {
		return err
	}
	return pb.Put([]byte(c.ParticipantID), v)
}

// ConsumerByParticipant implements store.Consumers.
func (s *Store) ConsumerByParticipant(ctx context.Context, participantID string) (store.Identity, error) {
	var rec ownerRec
	err := s.read(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bParts).Get([]byte(participantID))
		if v == nil {
			return store.ErrNotFound
		}
		return decode(v, &rec)
	})
	if err != nil {
		return store.Identity{}, fmt.Errorf("participant %s: %w", participantID, err)
	}
	return rec.Identity, nil
}

// ConversationOwner implements store.Consumers.
func (s *Store) ConversationOwner(ctx context.Context, conversationID string) (store.Identity, error) {
	var rec ownerRec
	now := s.now().UnixNano()
	err := s.read(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bOwners).Get([]byte(conversationID))
		if v == nil {
			return store.ErrNotFound
		}
		if err := decode(v, &rec); err != nil {
			return err
		}
		if rec.RetiredUntil != 0 && now >= rec.RetiredUntil {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return store.Identity{}, fmt.Errorf("conversation %s: %w", conversationID, err)
	}
	return rec.Identity, nil
}

// ---- consumer tokens ------------------------------------------------------------

// GetConsumerToken implements store.ConsumerTokens (liveperson.ConsumerTokenStore).
func (s *Store) GetConsumerToken(ctx context.Context, extConsumerID string) (string, bool, error) {
	var rec tokenRec
	var ok bool
	err := s.read(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bTokens).Get([]byte(extConsumerID))
		if v == nil {
			return nil
		}
		ok = true
		return decode(v, &rec)
	})
	if err != nil {
		// The id is not a secret; the token is never logged or wrapped.
		return "", false, fmt.Errorf("get consumer token %s: %w", extConsumerID, err)
	}
	return rec.Token, ok, nil
}

// PutConsumerToken implements store.ConsumerTokens (liveperson.ConsumerTokenStore).
func (s *Store) PutConsumerToken(ctx context.Context, extConsumerID, token string) error {
	if extConsumerID == "" || len(extConsumerID) > store.MaxKeyLen {
		return fmt.Errorf("consumer token: ext consumer id empty or longer than %d bytes: %w", store.MaxKeyLen, store.ErrInvalid)
	}
	v, err := encode(tokenRec{V: recordVersion, Token: token})
	if err != nil {
		return err
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bTokens).Put([]byte(extConsumerID), v)
	})
	if err != nil {
		return fmt.Errorf("put consumer token %s: %w", extConsumerID, err)
	}
	return nil
}

// ---- message links ----------------------------------------------------------------

// PutLinks implements store.Links.
func (s *Store) PutLinks(ctx context.Context, links ...store.MessageLink) error {
	for _, l := range links {
		if err := l.Validate(); err != nil {
			return err
		}
	}
	exp := s.now().Add(s.opts.LinkTTL)
	err := s.write(ctx, func(tx *bolt.Tx) error { return putLinksTx(tx, exp, links) })
	if err != nil {
		return fmt.Errorf("put message links: %w", err)
	}
	s.stateChanged()
	return nil
}

// putLinksTx stores links (and their reverse and expiry entries) in tx.
func putLinksTx(tx *bolt.Tx, exp time.Time, links []store.MessageLink) error {
	lb, rb, eb := tx.Bucket(bLinks), tx.Bucket(bLinkSeq), tx.Bucket(bExpiry)
	for _, l := range links {
		key := linkKey(l.Channel, l.ChatID, l.ChannelMessageID)
		if old := lb.Get(key); old != nil {
			var rec linkRec
			if err := decode(old, &rec); err != nil {
				return err
			}
			// The platform message may have been relinked: drop the old reverse entry.
			if err := rb.Delete(append(linkSeqPrefix(rec.ConversationID, rec.Sequence), key...)); err != nil {
				return err
			}
		}
		v, err := encode(linkRec{V: recordVersion, MessageLink: l, ExpiresAt: exp.UnixNano()})
		if err != nil {
			return err
		}
		if err := lb.Put(key, v); err != nil {
			return err
		}
		if err := rb.Put(append(linkSeqPrefix(l.ConversationID, l.Sequence), key...), []byte{}); err != nil {
			return err
		}
		if err := eb.Put(expiryKey(exp, kindLink, key), []byte{}); err != nil {
			return err
		}
	}
	return nil
}

// choiceRec is a stored store.Choice.
type choiceRec struct {
	V int `json:"v"`
	store.Choice
	ExpiresAt int64 `json:"expires_at"`
}

func choiceKeyOf(id store.Identity, choice string) []byte {
	return append(append(identityKey(id), 0), choice...)
}

// PutChoices implements store.Choices.
func (s *Store) PutChoices(ctx context.Context, choices ...store.Choice) error {
	for _, c := range choices {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	exp := s.now().Add(s.opts.LinkTTL)
	err := s.write(ctx, func(tx *bolt.Tx) error {
		cb, eb := tx.Bucket(bChoices), tx.Bucket(bExpiry)
		for _, c := range choices {
			key := choiceKeyOf(c.Identity, c.ID)
			v, err := encode(choiceRec{V: recordVersion, Choice: c, ExpiresAt: exp.UnixNano()})
			if err != nil {
				return err
			}
			if err := cb.Put(key, v); err != nil {
				return err
			}
			if err := eb.Put(expiryKey(exp, kindChoice, key), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put choices: %w", err)
	}
	return nil
}

// GetChoice implements store.Choices.
func (s *Store) GetChoice(ctx context.Context, consumer store.Identity, id string) (store.Choice, error) {
	var rec choiceRec
	now := s.now().UnixNano()
	err := s.read(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bChoices).Get(choiceKeyOf(consumer, id))
		if v == nil {
			return store.ErrNotFound
		}
		if err := decode(v, &rec); err != nil {
			return err
		}
		if now >= rec.ExpiresAt {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return store.Choice{}, fmt.Errorf("choice %q: %w", id, err)
	}
	return rec.Choice, nil
}

// LinkByChannelMessage implements store.Links.
func (s *Store) LinkByChannelMessage(ctx context.Context, channel, chatID, channelMessageID string) (store.MessageLink, error) {
	var out store.MessageLink
	now := s.now().UnixNano()
	err := s.read(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bLinks).Get(linkKey(channel, chatID, channelMessageID))
		if v == nil {
			return store.ErrNotFound
		}
		var rec linkRec
		if err := decode(v, &rec); err != nil {
			return err
		}
		if now >= rec.ExpiresAt {
			return store.ErrNotFound
		}
		out = rec.MessageLink
		return nil
	})
	if err != nil {
		return store.MessageLink{}, fmt.Errorf("message link %s/%s/%s: %w", channel, chatID, channelMessageID, err)
	}
	return out, nil
}

// LinksBySequence implements store.Links.
func (s *Store) LinksBySequence(ctx context.Context, conversationID string, sequence int64) ([]store.MessageLink, error) {
	if sequence < 0 {
		return nil, nil
	}
	var out []store.MessageLink
	now := s.now().UnixNano()
	prefix := linkSeqPrefix(conversationID, sequence)
	err := s.read(ctx, func(tx *bolt.Tx) error {
		lb := tx.Bucket(bLinks)
		c := tx.Bucket(bLinkSeq).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			v := lb.Get(k[len(prefix):])
			if v == nil {
				continue // purged forward record; the reverse entry goes with the next sweep
			}
			var rec linkRec
			if err := decode(v, &rec); err != nil {
				return err
			}
			if now >= rec.ExpiresAt {
				continue
			}
			out = append(out, rec.MessageLink)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("message links of %s/%d: %w", conversationID, sequence, err)
	}
	return out, nil
}

// ---- expiry ---------------------------------------------------------------------

// PurgeExpired implements store.Store. It reads the expiry index from its
// oldest entry and stops at the first one not yet due or after limit
// entries, so one call is one bounded transaction. An index entry whose
// record was refreshed since (a later expiry) is removed without touching the
// record and not counted.
func (s *Store) PurgeExpired(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		limit = s.opts.SweepLimit
	}
	now := s.now().UnixNano()
	var n int
	err := s.write(ctx, func(tx *bolt.Tx) error {
		n = 0
		eb := tx.Bucket(bExpiry)
		c := eb.Cursor()
		var due [][]byte
		for k, _ := c.First(); k != nil && len(due) < limit; k, _ = c.Next() {
			exp, _, _, ok := splitExpiryKey(k)
			if ok && exp > now {
				break
			}
			due = append(due, bytes.Clone(k))
		}
		for _, k := range due {
			if err := eb.Delete(k); err != nil {
				return err
			}
			exp, kind, key, ok := splitExpiryKey(k)
			if !ok {
				continue
			}
			deleted, err := purgeOne(tx, exp, kind, key)
			if err != nil {
				return err
			}
			if deleted {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired: %w", err)
	}
	return n, nil
}

func purgeOne(tx *bolt.Tx, exp int64, kind byte, key []byte) (bool, error) {
	switch kind {
	case kindDedupeInbound, kindDedupeOutbound:
		q := store.Inbound
		if kind == kindDedupeOutbound {
			q = store.Outbound
		}
		b := tx.Bucket(dedupeBucket(q))
		if v := b.Get(key); v != nil && int64(readU64(v)) == exp {
			return true, b.Delete(key)
		}
	case kindLink:
		lb := tx.Bucket(bLinks)
		v := lb.Get(key)
		if v == nil {
			return false, nil
		}
		var rec linkRec
		if err := decode(v, &rec); err != nil {
			return false, err
		}
		if rec.ExpiresAt != exp {
			return false, nil
		}
		if err := tx.Bucket(bLinkSeq).Delete(append(linkSeqPrefix(rec.ConversationID, rec.Sequence), key...)); err != nil {
			return false, err
		}
		return true, lb.Delete(key)
	case kindChoice:
		cb := tx.Bucket(bChoices)
		v := cb.Get(key)
		if v == nil {
			return false, nil
		}
		var rec choiceRec
		if err := decode(v, &rec); err != nil {
			return false, err
		}
		if rec.ExpiresAt != exp {
			return false, nil // refreshed since
		}
		return true, cb.Delete(key)
	case kindEcho, kindHandled, kindUnowned:
		return purgeState(tx, exp, kind, key)
	case kindSend:
		return purgeSend(tx, exp, key)
	case kindOwner:
		ob := tx.Bucket(bOwners)
		v := ob.Get(key)
		if v == nil {
			return false, nil
		}
		var rec ownerRec
		if err := decode(v, &rec); err != nil {
			return false, err
		}
		if rec.RetiredUntil != exp {
			return false, nil // current again, or retired again later
		}
		return true, ob.Delete(key)
	}
	return false, nil
}

func (s *Store) sweep(ctx context.Context) {
	defer close(s.sweepDone)
	if s.opts.SweepInterval < 0 {
		return
	}
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := store.PurgeInBatches(ctx, s.PurgeExpired, s.opts.SweepLimit); err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrClosed) {
			s.log.Warn("purging expired keys failed", "path", s.path, "err", err)
		}
	}
}
