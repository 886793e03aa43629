package boltstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

// The crash child is this test binary re-executed with crashEnv set to a
// database path. It enqueues forever (bounded) from several producers and
// acks from one consumer, printing a line after every call that returned
// nil, until the parent kills it with SIGKILL.
const crashEnv = "LECONNECT_STORE_CRASH_CHILD"

const (
	crashProducers = 4
	crashAckKey    = "p0" // the child's consumer acks this key's items in order
	crashMaxItems  = 20000
)

func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		return // only meaningful when re-executed by TestCrashSafety
	}
	s, err := Open(path, Options{SweepInterval: -1})
	if err != nil {
		fmt.Println("open-error", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush() // the parent must see it before the kill
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for p := range crashProducers {
		wg.Go(func() {
			key := fmt.Sprintf("p%d", p)
			for i := 0; i < crashMaxItems; {
				// Alternate single enqueues and batches of two.
				n := 1 + i%2
				var msgs []store.Message
				for j := 0; j < n; j++ {
					msgs = append(msgs, store.Message{Key: key, DedupeKey: fmt.Sprintf("%s/%d", key, i+j), Payload: []byte(strconv.Itoa(i + j))})
				}
				if _, err := s.Inbound().Enqueue(ctx, msgs...); err != nil {
					say("error %v", err)
					return
				}
				for j := 0; j < n; j++ {
					say("enq %s %d", key, i+j)
				}
				i += n
			}
		})
	}
	wg.Go(func() {
		leases := s.Inbound().Leases()
		for {
			mark := s.Inbound().Last()
			claims, err := leases.Claim(ctx, "acker", 10000, 100, time.Hour)
			if err != nil {
				say("error %v", err)
				return
			}
			for _, c := range claims {
				if c.Lease.Key == crashAckKey {
					for _, it := range c.Items {
						if _, err := leases.Ack(ctx, c.Lease, it.Seq, store.Effects{}); err != nil {
							say("error %v", err)
							return
						}
						say("ack %s %s", it.Key, it.Payload)
					}
				}
				if err := leases.Release(ctx, c.Lease); err != nil {
					say("error %v", err)
					return
				}
			}
			if err := s.Inbound().Wait(ctx, mark); err != nil {
				return
			}
		}
	})
	wg.Wait()
	say("done")
	os.Exit(0)
}

// TestCrashSafety kills a writer with SIGKILL mid-stream and checks on reopen
// that every acknowledged enqueue is there, in order per key, nothing
// doubled, acknowledged acks stayed acked, and dedupe keys survived.
func TestCrashSafety(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	enqueued := map[string]int{} // highest acknowledged index + 1 (producers are sequential)
	acked := map[int]bool{}
	lines, killed := 0, false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "enq":
			n, _ := strconv.Atoi(f[2])
			if n != enqueued[f[1]] {
				t.Errorf("child acknowledged %s %d out of order (expected %d)", f[1], n, enqueued[f[1]])
			}
			enqueued[f[1]] = n + 1
		case len(f) == 3 && f[0] == "ack":
			n, _ := strconv.Atoi(f[2])
			acked[n] = true
		default:
			t.Errorf("child said %q", sc.Text())
		}
		// Kill mid-stream, once a fair amount was committed.
		if lines++; lines == 1500 && !killed {
			killed = true
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed (%d lines)", lines)
	}
	if t.Failed() {
		return
	}

	s := openT(t, path, Options{})
	ctx := t.Context()
	items, err := s.Inbound().Pending(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string][]int{}
	var prev uint64
	for _, it := range items {
		if it.Seq <= prev {
			t.Fatalf("Pending out of seq order after crash")
		}
		prev = it.Seq
		n, _ := strconv.Atoi(string(it.Payload))
		present[it.Key] = append(present[it.Key], n)
	}
	total := 0
	for p := range crashProducers {
		key := fmt.Sprintf("p%d", p)
		got := present[key]
		first := 0
		if key == crashAckKey {
			// Acks ran in order: what is left starts after the last ack
			// that surely landed; acknowledged acks must not come back.
			for _, n := range got {
				if acked[n] {
					t.Fatalf("%s %d was acked before the crash but is pending again", key, n)
				}
			}
			if len(got) > 0 {
				first = got[0]
			} else {
				first = enqueued[key]
			}
		}
		// Contiguous, in order, no doubles: first, first+1, ...
		for i, n := range got {
			if n != first+i {
				t.Fatalf("%s after crash: %v is not contiguous from %d", key, got, first)
			}
		}
		// Every acknowledged enqueue is there (in-flight ones may be too).
		if last := first + len(got); last < enqueued[key] {
			t.Fatalf("%s: acknowledged up to %d, only %d survived", key, enqueued[key]-1, last-1)
		}
		total += enqueued[key]
	}
	if n, _ := s.Inbound().Depth(ctx); n != len(items) {
		t.Fatalf("Depth %d after crash, but %d items pending", n, len(items))
	}
	t.Logf("killed after %d acknowledged enqueues and %d acks; %d items pending", total, len(acked), len(items))

	// Redelivery after the crash is recognised: no acknowledged event twice.
	var again []store.Message
	for p := range crashProducers {
		key := fmt.Sprintf("p%d", p)
		for i := 0; i < enqueued[key]; i++ {
			again = append(again, store.Message{Key: key, DedupeKey: fmt.Sprintf("%s/%d", key, i)})
		}
	}
	res, err := s.Inbound().Enqueue(ctx, again...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.Duplicate {
			t.Fatalf("%s accepted again after the crash", again[i].DedupeKey)
		}
	}
}
