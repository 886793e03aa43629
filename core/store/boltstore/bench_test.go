package boltstore

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

// BenchmarkEnqueue measures durable enqueues (fsync on) with concurrent
// callers sharing group commits. Each op is one Enqueue of one ~300-byte
// message with a dedupe key, as the webhook handlers do. Reported:
// enqueues/s, p50/p99 latency of one Enqueue call, and enqueues per commit (each commit is two fdatasyncs in
// bbolt: data pages, then the meta page). callers is the number of
// goroutines calling Enqueue at once (a multiple of GOMAXPROCS beyond 1).
//
//	go test -run '^$' -bench BenchmarkEnqueue -benchtime 3s ./core/store/boltstore/
func BenchmarkEnqueue(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 300)
	for _, callers := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{SweepInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			q := s.Inbound()
			var n atomic.Int64
			lat := make([]time.Duration, b.N) // one slot per op, no locking
			enqueue := func() bool {
				i := n.Add(1)
				key := fmt.Sprintf("conv-%d", i%50)
				start := time.Now()
				if _, err := q.Enqueue(b.Context(), store.Message{Key: key, DedupeKey: fmt.Sprintf("ev-%d", i), Payload: payload}); err != nil {
					b.Error(err)
					return false
				}
				if int(i) <= len(lat) {
					lat[i-1] = time.Since(start)
				}
				return true
			}
			before := s.Stats()
			b.ResetTimer()
			if callers == 1 {
				for i := 0; i < b.N && enqueue(); i++ {
				}
			} else {
				// RunParallel starts parallelism*GOMAXPROCS goroutines.
				b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() && enqueue() {
					}
				})
			}
			b.StopTimer()
			st := s.Stats()
			commits := st.Commits - before.Commits
			calls := st.EnqueueCalls - before.EnqueueCalls
			b.ReportMetric(float64(calls)/b.Elapsed().Seconds(), "enqueues/s")
			if commits > 0 {
				b.ReportMetric(float64(calls)/float64(commits), "enqueues/commit")
			}
			lat = lat[:min(len(lat), int(n.Load()))]
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}

// BenchmarkItemCodec compares the binary item encoding with the JSON one
// it replaced, for an item the size of a queued LiveEngage change.
//
//	go test -run '^$' -bench ItemCodec ./core/store/boltstore/
func BenchmarkItemCodec(b *testing.B) {
	seq := int64(42)
	rec := itemRec{V: 1, Key: "5491244f-e462-4c63-bf4e-faf4b2d3e7b5", DedupeKey: "m\x005491244f-e462-4c63-bf4e-faf4b2d3e7b5\x0042",
		Sequence: &seq, Payload: bytes.Repeat([]byte(`{"kind":"notification","body":{"changes":[]}}`), 30), EnqueuedAt: time.Now().UTC()}
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			v, _ := encode(rec)
			var back itemRec
			if err := decode(v, &back); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeItem(encodeItem(rec)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
