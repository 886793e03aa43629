package pluginhost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/core/pluginhost/testdata/hostile"
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo"
)

// The test binary doubles as the adapter process (the way the leconnect
// binary re-executes itself for built-in adapters) and as a stand-in core
// for the orphan test.
func TestMain(m *testing.M) {
	if os.Getenv(sdk.Handshake.MagicCookieKey) != "" {
		switch {
		case len(os.Args) == 3 && os.Args[1] == "adapter" && os.Args[2] == "echo":
			sdk.Serve(echo.New()) // built-in: `leconnect adapter echo`
		case len(os.Args) == 3 && os.Args[1] == "adapter" && os.Args[2] == "hostile":
			sdk.Serve(hostile.New())
		case len(os.Args) == 1:
			sdk.Serve(echo.New()) // a third-party binary named by path
		default:
			fmt.Fprintf(os.Stderr, "unexpected adapter args %q\n", os.Args)
			os.Exit(2)
		}
	}
	if len(os.Args) == 2 && os.Args[1] == "fake-core" {
		fakeCore()
		return
	}
	os.Exit(m.Run())
}

// fakeCore launches an adapter, prints its pid and waits to be killed.
func fakeCore() {
	ch := Launch(echoSpec("orphan"), Options{SelfExe: os.Args[0]}, &recorder{}, "")
	if err := ch.WaitStarted(context.Background()); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(ch.Status().PID)
	select {}
}

func echoSpec(channel string) Spec {
	return Spec{
		Channel: channel, Adapter: "echo", ConfigJSON: []byte(`{"token":"tok"}`), LogLevel: "info",
		Restart: RestartPolicy{MaxCrashes: 3, Window: time.Minute, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
	}
}

func testOptions(t testing.TB) (Options, *syncBuffer) {
	logs := &syncBuffer{}
	return Options{
		SelfExe:  os.Args[0],
		Logger:   hclog.New(&hclog.LoggerOptions{Output: logs, JSONFormat: true, Level: hclog.Debug}),
		ExitPoll: 10 * time.Millisecond,
	}, logs
}

// launch supervises spec's adapter until the test ends.
func launch(t testing.TB, spec Spec, opts Options, d sdk.Deliverer, webhookURL string) *Channel {
	t.Helper()
	ch := Launch(spec, opts, d, webhookURL)
	t.Cleanup(func() { _ = ch.Stop(context.Background()) })
	return ch
}

func launchEcho(t *testing.T, channel string) (*Channel, *recorder, *syncBuffer) {
	t.Helper()
	opts, logs := testOptions(t)
	rec := &recorder{}
	ch := launch(t, echoSpec(channel), opts, rec, "https://connector.example/channels/"+channel+"/webhook")
	if err := ch.WaitStarted(context.Background()); err != nil {
		t.Fatalf("Launch: %v", err)
	}
	return ch, rec, logs
}

// post delivers an inbound message through the adapter's webhook.
func post(ctx context.Context, ch *Channel, id, text string) (sdk.WebhookResponse, error) {
	body := []byte(fmt.Sprintf(`{"id":%q,"user":"u1","chat":"c1","text":%q}`, id, text))
	r, _ := http.NewRequest(http.MethodPost, "/channels/"+ch.Name()+"/webhook", bytes.NewReader(body))
	r.Header.Set("X-Echo-Token", "tok")
	return ch.HandleWebhook(ctx, r, body, "https://connector.example/channels/"+ch.Name()+"/webhook")
}

func sentActions(t *testing.T, ch *Channel) []echo.Action {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, "/channels/"+ch.Name()+"/webhook/sent", nil)
	r.Header.Set("X-Echo-Token", "tok")
	res, err := ch.HandleWebhook(context.Background(), r, nil, "")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("read actions: %v %d %s", err, res.StatusCode, res.Body)
	}
	var acts []echo.Action
	if err := json.Unmarshal(res.Body, &acts); err != nil {
		t.Fatal(err)
	}
	return acts
}

