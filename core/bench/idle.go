package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/boltstore"
	"github.com/leconnect/leconnect/emulator/liveengage"
	slackemu "github.com/leconnect/leconnect/emulator/slack"
	smsemu "github.com/leconnect/leconnect/emulator/sms"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// IdleReport is what idle mapped conversations cost and how fast the core
// starts: once on an empty store, once on a store holding Conversations.
type IdleReport struct {
	Conversations int `json:"conversations"`
	// StoreBytesPerConversation is the store file's growth per conversation,
	// StoreInUseBytesPerConversation what its pages hold of it.
	StoreBytesPerConversation      float64 `json:"store_bytes_per_conversation"`
	StoreInUseBytesPerConversation float64 `json:"store_in_use_bytes_per_conversation"`
	Empty                          IdleRun `json:"empty"`
	Full                           IdleRun `json:"full"`
	// RAMPerConversationBytes is the core's resident memory growth per
	// conversation (Full minus Empty), and HeapPerConversationBytes the
	// anonymous (heap and stacks) part of it: the rest is the store file's
	// pages the kernel maps in, which it can drop under pressure.
	RAMPerConversationBytes  float64 `json:"ram_per_conversation_bytes"`
	HeapPerConversationBytes float64 `json:"heap_per_conversation_bytes"`
}

// IdleRun is one start of the core with the three built-in adapters.
type IdleRun struct {
	// ColdStartMs is from exec to /readyz 200.
	ColdStartMs float64 `json:"cold_start_ms"`
	// The core process once ready and idle for a second (/proc status):
	// resident, and its anonymous and file-backed parts.
	RSSBytes     uint64 `json:"rss_bytes"`
	RSSAnonBytes uint64 `json:"rss_anon_bytes"`
	RSSFileBytes uint64 `json:"rss_file_bytes"`
	// AdaptersRSSBytes is the three adapter processes' resident memory.
	AdaptersRSSBytes uint64 `json:"adapters_rss_bytes"`
	StoreBytes       int64  `json:"store_bytes"`
	// StoreInUseBytes is what the store's pages hold (bbolt's B+tree
	// statistics); the rest of the file is pages' free space (bbolt splits
	// a full page in two) and free pages.
	StoreInUseBytes int64 `json:"store_in_use_bytes"`
}

// Idle measures the core at rest: it fills a fresh embedded store with
// n mapped conversations (a consumer record with its open conversation and
// participant id, and its consumer JWS, as the engine stores them), starts
// `leconnect run` with the Telegram, Slack and SMS adapters against their
// emulators, and reads the time to ready and the memory; then the same on
// an empty store.
func Idle(ctx context.Context, o Options, n int) (IdleReport, error) {
	o = o.withDefaults()
	if o.Exe == "" {
		return IdleReport{}, errors.New("bench: the leconnect executable is required")
	}
	o.Store = "bbolt"
	rep := IdleReport{Conversations: n}
	var err error
	fmt.Fprintf(o.Progress, "bench: the core at rest on an empty store\n")
	if rep.Empty, err = idleRun(ctx, o, 0); err != nil {
		return rep, fmt.Errorf("bench: empty store: %w", err)
	}
	fmt.Fprintf(o.Progress, "bench: the core at rest with %d mapped conversations\n", n)
	if rep.Full, err = idleRun(ctx, o, n); err != nil {
		return rep, fmt.Errorf("bench: %d conversations: %w", n, err)
	}
	if n > 0 {
		per := func(full, empty uint64) float64 { return (float64(full) - float64(empty)) / float64(n) }
		rep.StoreBytesPerConversation = float64(rep.Full.StoreBytes-rep.Empty.StoreBytes) / float64(n)
		rep.StoreInUseBytesPerConversation = float64(rep.Full.StoreInUseBytes-rep.Empty.StoreInUseBytes) / float64(n)
		rep.RAMPerConversationBytes = per(rep.Full.RSSBytes, rep.Empty.RSSBytes)
		rep.HeapPerConversationBytes = per(rep.Full.RSSAnonBytes, rep.Empty.RSSAnonBytes)
	}
	return rep, nil
}

func idleRun(ctx context.Context, o Options, n int) (IdleRun, error) {
	dir, err := os.MkdirTemp(o.Dir, "leconnect-idle-")
	if err != nil {
		return IdleRun{}, err
	}
	defer os.RemoveAll(dir)
	o.Dir = dir
	dbPath := filepath.Join(dir, "leconnect.db")
	if err := fillStore(ctx, dbPath, n, o.Progress); err != nil {
		return IdleRun{}, fmt.Errorf("fill the store: %w", err)
	}
	em := &emulators{}
	defer em.close()
	channels, env, err := em.startAll()
	if err != nil {
		return IdleRun{}, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return IdleRun{}, err
	}
	addr := l.Addr().String()
	l.Close()
	t, err := launchCore(ctx, o, coreRun{addr: addr, leURL: em.leURL, channels: channels, env: env, poll: time.Millisecond})
	if err != nil {
		return IdleRun{}, err
	}
	defer t.stop()
	run := IdleRun{ColdStartMs: float64(t.ready.Microseconds()) / 1000}
	select { // at rest: the adapters' start-up work is over
	case <-time.After(time.Second):
	case <-ctx.Done():
		return run, ctx.Err()
	}
	mem, err := procMemory(t.pid)
	if err != nil {
		return run, err
	}
	run.RSSBytes, run.RSSAnonBytes, run.RSSFileBytes = mem.rss, mem.anon, mem.file
	for pid := range children(t.pid) {
		if m, err := procMemory(pid); err == nil {
			run.AdaptersRSSBytes += m.rss
		}
	}
	t.stop() // the store file is the core's until it exits
	if run.StoreBytes, run.StoreInUseBytes, err = storeSize(dbPath); err != nil {
		return run, err
	}
	return run, nil
}

