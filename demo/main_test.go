package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/builtin"
)

// TestMain lets the test binary stand in for leconnect: the core re-executes
// SelfExe as `SelfExe adapter telegram`, and so does the demo under test.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "adapter" {
		if err := builtin.Serve(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// running is one demo started by a test.
type running struct {
	t      *testing.T
	url    string // ends with "/"
	root   string // TempRoot: must be empty once Run returns
	stdout *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func startDemo(t *testing.T) *running {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &running{t: t, root: t.TempDir(), stdout: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	ready := make(chan string, 1)
	go func() {
		r.done <- Run(ctx, Options{SelfExe: self, TempRoot: r.root, Stdout: r.stdout, Ready: ready, TrafficInterval: 20 * time.Millisecond})
	}()
	select {
	case r.url = <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("demo did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("demo did not start within 60s")
	}
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels the demo (Ctrl-C) and returns Run's error.
func (r *running) stop() error {
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(30 * time.Second):
		r.t.Fatal("demo did not stop within 30s of cancel")
		return nil
	}
}

func (r *running) get(path string, into any) int {
	r.t.Helper()
	res, err := http.Get(strings.TrimSuffix(r.url, "/") + path)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			r.t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return res.StatusCode
}

func (r *running) post(path string, body any, into any) int {
	r.t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(strings.TrimSuffix(r.url, "/")+path, "application/json", bytes.NewReader(b))
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if into != nil {
		if err := json.Unmarshal(out, into); err != nil {
			r.t.Fatalf("POST %s: %v: %s", path, err, out)
		}
	}
	return res.StatusCode
}

// waitFor polls cond; the bound only keeps a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// adapterChildren lists this process's children running `adapter NAME`
// (Linux /proc), zombies included: a child not yet reaped is left behind too.
func adapterChildren(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("read /proc: %v", err)
	}
	self := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// Fields after the parenthesised command: state, ppid, ...
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(self) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if fields[0] == "Z" || strings.Contains(string(cmdline), "adapter\x00") {
			out = append(out, pid)
		}
	}
	return out
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