func TestEveryRPCRoundTripsThroughARealProcess(t *testing.T) {
	ch, rec, logs := launchEcho(t, "support")
	ctx := context.Background()

	if d, _ := ch.Description(); d.Name != "echo" || !d.Capabilities.Typing || !d.Capabilities.Webhooks {
		t.Fatalf("Description = %+v", d)
	}
	if err := ch.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
	// HandleWebhook → adapter → Host.Deliver through the broker → recorder.
	res, err := post(ctx, ch, "in-1", "hello from the platform")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("HandleWebhook = %d %s, %v", res.StatusCode, res.Body, err)
	}
	if ev := rec.find("in-1"); ev == nil || ev.Message == nil || ev.Message.Text != "hello from the platform" || ev.Consumer.ID != "u1" {
		t.Fatalf("delivered event = %+v", ev)
	}
	// An unauthenticated request is refused and delivers nothing.
	r, _ := http.NewRequest(http.MethodPost, "/channels/support/webhook", nil)
	if res, err := ch.HandleWebhook(ctx, r, []byte(`{"id":"forged","user":"u","chat":"c","text":"x"}`), ""); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged webhook = %d, %v; want 401", res.StatusCode, err)
	}
	if rec.find("forged") != nil {
		t.Fatal("forged webhook was delivered")
	}
	// Send (which itself calls Deliver for a receipt), SetTyping, MarkRead.
	sent, err := ch.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "k1", To: sdk.Address{ChatID: "c1"}, Text: "hi from the agent",
		QuickReplies: []sdk.Choice{{ID: "y", Text: "Yes"}}, Media: &sdk.Media{Kind: sdk.MediaImage, ContentType: "image/png", Data: make([]byte, 1<<20)}})
	if err != nil || len(sent.MessageIDs) != 1 {
		t.Fatalf("Send = %+v, %v", sent, err)
	}
	if ev := rec.find("receipt-" + sent.MessageIDs[0]); ev == nil || ev.Receipt == nil || ev.Receipt.Status != sdk.ReceiptDelivered {
		t.Fatalf("receipt = %+v", ev)
	}
	if err := ch.SetTyping(ctx, sdk.Address{ChatID: "c1"}, true); err != nil {
		t.Fatal(err)
	}
	if err := ch.MarkRead(ctx, sdk.Address{ChatID: "c1"}, []string{"in-1"}); err != nil {
		t.Fatal(err)
	}
	acts := sentActions(t, ch)
	want := []echo.Action{
		{Kind: "send", ChatID: "c1", Text: "hi from the agent", MessageIDs: sent.MessageIDs, Choices: []string{"Yes"}, MediaBytes: 1 << 20},
		{Kind: "typing", ChatID: "c1", Active: true},
		{Kind: "read", ChatID: "c1", MessageIDs: []string{"in-1"}},
	}
	if fmt.Sprint(acts) != fmt.Sprint(want) {
		t.Fatalf("adapter actions = %+v\nwant %+v", acts, want)
	}
	// Errors keep their meaning across the boundary.
	_, err = ch.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "k2", To: sdk.Address{ChatID: "c1"}, Text: "fail:retry"})
	if d, ok := sdk.RetryDelay(err); !ok || d != 1500*time.Millisecond {
		t.Fatalf("retry error = %v (delay %v)", err, d)
	}
	_, err = ch.Send(ctx, sdk.OutboundMessage{IdempotencyKey: "k3", To: sdk.Address{ChatID: "c1"}, Text: "fail:permanent"})
	if sdk.KindOf(err) != sdk.KindPermanent {
		t.Fatalf("permanent error = %v (kind %v)", err, sdk.KindOf(err))
	}
	// The adapter's own log line reached the core's log, tagged with the channel.
	if !logs.hasLine("echo adapter configured", "support") {
		t.Fatalf("adapter log not mirrored with the channel:\n%s", logs.String())
	}

	pid := ch.Status().PID
	if err := ch.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitGone(t, pid)
	if _, err := ch.Send(ctx, sdk.OutboundMessage{To: sdk.Address{ChatID: "c1"}, Text: "x"}); sdk.KindOf(err) != sdk.KindNotConnected {
		t.Fatalf("Send after Stop = %v; want not connected", err)
	}
}

