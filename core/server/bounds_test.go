package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// blockingChannel holds every webhook until release is closed.
type blockingChannel struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingChannel) HandleWebhook(ctx context.Context, _ *http.Request, _ []byte, _ string) (sdk.WebhookResponse, error) {
	select {
	case b.entered <- struct{}{}:
	case <-ctx.Done():
	}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return sdk.WebhookResponse{StatusCode: http.StatusOK}, nil
}

type oneChannel struct{ c Channel }

func (o oneChannel) Channel(string) (Channel, bool) { return o.c, true }

// Past MaxInFlight webhooks being handled, the next is answered 503 with
// Retry-After at once (and counted), while /healthz still answers; once
// they finish, webhooks are taken again.
func TestInFlightCap(t *testing.T) {
	ch := &blockingChannel{entered: make(chan struct{}, 2), release: make(chan struct{})}
	var refused atomic.Int32
	base := start(t, Options{Channels: oneChannel{ch}, MaxInFlight: 2, Refused: func() { refused.Add(1) }})
	release := sync.OnceFunc(func() { close(ch.release) })
	t.Cleanup(release) // before the server's shutdown, which waits for them
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, _, _ := do(t, http.MethodPost, base+"/channels/tg/webhook", "{}"); status != http.StatusOK {
				t.Errorf("a held webhook answered %d", status)
			}
		}()
	}
	<-ch.entered
	<-ch.entered
	// The bound only keeps a missing cap from hanging the test.
	res, err := (&http.Client{Timeout: 10 * time.Second}).Post(base+"/channels/tg/webhook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("past the cap the webhook was not answered at once: %v", err)
	}
	res.Body.Close()
	status, h := res.StatusCode, res.Header
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") != "1" || refused.Load() != 1 {
		t.Fatalf("past the cap: %d, Retry-After %q, refused %d; want 503, 1, 1", status, h.Get("Retry-After"), refused.Load())
	}
	if status, _, _ := do(t, http.MethodGet, base+"/healthz", ""); status != http.StatusOK {
		t.Fatalf("/healthz answered %d with the webhooks full", status)
	}
	release()
	wg.Wait()
	go func() { <-ch.entered }()
	if status, _, _ := do(t, http.MethodPost, base+"/channels/tg/webhook", "{}"); status != http.StatusOK {
		t.Fatalf("after the held webhooks finished: %d", status)
	}
}

// A client that sends its headers slower than read_timeout allows is cut
// off: the server closes the connection instead of holding it for ever.
func TestSlowlorisIsCutOff(t *testing.T) {
	base := start(t, Options{Channels: channelMap{}, ReadTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /webhooks/liveperson HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// The bound only keeps a broken server from hanging the test.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = bufio.NewReader(conn).ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server still held the half-sent request after 30s")
	}
}

// A thousand connections held open without a request leave /healthz
// answering, and cost the server a bounded amount of memory.
func TestThousandIdleConnections(t *testing.T) {
	base := start(t, Options{Channels: channelMap{}, ReadTimeout: time.Minute})
	addr := strings.TrimPrefix(base, "http://")
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, 0, 1000)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 1000 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
	}
	if status, _, _ := do(t, http.MethodGet, base+"/healthz", ""); status != http.StatusOK {
		t.Fatalf("/healthz answered %d beside 1000 idle connections", status)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 64<<20 {
		t.Fatalf("1000 idle connections took %d MiB of heap; want under 64", grown>>20)
	}
}

// Past MaxConnections open, a new connection is answered 503 with
// Retry-After and closed (and counted), rather than left in the backlog;
// once one closes, connections are taken again.
func TestConnectionCap(t *testing.T) {
	var refused atomic.Int64
	base := start(t, Options{Channels: channelMap{}, MaxInFlight: 1, MaxConnections: 3, Refused: func() { refused.Add(1) },
		ReadTimeout: time.Minute, IdleTimeout: time.Minute})
	addr := strings.TrimPrefix(base, "http://")
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(30 * time.Second)) // only keeps a broken cap from hanging the test
	res, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil {
		t.Fatalf("the connection past the cap got no answer: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("past the cap: %d, Retry-After %q; want 503 with Retry-After 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if n := refused.Load(); n != 1 {
		t.Fatalf("refused counted %d times, want 1", n)
	}

	held[0].Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection taken after one closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
