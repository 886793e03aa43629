package telegram

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the command's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRunCommand(t *testing.T) {
	if err := RunCommand(context.Background(), []string{"-user", "abc"}, io.Discard, io.Discard); err == nil {
		t.Fatal("a bad -user was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- RunCommand(ctx, []string{"-listen", "127.0.0.1:0", "-user", "42:Ann:ann"}, &out, io.Discard)
	}()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	deadline := time.Now().Add(10 * time.Second)
	for !re.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line in %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	base := re.FindString(out.String())
	resp, err := http.Post(base+"/bot123456:TEST-token/sendMessage", "application/json", strings.NewReader(`{"chat_id":"@ann","text":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sendMessage to the -user: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
