package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/pluginhost/testdata/hostile"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// hostileSpec runs the hostile test adapter (this test binary, re-executed)
// in mode, with quick restarts.
func hostileSpec(channel, config string) Spec {
	return Spec{
		Channel: channel, Adapter: "hostile", ConfigJSON: []byte(config), LogLevel: "debug",
		Restart: RestartPolicy{MaxCrashes: 2, Window: time.Minute, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond},
	}
}

func stats(t *testing.T, ch *Channel) hostile.Stats {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, "/channels/"+ch.Name()+"/webhook/stats", nil)
	res, err := ch.HandleWebhook(context.Background(), r, nil, "")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("stats: %v %d %s", err, res.StatusCode, res.Body)
	}
	var s hostile.Stats
	if err := json.Unmarshal(res.Body, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAdapterHungInConfigureIsKilledRestartedThenFailed(t *testing.T) {
	opts, logs := testOptions(t)
	spec := hostileSpec("hung", `{"mode":"hang-configure"}`)
	spec.Timeouts.Configure = 200 * time.Millisecond
	ch := launch(t, spec, opts, &recorder{}, "")
	// Configure never answers: had Launch waited for it, the channel would
	// be failed by now, not starting.
	if s := ch.Status(); s.State != StateStarting {
		t.Fatalf("Launch returned with the channel %s; want it still starting", s.State)
	}
	// Beside it, a healthy channel starts and serves.
	healthy, rec, _ := launchEcho(t, "healthy")
	if _, err := post(context.Background(), healthy, "h1", "hello"); err != nil || rec.find("h1") == nil {
		t.Fatalf("healthy channel: %v", err)
	}

	var first int
	waitFor(t, "the first process configuring", func() bool {
		s := ch.Status()
		first = s.PID
		return s.Phase == "configuring" && s.PID != 0
	})
	if err := ch.Status().Ready(); err == nil || !strings.Contains(err.Error(), "configuring for") {
		t.Fatalf("Ready while hung = %v; want it to say configuring for how long", err)
	}
	waitGone(t, first) // killed at its deadline
	waitFor(t, "a second process", func() bool { s := ch.Status(); return s.PID != 0 && s.PID != first })
	waitFor(t, "the channel failed", func() bool { return ch.Status().State == StateFailed })
	err := ch.WaitStarted(context.Background())
	for _, want := range []string{"failed", "crashed 3 times", "did not answer Configure within 200ms"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WaitStarted = %v; want it to say %q", err, want)
		}
	}
	if _, err := ch.Send(context.Background(), sdk.OutboundMessage{Text: "x"}); sdk.KindOf(err) != sdk.KindNotConnected {
		t.Fatalf("Send on the failed channel = %v; want not connected", err)
	}
	if !logs.hasLine("adapter keeps crashing; channel marked unhealthy", "hung") {
		t.Fatal("giving up was not logged")
	}
	if err := healthy.Health(context.Background()); err != nil {
		t.Fatalf("healthy channel after: %v", err)
	}
}

