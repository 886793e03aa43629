package liveperson_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/emulator/liveengage"
)

// BenchmarkPublishText measures PublishText against the emulator over
// loopback HTTP: throughput (msgs/s) and per-call latency percentiles.
//
//	go test -run '^$' -bench PublishText -benchtime 3s ./core/liveperson/
func BenchmarkPublishText(b *testing.B) {
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprintf("concurrency-%d", par), func(b *testing.B) {
			_, url := newEmulator(b, liveengage.Options{})
			c := newClient(b, url, nil, nil)
			ctx := context.Background()
			convs := make([]liveperson.Conversation, par)
			for i := range convs {
				var err error
				convs[i], err = c.CreateConversation(ctx, liveperson.ConversationRequest{ExtConsumerID: fmt.Sprintf("bench:%d", i)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.PublishText(ctx, convs[i], "warm-up"); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([][]time.Duration, par)
			var next sync.Mutex
			n := 0
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range par {
				lat[w] = make([]time.Duration, 0, b.N/par+1)
				wg.Go(func() {
					for {
						next.Lock()
						if n >= b.N {
							next.Unlock()
							return
						}
						n++
						next.Unlock()
						t0 := time.Now()
						if _, err := c.PublishText(ctx, convs[w], "benchmark message"); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) == 0 {
				return
			}
			pct := func(p float64) float64 {
				return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