func TestKilledAdapterIsRestartedAndServesAgain(t *testing.T) {
	ch, rec, _ := launchEcho(t, "crashy")
	ctx := context.Background()
	firstPID := ch.Status().PID

	// Traffic in both directions while the adapter is killed.
	var (
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		mu       sync.Mutex
		failures = map[sdk.ErrorKind]int{}
		okSends  int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, err := ch.Send(ctx, sdk.OutboundMessage{IdempotencyKey: fmt.Sprint("t", i), To: sdk.Address{ChatID: "c1"}, Text: fmt.Sprint("m", i)})
			_, err2 := post(ctx, ch, fmt.Sprint("p", i), "ping")
			mu.Lock()
			for _, e := range []error{err, err2} {
				if e != nil {
					failures[sdk.KindOf(e)]++
				} else {
					okSends++
				}
			}
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitFor(t, "traffic before the kill", func() bool { mu.Lock(); defer mu.Unlock(); return okSends > 20 })
	if err := syscall.Kill(firstPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart", func() bool {
		s := ch.Status()
		return s.State == StateRunning && s.Restarts == 1 && s.PID != firstPID && s.PID != 0
	})
	mu.Lock()
	before := okSends
	mu.Unlock()
	waitFor(t, "traffic after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return okSends > before+20 })
	close(stop)
	wg.Wait()

	// While the adapter was down callers saw "not connected" (retryable), never another kind.
	for kind, n := range failures {
		if kind != sdk.KindNotConnected {
			t.Errorf("%d calls failed with kind %v; want only not-connected failures", n, kind)
		}
	}
	// The new process serves every RPC, including Deliver through the new broker.
	if res, err := post(ctx, ch, "after-restart", "still here"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("webhook after restart = %+v, %v", res, err)
	}
	if rec.find("after-restart") == nil {
		t.Fatal("event after restart not delivered")
	}
	if err := ch.Health(ctx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, firstPID)
}

func TestAdapterThatKeepsCrashingIsMarkedFailed(t *testing.T) {
	ch, _, logs := launchEcho(t, "doomed")
	killed := 0
	for i := 0; i < 4; i++ { // MaxCrashes is 3
		var pid int
		waitFor(t, "a new running process", func() bool {
			s := ch.Status()
			pid = s.PID
			return (s.State == StateRunning && s.PID != killed) || s.State == StateFailed
		})
		if ch.Status().State == StateFailed {
			break
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		killed = pid
		waitGone(t, pid)
	}
	waitFor(t, "failed state", func() bool { return ch.Status().State == StateFailed })
	if err := ch.Health(context.Background()); err == nil || !strings.Contains(err.Error(), "crashed 4 times") {
		t.Fatalf("Health = %v; want the crash budget named", err)
	}
	if _, err := ch.Send(context.Background(), sdk.OutboundMessage{Text: "x"}); sdk.KindOf(err) != sdk.KindNotConnected {
		t.Fatalf("Send on a failed channel = %v", err)
	}
	if !logs.hasLine("adapter keeps crashing; channel marked unhealthy", "doomed") {
		t.Fatal("giving up was not logged")
	}
}

func TestWrongChecksumIsRefusedBeforeTheBinaryRuns(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	bin := filepath.Join(dir, "leconnect-evil")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	actual, err := fileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	pinned := strings.Repeat("ab", 32)
	opts, _ := testOptions(t)
	spec := Spec{Channel: "thirdparty", Adapter: "evil", Path: bin, SHA256: pinned}
	for name, run := range map[string]func() error{
		"launch": func() error { return launch(t, spec, opts, &recorder{}, "").WaitStarted(context.Background()) },
		"check":  func() error { _, err := Check(context.Background(), spec, opts); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := run()
			if !errors.Is(err, ErrChecksumMismatch) {
				t.Fatalf("err = %v; want a checksum mismatch", err)
			}
			for _, want := range []string{`"thirdparty"`, bin, actual, pinned} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if _, statErr := os.Stat(marker); statErr == nil {
				t.Fatal("the refused binary ran")
			}
		})
	}
}

func TestPinnedThirdPartyBinaryRuns(t *testing.T) {
	sum, err := fileSHA256(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t)
	spec := echoSpec("pinned")
	spec.Path, spec.SHA256, spec.Adapter = os.Args[0], sum, "any-label"
	ch := launch(t, spec, opts, &recorder{}, "")
	if err := ch.WaitStarted(context.Background()); err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if d, _ := ch.Description(); d.Name != "echo" {
		t.Fatalf("Description = %+v", d)
	}
}

func TestAdapterGetsNoHostEnvironment(t *testing.T) {
	t.Setenv("LECONNECT_TEST_HOST_SECRET", "do-not-leak")
	t.Setenv("LE_CLIENT_SECRET", "do-not-leak-either")
	ch, _, _ := launchEcho(t, "isolated")
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", ch.Status().PID))
	if err != nil {
		t.Skipf("cannot read the adapter's environment here: %v", err) // not Linux
	}
	if bytes.Contains(env, []byte("do-not-leak")) {
		t.Fatalf("adapter environment contains the host's secrets: %q", env)
	}
	if !bytes.Contains(env, []byte("LECONNECT_LOG_LEVEL=info")) {
		t.Fatalf("adapter environment lacks its log level: %q", env)
	}
}

func TestCheckReportsConfigProblemsOffline(t *testing.T) {
	opts, _ := testOptions(t)
	spec := echoSpec("validate-me")
	spec.ConfigJSON = []byte(`{"max_text_length":-1,"tokn":"typo"}`)
	_, err := Check(context.Background(), spec, opts)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Check = %v; want a ConfigError", err)
	}
	var fields []string
	for _, f := range ce.Fields {
		fields = append(fields, f.Field)
	}
	if strings.Join(fields, ",") != "tokn" && strings.Join(fields, ",") != "tokn,max_text_length" {
		t.Fatalf("field errors = %v", ce.Fields)
	}
	spec.ConfigJSON = []byte(`{"token":"t"}`)
	d, err := Check(context.Background(), spec, opts)
	if err != nil || d.Name != "echo" {
		t.Fatalf("Check(valid) = %+v, %v", d, err)
	}
}

