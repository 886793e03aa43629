package pgstore

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/pgstore/pgtest"
	"github.com/leconnect/leconnect/core/store/storetest"
)

// claimerEnv carries the DSN to a re-executed test binary acting as one
// instance (TestClaimerProcess).
const claimerEnv = "LECONNECT_PG_CLAIMER_DSN"

const (
	claimerKeys    = 12
	claimerPerKey  = 25
	claimerTTL     = time.Second
	claimerWorkers = 4
)

// Several OS processes claim the same keys of one database: every item is
// acked once, in order per key; a process that stalls past its lease has
// its ack refused, and another process takes the key over.
func TestManyProcessesShareTheQueue(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := Open(t.Context(), Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range claimerPerKey {
		for k := range claimerKeys {
			if _, err := s.Inbound().Enqueue(t.Context(), store.Message{Key: fmt.Sprint("k", k), Payload: []byte(strconv.Itoa(i))}); err != nil {
				t.Fatal(err)
			}
		}
	}

	type ack struct {
		token   uint64
		payload string
	}
	var (
		mu    sync.Mutex
		acks  = map[string][]ack{} // per key, in each process's order
		stale []string
		wg    sync.WaitGroup
	)
	for w := range claimerWorkers {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestClaimerProcess$", "-test.v")
		cmd.Env = append(os.Environ(), claimerEnv+"="+dsn, fmt.Sprintf("LECONNECT_PG_CLAIMER_ID=%d", w))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				mu.Lock()
				switch {
				case len(f) == 4 && f[0] == "acked":
					token, _ := strconv.ParseUint(f[3], 10, 64)
					acks[f[1]] = append(acks[f[1]], ack{token, f[2]})
				case len(f) >= 1 && f[0] == "stale":
					stale = append(stale, sc.Text())
				case len(f) >= 1 && f[0] == "error":
					t.Errorf("claimer %d: %s", w, sc.Text())
				}
				mu.Unlock()
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("claimer %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	// Lines of different processes arrive in any order; a key's holders
	// follow one another in token order, each acking in its own order.
	acked := map[string][]string{}
	for key, list := range acks {
		slices.SortStableFunc(list, func(a, b ack) int { return cmp.Compare(a.token, b.token) })
		for _, a := range list {
			acked[key] = append(acked[key], a.payload)
		}
	}
	storetest.OnceInOrder(t, acked, claimerKeys, claimerPerKey)
	if len(stale) == 0 || !strings.Contains(strings.Join(stale, "\n"), "refused") {
		t.Fatalf("the stalled claimer's late ack: %q; want it refused", stale)
	}
	for _, line := range stale {
		if strings.Contains(line, "accepted") {
			t.Fatalf("a stale ack went through: %s", line)
		}
	}
	if n, _ := s.Inbound().Depth(t.Context()); n != 0 {
		t.Fatalf("depth %d after the claimers finished", n)
	}
}

// TestClaimerProcess is one instance of TestManyProcessesShareTheQueue,
// run in a process of its own; on its own it does nothing.
func TestClaimerProcess(t *testing.T) {
	dsn := os.Getenv(claimerEnv)
	if dsn == "" {
		t.Skip("run by TestManyProcessesShareTheQueue")
	}
	id := os.Getenv("LECONNECT_PG_CLAIMER_ID")
	owner := "process-" + id
	ctx := context.Background()
	s, err := Open(ctx, Options{DSN: dsn, SweepInterval: -1})
	if err != nil {
		fmt.Println("error open", err)
		return
	}
	defer s.Close()
	q := s.Inbound()
	leases := q.Leases()
	stalled := id != "0" // process 0 stalls once, past its lease
	for {
		mark := q.Last()
		claims, err := leases.Claim(ctx, owner, 2, 3, claimerTTL)
		if err != nil {
			fmt.Println("error claim", err)
			return
		}
		for _, c := range claims {
			for i, it := range c.Items {
				if !stalled && i == 0 {
					stalled = true
					time.Sleep(claimerTTL + 300*time.Millisecond)
					if _, err := leases.Ack(ctx, c.Lease, it.Seq, store.Effects{}); errors.Is(err, store.ErrLeaseLost) {
						fmt.Println("stale ack refused", it.Key, string(it.Payload))
					} else {
						fmt.Println("stale ack accepted", it.Key, string(it.Payload), err)
					}
					break
				}
				if _, err := leases.Ack(ctx, c.Lease, it.Seq, store.Effects{}); errors.Is(err, store.ErrLeaseLost) {
					break // taken over: the new holder does the rest
				} else if err != nil {
					fmt.Println("error ack", err)
					return
				}
				fmt.Println("acked", it.Key, string(it.Payload), c.Lease.Token)
			}
			if err := leases.Release(ctx, c.Lease); err != nil {
				fmt.Println("error release", err)
				return
			}
		}
		if len(claims) > 0 {
			continue
		}
		if n, err := q.Depth(ctx); err != nil || n == 0 {
			return
		}
		// Keys held elsewhere: wait for a commit or a lease to lapse.
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_ = q.Wait(wctx, mark)
		cancel()
	}
}