func TestSendPastItsDeadlineFailsAndTheUnresponsiveAdapterIsRestarted(t *testing.T) {
	opts, logs := testOptions(t)
	spec := hostileSpec("stuck", `{"mode":"hang-send"}`)
	spec.Timeouts = Timeouts{Send: 100 * time.Millisecond, MaxMissed: 2}
	ch := launch(t, spec, opts, &recorder{}, "")
	if err := ch.WaitStarted(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := ch.Status().PID
	for i := range 2 {
		_, err := ch.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: fmt.Sprint("k", i), Text: "hi"})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer Send within 100ms") {
			t.Fatalf("Send %d = %v; want its deadline named", i, err)
		}
		if sdk.KindOf(err) == sdk.KindPermanent {
			t.Fatalf("a missed deadline must be retried, got permanent: %v", err)
		}
	}
	waitFor(t, "the unresponsive process replaced", func() bool {
		s := ch.Status()
		return s.State == StateRunning && s.PID != first && s.Restarts == 1
	})
	waitGone(t, first)
	if !logs.hasLine("adapter process lost; restarting", "stuck") {
		t.Fatal("the restart was not logged")
	}
	// The new process answers everything but Send.
	if err := ch.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAdapterThatStopsAnsweringHealthChecksIsRestarted(t *testing.T) {
	opts, _ := testOptions(t)
	spec := hostileSpec("mute", `{"mode":"hang-health"}`)
	spec.Timeouts = Timeouts{Health: 50 * time.Millisecond, HealthInterval: 50 * time.Millisecond, MaxMissed: 2}
	ch := launch(t, spec, opts, &recorder{}, "")
	if err := ch.WaitStarted(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := ch.Status().PID
	// Nobody calls it: the periodic checks alone find it unresponsive.
	waitFor(t, "the unresponsive process replaced", func() bool {
		s := ch.Status()
		return s.State == StateRunning && s.PID != first && s.Restarts >= 1
	})
	waitGone(t, first)
}

func TestPanicInSendFailsTheCallNotTheProcess(t *testing.T) {
	opts, logs := testOptions(t)
	ch := launch(t, hostileSpec("panicky", `{"mode":"panic-send"}`), opts, &recorder{}, "")
	if err := ch.WaitStarted(context.Background()); err != nil {
		t.Fatal(err)
	}
	pid := ch.Status().PID
	for i := range 3 {
		_, err := ch.Send(context.Background(), sdk.OutboundMessage{IdempotencyKey: fmt.Sprint("p", i), Text: "boom"})
		if err == nil || !strings.Contains(err.Error(), "panic in /leconnect.adapter.v1.Adapter/Send") ||
			!strings.Contains(err.Error(), "assignment to entry in nil map") {
			t.Fatalf("Send %d = %v; want the panic as an error", i, err)
		}
	}
	stats(t, ch) // another RPC on the same process
	if s := ch.Status(); s.PID != pid || s.Restarts != 0 || s.State != StateRunning {
		t.Fatalf("after the panics: %+v; want the same process serving (pid %d)", s, pid)
	}
	waitFor(t, "the stack in the adapter's log", func() bool {
		return strings.Contains(logs.String(), "panic in RPC handler") && strings.Contains(logs.String(), "hostile.(*Adapter).Send")
	})
}

func TestDeliveriesOverABoundAreRefusedWholeAndNothingIsStored(t *testing.T) {
	opts, _ := testOptions(t)
	var mu sync.Mutex
	refused := map[string]int{}
	opts.Refused = func(channel, limit string) {
		mu.Lock()
		defer mu.Unlock()
		if channel == "greedy" {
			refused[limit]++
		}
	}
	spec := hostileSpec("greedy", `{"mode":"oversize","event_bytes":2097152,"huge_bytes":8388608,"batch":true}`)
	spec.Limits = Limits{MaxTextChars: 5000, MaxMediaBytes: 1 << 20, MaxBatchEvents: 100, MaxInFlightBytes: 4 << 20}
	rec := &recorder{}
	ch := launch(t, spec, opts, rec, "")
	if err := ch.WaitStarted(context.Background()); err != nil {
		t.Fatal(err)
	}
	limits := []string{sdk.LimitTextChars, sdk.LimitMediaBytes, sdk.LimitBatchEvents, sdk.LimitRequestBytes}
	var s hostile.Stats
	waitFor(t, "a refusal over every bound", func() bool {
		s = stats(t, ch)
		for _, l := range limits {
			if s.Refused[l] < 3 {
				return false
			}
		}
		return true
	})
	if s.Accepted != 0 || len(s.Other) != 0 || s.Kinds["permanent"] == 0 {
		t.Fatalf("adapter saw %+v; want every call refused with a typed, permanent error", s)
	}
	rec.mu.Lock()
	stored := len(rec.events)
	rec.mu.Unlock()
	if stored != 0 {
		t.Fatalf("%d events reached the core's inbox; want none", stored)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range limits {
		if refused[l] == 0 {
			t.Errorf("no refusal counted for %s (counted: %v)", l, refused)
		}
	}
	if ch.Status().Restarts != 0 {
		t.Fatalf("the adapter was restarted: %+v", ch.Status())
	}
}

func TestAdapterFloodingStderrIsReadNoFasterThanItsLimit(t *testing.T) {
	opts, logs := testOptions(t)
	spec := hostileSpec("chatty", `{"mode":"flood-stderr"}`)
	spec.Limits.LogLinesPerSecond = 50
	ch := launch(t, spec, opts, &recorder{}, "")
	if err := ch.WaitStarted(context.Background()); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	floodLines := func() int {
		n := 0
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "flood flood") {
				n++
			}
		}
		return n
	}
	waitFor(t, "flood lines mirrored", func() bool { return floodLines() > 100 })
	// The channel still answers while it floods.
	for range 5 {
		if err := ch.Health(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(began).Seconds()
	lines := floodLines()
	// The limiter's burst, plus its rate over the time the flood ran (since
	// before began), plus one second of slack for the start.
	if bound := 50 + 50*(elapsed+1); float64(lines) > bound {
		t.Fatalf("%d flood lines mirrored in %.1fs; the limit allows at most %.0f", lines, elapsed, bound)
	}
}

func TestWritableOrForeignBinaryIsRefusedBeforeItRuns(t *testing.T) {
	opts, _ := testOptions(t)
	cases := []struct {
		name  string
		mode  os.FileMode
		owner int // -1 keeps the creator
		want  []string
	}{
		{"group-writable", 0o775, -1, []string{"group- or world-writable (mode 0775)", "chmod go-w"}},
		{"world-writable", 0o757, -1, []string{"group- or world-writable (mode 0757)", "chmod go-w"}},
		{"owned by another user", 0o755, 65534, []string{"owned by uid 65534", "chown"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.owner >= 0 && os.Getuid() != 0 {
				t.Skip("giving a file away needs root; CI runs as root")
			}
			dir := t.TempDir()
			marker := filepath.Join(dir, "ran")
			bin := filepath.Join(dir, "leconnect-thirdparty")
			if err := os.WriteFile(bin, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(bin, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if err := os.Chown(bin, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			spec := Spec{Channel: "thirdparty", Adapter: "x", Path: bin}
			for _, err := range []error{
				launch(t, spec, opts, &recorder{}, "").WaitStarted(context.Background()),
				func() error { _, err := Check(context.Background(), spec, opts); return err }(),
			} {
				if !errors.Is(err, ErrUnsafeBinary) {
					t.Fatalf("err = %v; want an unsafe binary refused", err)
				}
				for _, want := range append([]string{`"thirdparty"`, bin}, tc.want...) {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the refused binary ran")
			}
		})
	}
}
