package pluginhost

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/boltstore"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// recordOnly hides a journal's intents: the journal as it was before sends
// in doubt were known.
type recordOnly struct{ sdk.SendJournal }

// BenchmarkJournaledSend times a Send with an idempotency key through the
// core's journal in the embedded store (fsync on every commit, group
// commit), from the engine's call to the answer: "record" looks the key up
// and records the result, as before; "intent+record" also records the
// intent to send (Host.BeginSend, one more hop and commit) before the
// adapter calls its platform. One sender, and 16 at once (their commits
// share fsyncs). Median and p99 of a Send besides the mean.
//
//	go test -run '^$' -bench JournaledSend -benchtime 2000x -cpu 1 -count 5 ./core/pluginhost/
func BenchmarkJournaledSend(b *testing.B) {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "journal.db"), boltstore.Options{SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	for _, variant := range []struct {
		name    string
		journal func(channel string) sdk.SendJournal
	}{
		{"record", func(ch string) sdk.SendJournal { return recordOnly{store.ChannelJournal{Journal: st, Channel: ch}} }},
		{"intent+record", func(ch string) sdk.SendJournal { return store.ChannelJournal{Journal: st, Channel: ch} }},
	} {
		for _, senders := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/senders=%d", variant.name, senders), func(b *testing.B) {
				opts, _ := testOptions(b)
				opts.Journal = variant.journal
				channel := fmt.Sprintf("bench-%d", time.Now().UnixNano())
				ch := launch(b, echoSpec(channel), opts, &recorder{}, "")
				if err := ch.WaitStarted(context.Background()); err != nil {
					b.Fatal(err)
				}
				var (
					mu   sync.Mutex
					took = make([]time.Duration, 0, b.N)
					next atomic.Int64
				)
				b.SetParallelism(senders) // × GOMAXPROCS goroutines; GOMAXPROCS is 1 in the runs quoted
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						start := time.Now()
						if _, err := ch.Send(ctx, sdk.OutboundMessage{To: sdk.Address{ChatID: "c1"}, Text: "hello from the agent",
							IdempotencyKey: fmt.Sprint("k", next.Add(1))}); err != nil {
							b.Error(err)
							return
						}
						d := time.Since(start)
						mu.Lock()
						took = append(took, d)
						mu.Unlock()
					}
				})
				slices.Sort(took)
				if len(took) > 0 {
					b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
				}
			})
		}
	}
}
