package conversation

import (
	"testing"
	"time"
)

// A retry that asks for a tiny wait (a refused publish re-opening the
// conversation asks for 1 ms) still backs off once it keeps failing; a
// platform's longer retry-after is honoured as it is.
func TestRetryWaitHasAFloor(t *testing.T) {
	b := backoff{Initial: time.Second, Max: time.Minute}
	tests := []struct {
		name  string
		asked time.Duration
		want  []time.Duration // attempts 1, 2, 3, ...
	}{
		{"no wait asked", 0, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"a tiny wait, again and again", time.Millisecond,
			[]time.Duration{time.Millisecond, time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"a platform's retry-after", 30 * time.Second,
			[]time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 32 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range tt.want {
				if got := b.retryWait(i+1, tt.asked); got != want {
					t.Errorf("attempt %d: wait %s, want %s", i+1, got, want)
				}
			}
		})
	}
}