func TestKilledCoreLeavesNoOrphanAdapter(t *testing.T) {
	core := exec.Command(os.Args[0], "fake-core")
	out, err := core.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	core.Stderr = io.Discard
	if err := core.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("fake core said nothing: %v", err)
	}
	adapterPID, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || adapterPID == 0 {
		t.Fatalf("fake core said %q", line)
	}
	if !alive(adapterPID) {
		t.Fatal("adapter not running before the kill")
	}
	_ = core.Process.Signal(syscall.SIGKILL)
	_ = core.Wait()
	waitGone(t, adapterPID)
}

// --- helpers ---

type recorder struct {
	mu     sync.Mutex
	events []sdk.Event
}

func (r *recorder) Deliver(_ context.Context, events []sdk.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, events...)
	return nil
}

func (r *recorder) find(id string) *sdk.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.events {
		if r.events[i].ID == id {
			e := r.events[i]
			return &e
		}
	}
	return nil
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

// hasLine reports a JSON log line with msg tagged channel=channel.
func (b *syncBuffer) hasLine(msg, channel string) bool {
	for _, line := range strings.Split(b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["@message"] == msg && m["channel"] == channel {
			return true
		}
	}
	return false
}

// waitFor polls cond; the bound only keeps a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// alive reports a process that exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("process %d to exit", pid), func() bool { return !alive(pid) })
}