// storeSize is the embedded store's file size and what its pages hold.
func storeSize(path string) (file, inUse int64, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return 0, 0, fmt.Errorf("read the store's statistics: %w", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			s := b.Stats()
			inUse += int64(s.LeafInuse + s.BranchInuse + s.InlineBucketInuse)
			return nil
		})
	})
	return fi.Size(), inUse, err
}

// fillStore writes n mapped conversations through the store's API, as
// many writers at once as the engine's workers.
func fillStore(ctx context.Context, path string, n int, progress interface{ Write([]byte) (int, error) }) error {
	st, err := boltstore.Open(path, boltstore.Options{SweepInterval: -1})
	if err != nil {
		return err
	}
	token := consumerJWS()
	const writers = 64
	next := make(chan int)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := putConversation(ctx, st, i, token); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	start := time.Now()
	func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case err = <-errs:
				return
			case <-ctx.Done():
				err = ctx.Err()
				return
			}
			if i > 0 && i%100000 == 0 {
				fmt.Fprintf(progress, "bench: %d conversations stored (%.0f/s)\n", i, float64(i)/time.Since(start).Seconds())
			}
		}
	}()
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return errors.Join(err, st.Close())
}

func putConversation(ctx context.Context, st store.Store, i int, token string) error {
	user := strconv.Itoa(100000 + i)
	ext := fmt.Sprintf("lc-%024d", i) // extConsumerID's length
	c := store.Consumer{
		Identity:      store.Identity{Channel: "tg", ConsumerID: user},
		Address:       store.Address{ChatID: user},
		ExtConsumerID: ext,
		ParticipantID: uuidLike(i, 'p'),
		Conversation:  store.Conversation{ID: uuidLike(i, 'c'), State: store.StateOpen, OpenedAt: time.Now()},
	}
	if _, err := st.PutConsumer(ctx, c); err != nil {
		return err
	}
	return st.PutConsumerToken(ctx, ext, token)
}

// uuidLike is a distinct id of a LiveEngage id's shape and length.
func uuidLike(i int, kind byte) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i, kind, i%4096, i%4096, i)
}

// consumerJWS is a token of the size LiveEngage's IDP issues (an RS256
// JWS with a 2048-bit key and the consumer claims).
func consumerJWS() string {
	part := func(n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return part(60) + "." + part(300) + "." + part(256)
}

// startAll starts LiveEngage, Telegram, Slack and SMS (Twilio) emulators
// and returns the channels' config and the secrets it references.
func (em *emulators) startAll() (channels string, env []string, err error) {
	le, err := liveengage.New(liveengage.Options{AccountID: accountID, ClientID: clientID, ClientSecret: clientSecret, TimeScale: 0.01})
	if err != nil {
		return "", nil, err
	}
	if em.leURL, err = em.host(le.Handler(), func() { le.Close() }); err != nil {
		return "", nil, err
	}
	tg, err := tgemu.New(tgemu.Options{ChatRate: -1, GlobalRate: -1, TimeScale: 0.01})
	if err != nil {
		return "", nil, err
	}
	tgURL, err := em.host(tg.Handler(), tg.Close)
	if err != nil {
		return "", nil, err
	}
	sl, err := slackemu.New(slackemu.Options{TimeScale: 0.01, PostRate: -1})
	if err != nil {
		return "", nil, err
	}
	slURL, err := em.host(sl.Handler(), sl.Close)
	if err != nil {
		return "", nil, err
	}
	sl.SetPublicURL(slURL)
	sms, err := smsemu.New(smsemu.Options{TimeScale: 0.01})
	if err != nil {
		return "", nil, err
	}
	smsURL, err := em.host(sms.Handler(), sms.Close)
	if err != nil {
		return "", nil, err
	}
	sms.SetBaseURL(smsURL)
	channels = fmt.Sprintf(telegramChannel, tgURL) + fmt.Sprintf(`  - name: slack
    adapter: slack
    config:
      bot_token: ${SLACK_BOT_TOKEN}
      signing_secret: ${SLACK_SIGNING_SECRET}
      mode: events
      api_base_url: %s/api
  - name: sms
    adapter: sms
    config:
      provider: twilio
      account_sid: ${TWILIO_ACCOUNT_SID}
      auth_token: ${TWILIO_AUTH_TOKEN}
      from: "+15005550006"
      api_base_url: %s
`, slURL, smsURL)
	env = []string{"TELEGRAM_BOT_TOKEN=" + tg.Token(), "TELEGRAM_SECRET_TOKEN=" + tgSecret,
		"SLACK_BOT_TOKEN=" + sl.BotToken(), "SLACK_SIGNING_SECRET=" + sl.SigningSecret(),
		"TWILIO_ACCOUNT_SID=" + sms.AccountSID(), "TWILIO_AUTH_TOKEN=" + sms.AuthToken()}
	return channels, env, nil
}

// host serves an emulator's handler on a loopback port until the
// emulators close, and then closes the emulator too.
func (em *emulators) host(h http.Handler, closeEmulator func()) (string, error) {
	em.closers = append(em.closers, closeEmulator)
	return serve(h, &em.closers)
}
