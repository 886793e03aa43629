package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/internal/notify"
)

// Options configure Open.
type Options struct {
	store.Options
	// DSN is a libpq connection string or URL (postgres://user:pass@host/db).
	DSN string
	// MaxConns bounds the pool; default 16.
	MaxConns int32
	// StatementTimeout bounds every statement on the server; default 10s.
	StatementTimeout time.Duration
	// PollInterval is how often waiters are woken even without a
	// notification (a missed one, a listener reconnecting); default 5s.
	PollInterval time.Duration
	// SweepInterval is how often expired entries are purged in the
	// background; default 1m, negative for never (commands that only look).
	SweepInterval time.Duration
	// SweepLimit bounds the entries one purge transaction deletes; default 1000.
	SweepLimit int
	// Owner names this instance in the named leases the store takes itself
	// (the purge runs on one instance at a time); default host/pid.
	Owner string
	// Logger; default: none.
	Logger hclog.Logger
}

func (o Options) withDefaults() Options {
	o.Options = o.Options.WithDefaults()
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 10 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = time.Minute
	}
	if o.SweepLimit <= 0 {
		o.SweepLimit = 1000
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	return o
}

// notifyChannel is what every instance LISTENs on; payloads are "inbound",
// "outbound" (new items) and "state" (echoes, links, unowned conversations).
const notifyChannel = "leconnect"

// Store is the PostgreSQL store.Store.
type Store struct {
	opts Options
	pool *pgxpool.Pool
	log  hclog.Logger

	// mu is held for reading by every operation and for writing by Close.
	mu     sync.RWMutex
	closed bool

	queues map[store.QueueName]*queue
	wakes  atomic.Uint64 // counts wake-ups of stateSig
	state  *notify.Seq   // wakes AwaitEcho, AwaitLink and AwaitUnowned

	stopListen context.CancelFunc
	listening  chan struct{}
	trips      *roundTrips
}

var _ store.Store = (*Store)(nil)

// Open connects, migrates the schema and starts listening for other
// instances' commits.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: dsn: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	trips := &roundTrips{}
	cfg.ConnConfig.Tracer = trips
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(opts.StatementTimeout.Milliseconds())
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "leconnect"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", redact(cfg.ConnConfig), err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", redact(cfg.ConnConfig), err)
	}
	err = migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", redact(cfg.ConnConfig), err)
	}
	s := &Store{opts: opts, pool: pool, log: opts.Logger, queues: map[store.QueueName]*queue{}, state: notify.New(0), trips: trips}
	for _, name := range []store.QueueName{store.Inbound, store.Outbound} {
		s.queues[name] = &queue{s: s, name: name, sig: notify.New(0)}
	}
	for _, q := range s.queues { // the baseline for poll
		var newest int64
		if err := pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM items WHERE queue = $1`, q.name).Scan(&newest); err != nil {
			pool.Close()
			return nil, fmt.Errorf("open postgres store %s: %w", redact(cfg.ConnConfig), err)
		}
		q.polled.Store(newest)
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.stopListen, s.listening = cancel, make(chan struct{})
	go s.listen(lctx)
	return s, nil
}

// redact names the server without the password.
func redact(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// begin guards an operation against Close.
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

func (s *Store) end() { s.mu.RUnlock() }

func (s *Store) now() time.Time { return s.opts.Now().UTC() }

// tx runs fn in a transaction, committed before tx returns.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// send runs b in one round trip: its statements form one implicit
// transaction, committed when all succeed, rolled back at the first
// error. A fence that fails (see leconnect_fence) is store.ErrLeaseLost.
func (s *Store) send(ctx context.Context, b *pgx.Batch) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	return leaseError(s.pool.SendBatch(ctx, b).Close())
}

// sendReading is send with read reading the results in order (an error
// from read rolls nothing back that has committed: use the fence).
func (s *Store) sendReading(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	br := s.pool.SendBatch(ctx, b)
	err := read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return leaseError(err)
}

// leaseError turns the fence's error into store.ErrLeaseLost.
func leaseError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == fenceErrCode {
		return fmt.Errorf("%s: %w", pe.Message, store.ErrLeaseLost)
	}
	return err
}

// Close stops listening and closes the pool; every call after it returns
// store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stopListen()
	<-s.listening
	for _, q := range s.queues {
		q.sig.Close()
	}
	s.state.Close()
	s.pool.Close()
	return nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	var readOnly string
	if err := s.pool.QueryRow(ctx, `SHOW transaction_read_only`).Scan(&readOnly); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	if readOnly == "on" {
		return errors.New("ping postgres: the server is read-only (a standby?)")
	}
	return nil
}

// wakeState wakes everyone awaiting delivery state.
func (s *Store) wakeState() { s.state.Advance(s.wakes.Add(1)) }

// poll wakes a queue's waiters when its newest item changed since the
// last look (a notification missed while the listener was down), and the
// state waiters in any case (they look again; cheap).
func (s *Store) poll(ctx context.Context) {
	for _, q := range s.queues {
		var newest int64
		if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM items WHERE queue = $1`, q.name).Scan(&newest); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("poll postgres", "queue", q.name, "err", err)
			}
			continue
		}
		if q.polled.Swap(newest) != newest {
			q.wake()
		}
	}
	s.wakeState()
}

// listen wakes waiters on other instances' commits until ctx ends, and
// every PollInterval in any case.
func (s *Store) listen(ctx context.Context) {
	defer close(s.listening)
	poll := time.NewTicker(s.opts.PollInterval)
	defer poll.Stop()
	go func() {
		var sweep <-chan time.Time
		if s.opts.SweepInterval > 0 {
			t := time.NewTicker(s.opts.SweepInterval)
			defer t.Stop()
			sweep = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-poll.C:
				s.poll(ctx)
			case <-sweep:
				s.sweep(ctx)
			}
		}
	}()
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("postgres listener lost; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	defer func() {
		// The connection goes back to the pool: stop listening first.
		uctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "UNLISTEN *"); err != nil {
			conn.Conn().Close(uctx)
		}
	}()
	s.poll(ctx) // whatever happened while nobody listened
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Payload {
		case string(store.Inbound), string(store.Outbound):
			s.queues[store.QueueName(n.Payload)].wake()
		default:
			s.wakeState()
		}
	}
}

// purgeSingleton names the lease under which one instance of a cluster
// purges; the holder keeps it by purging at every interval, and another
// takes over within two intervals of its end.
const purgeSingleton = "expiry-purge"

// sweep purges expired entries in bounded transactions, on the one
// instance holding the purge lease.
func (s *Store) sweep(ctx context.Context) {
	if _, held, err := s.AcquireSingleton(ctx, purgeSingleton, s.opts.Owner, 2*s.opts.SweepInterval); err != nil || !held {
		if err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrClosed) {
			s.log.Warn("taking the purge lease failed", "err", err)
		}
		return
	}
	if err := store.PurgeInBatches(ctx, s.PurgeExpired, s.opts.SweepLimit); err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrClosed) {
		s.log.Warn("purging expired keys failed", "err", err)
	}
}

// notifyTx has the transaction notify the other instances at its commit.
func notifyTx(ctx context.Context, tx pgx.Tx, payload string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, payload)
	return err
}
