package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// counters are the core's own, from its /metrics, and the CPU its
// adapter processes took.
type counters struct {
	cpuSeconds, mallocs, commits, roundTrips float64
	adapterCPUSeconds                        float64
}

// perMsg is what a flood cost the core (and its adapter) per message.
type perMsg struct{ cpuMs, allocs, commits, roundTrips, adapterCPUMs float64 }

func (after counters) minus(before counters, n float64) perMsg {
	return perMsg{
		cpuMs:        (after.cpuSeconds - before.cpuSeconds) * 1000 / n,
		allocs:       (after.mallocs - before.mallocs) / n,
		commits:      (after.commits - before.commits) / n,
		roundTrips:   (after.roundTrips - before.roundTrips) / n,
		adapterCPUMs: (after.adapterCPUSeconds - before.adapterCPUSeconds) * 1000 / n,
	}
}

// coreConfig is the core's config: address, LiveEngage's Domain API, the
// store's path, the store's backend lines and the channels.
var coreConfig = `server:
  listen: %[1]s
  public_url: http://%[1]s
liveengage:
  account_id: "%[2]s"
  client_id: %[3]s
  client_secret: ${LE_CLIENT_SECRET}
  domain_api: %[4]s
store:
  path: %[5]s
%[6]s
log:
  level: info
  format: json
channels:
%[7]s`

// telegramChannel is the flood's one channel.
const telegramChannel = `  - name: tg
    adapter: telegram
    config:
      bot_token: ${TELEGRAM_BOT_TOKEN}
      api_base_url: %s
      mode: webhook
      secret_token: ${TELEGRAM_SECRET_TOKEN}
      per_chat_rate: 100000
      per_chat_burst: 100000
      global_rate: 100000
`

// coreRun is how to start one `leconnect run`.
type coreRun struct {
	addr     string
	leURL    string
	channels string   // the config's channels list
	env      []string // the secrets the channels reference
	// poll is how often readiness is checked while starting.
	poll time.Duration
}

// startCore runs `leconnect run` on l's address with the Telegram channel,
// at the production log level, and waits until it is ready.
func startCore(ctx context.Context, o Options, em *emulators, l net.Listener) (*target, error) {
	addr := l.Addr().String()
	l.Close()
	return launchCore(ctx, o, coreRun{addr: addr, leURL: em.leURL, channels: fmt.Sprintf(telegramChannel, em.tgURL),
		env: []string{"TELEGRAM_BOT_TOKEN=" + em.tg.Token(), "TELEGRAM_SECRET_TOKEN=" + tgSecret}, poll: 50 * time.Millisecond})
}

// launchCore starts the core as r says and waits until /readyz answers
// 200; the target reports how long that took.
func launchCore(ctx context.Context, o Options, r coreRun) (*target, error) {
	dir, cleanup := o.Dir, func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", "leconnect-bench-")
		if err != nil {
			return nil, err
		}
		dir, cleanup = d, func() { _ = os.RemoveAll(d) }
	}
	pg := ""
	if o.Store == "postgres" {
		pg = fmt.Sprintf("  backend: postgres\n  postgres:\n    dsn: %q", o.DSN)
	}
	cfg := filepath.Join(dir, "connector.yaml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, coreConfig, r.addr, accountID, clientID, r.leURL, filepath.Join(dir, "leconnect.db"), pg, r.channels), 0o600)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "core.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Exe, "run", "--config", cfg)
	cmd.Env = append(append(os.Environ(), "LE_CLIENT_SECRET="+clientSecret), r.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	started := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		cleanup()
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	base := "http://" + r.addr
	admin := adminClient(filepath.Join(dir, "leconnect.db") + ".sock")
	t := &target{
		pid: cmd.Process.Pid,
		counters: func() (counters, error) {
			c, err := scrape(base)
			c.adapterCPUSeconds = childrenCPUSeconds(cmd.Process.Pid)
			return c, err
		},
		profile: func(to, name string, done <-chan struct{}) error { return profile(admin, to, name, done) },
		stop: sync.OnceFunc(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			cleanup()
		}),
	}
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.ready = time.Since(started)
				return t, nil
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "core.log"))
			cleanup()
			return nil, fmt.Errorf("the core exited while starting:\n%s", b)
		case <-ctx.Done():
			t.stop()
			return nil, ctx.Err()
		case <-time.After(r.poll):
		}
		if time.Now().After(deadline) {
			t.stop()
			return nil, fmt.Errorf("the core was not ready within a minute (log in %s)", dir)
		}
	}
}

var metricLine = regexp.MustCompile(`(?m)^(process_cpu_seconds_total|go_memstats_mallocs_total|leconnect_store_commits_total|leconnect_store_round_trips_total) ([0-9.e+]+)$`)

func scrape(base string) (counters, error) {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return counters{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return counters{}, err
	}
	var c counters
	for _, m := range metricLine.FindAllSubmatch(b, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		switch string(m[1]) {
		case "process_cpu_seconds_total":
			c.cpuSeconds = v
		case "go_memstats_mallocs_total":
			c.mallocs = v
		case "leconnect_store_commits_total":
			c.commits = v
		case "leconnect_store_round_trips_total":
			c.roundTrips = v
		}
	}
	return c, nil
}

// adminClient reaches the core's admin socket (profiles; see core/admin).
func adminClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
}

// profile writes one-second CPU profiles of the core into dir as
// cpu-NAME-N.pprof until done is closed, then heap-NAME.pprof.
func profile(admin *http.Client, dir, name string, done <-chan struct{}) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	get := func(path, file string) error {
		res, err := admin.Get("http://admin" + path)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", path, res.Status)
		}
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		_, err = io.Copy(f, res.Body)
		return errors.Join(err, f.Close())
	}
	for n := 1; ; n++ {
		if err := get("/debug/pprof/profile?seconds=1", fmt.Sprintf("cpu-%s-%d.pprof", name, n)); err != nil {
			return err
		}
		select {
		case <-done:
			return get("/debug/pprof/heap", "heap-"+name+".pprof")
		default:
		}
	}
}
