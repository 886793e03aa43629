package e2e

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/leconnect/leconnect/core/store/pgstore/pgtest"
	"github.com/leconnect/leconnect/emulator/liveengage"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// Binaries built once for every test.
var (
	leconnectBin string
	echoBin      string
	hostileBin   string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "leconnect-e2e")
	if err != nil {
		panic(err)
	}
	leconnectBin = filepath.Join(dir, "leconnect")
	echoBin = filepath.Join(dir, "leconnect-echo")
	hostileBin = filepath.Join(dir, "leconnect-hostile")
	for bin, pkg := range map[string]string{
		leconnectBin: "github.com/leconnect/leconnect/core/cmd/leconnect",
		echoBin:      "github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo/cmd/leconnect-echo",
		hostileBin:   "github.com/leconnect/leconnect/core/pluginhost/testdata/hostile/cmd/leconnect-hostile",
	} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
		// The core refuses group- or world-writable adapters; a umask of 002 would make them so.
		if err := os.Chmod(bin, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	accountID    = "12345678"
	clientID     = "e2e-client"
	clientSecret = "e2e-secret"
	echoToken    = "echo-token"
	tgSecret     = "tg-secret-token"
)

// env is one running system: the emulators in this process, the core as a
// subprocess.
type env struct {
	t       testing.TB
	dir     string
	le      *liveengage.Emulator
	leURL   string
	tg      *tgemu.Emulator
	tgURL   string
	coreURL string
	cfgPath string
	env     []string // extra environment for the core

	notAllReady bool // start waits for /healthz only

	// instances are the cores: one at coreURL, or with Instances > 1 the
	// cluster behind coreURL's balancer (cluster_test.go).
	instances []*instance
	logs      *lockedBuffer // the first instance's log
}

type envOptions struct {
	// Channel is "echo" (the test adapter, a third-party binary),
	// "telegram-webhook" / "telegram-polling" (the built-in adapter), or
	// "custom", with ChannelYAML.
	Channel string
	// ChannelYAML is the channels list for Channel "custom": a YAML list,
	// indented by two spaces, e.g. "  - name: sms\n    adapter: sms\n ...".
	// Secrets go in Env and are referenced as ${NAME}.
	ChannelYAML string
	// Env is added to the core's environment (NAME=value); EnvFunc adds
	// values that depend on the running emulators.
	Env     []string
	EnvFunc func(*env) []string
	// Faults, if set, configure the LiveEngage emulator before the core starts.
	LiveEngageOptions func(*liveengage.Options)
	// CSATPrompt enables the CSAT question after an agent close.
	CSATPrompt string
	// TransferMessage enables the notice when the agent leaves (echo and Telegram channels).
	TransferMessage string
	// ChannelExtraYAML is more of the echo or Telegram channel's keys, one
	// "key: value" per line without indentation (e.g. an sdes block).
	ChannelExtraYAML string
	// ConversationYAML is more of the channel's conversation block, one
	// "key: value" per line without indentation (every channel of the test).
	ConversationYAML string
	// TelegramRate switches the Telegram emulator's rate limits (0 = default).
	TelegramChatRate float64
	// NotAllReady starts the test once the core serves (/healthz), not once
	// every channel is ready (/readyz): for channels that never will be.
	NotAllReady bool
	// PostgresDSN, when set, runs the core on the PostgreSQL store
	// (pgtest.DSN gives a test a schema of its own).
	PostgresDSN string
	// Instances above 1 runs that many cores on PostgreSQL behind a load
	// balancer (cluster_test.go); coreURL is then the balancer's.
	Instances int
	// LeaseTTL is store.lease_ttl ("": the default).
	LeaseTTL string
	// LogLevel is the core's log.level (default debug, which the tests
	// read; benchmarks run at info, as production does).
	LogLevel string
}

// allOnPostgres, set to "postgres", runs every end-to-end test on the
// PostgreSQL store (LECONNECT_TEST_POSTGRES_DSN names the server).
const allOnPostgres = "LECONNECT_E2E_STORE"

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.PostgresDSN == "" && os.Getenv(allOnPostgres) == "postgres" {
		o.PostgresDSN = pgtest.DSN(t)
	}
	e := &env{t: t, dir: t.TempDir()}
	port := freePort(t)
	e.coreURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	if o.Instances > 1 {
		if o.PostgresDSN == "" {
			t.Fatal("several instances need PostgresDSN")
		}
		e.coreURL = e.startBalancer(o.Instances)
	} else {
		e.instances = []*instance{{port: port, url: e.coreURL, logs: &lockedBuffer{}}}
	}
	e.logs = e.instances[0].logs

	leOpts := liveengage.Options{
		AccountID: accountID, ClientID: clientID, ClientSecret: clientSecret,
		WebhookURL:    e.coreURL + "/webhooks/liveperson",
		RetentionTime: time.Hour, // TTL mode: retried with backoff, in order per conversation
		TimeScale:     0.01,
	}
	if o.LiveEngageOptions != nil {
		o.LiveEngageOptions(&leOpts)
	}
	le, err := liveengage.New(leOpts)
	if err != nil {
		t.Fatal(err)
	}
	leSrv := httptest.NewServer(le.Handler())
	t.Cleanup(func() { leSrv.Close(); le.Close() })
	e.le, e.leURL = le, leSrv.URL

	tgOpts := tgemu.Options{TimeScale: 0.01}
	if o.TelegramChatRate != 0 {
		tgOpts.ChatRate, tgOpts.GlobalRate = o.TelegramChatRate, o.TelegramChatRate
	}
	tg, err := tgemu.New(tgOpts)
	if err != nil {
		t.Fatal(err)
	}
	tgSrv := httptest.NewServer(tg.Handler())
	t.Cleanup(func() { tgSrv.Close(); tg.Close() })
	e.tg, e.tgURL = tg, tgSrv.URL

	writeConfig := func(path string, port int, storePath string) {
		var cfg bytes.Buffer
		err := configTemplate.Execute(&cfg, map[string]any{
			"Port": port, "PublicURL": e.coreURL, "DomainAPI": leSrv.URL, "Store": storePath,
			"Channel": o.Channel, "EchoBin": echoBin, "TelegramURL": tgSrv.URL, "TelegramToken": tg.Token(),
			"CSATPrompt": o.CSATPrompt, "TransferMessage": o.TransferMessage, "ConversationYAML": indent(o.ConversationYAML, "      "), "ChannelExtraYAML": indent(o.ChannelExtraYAML, "    "), "ChannelYAML": o.ChannelYAML, "HostileBin": hostileBin,
			"PostgresDSN": o.PostgresDSN, "LeaseTTL": o.LeaseTTL, "LogLevel": cmp.Or(o.LogLevel, "debug"), "EchoWait": echoWait(t, o.LeaseTTL),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, cfg.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.cfgPath = filepath.Join(e.dir, "connector.yaml")
	writeConfig(e.cfgPath, port, filepath.Join(e.dir, "leconnect.db"))
	if o.Instances <= 1 {
		e.instances[0].cfgPath = e.cfgPath
	} else {
		for i, in := range e.instances { // each its own port and directory
			dir := filepath.Join(e.dir, fmt.Sprint("instance-", i))
			in.cfgPath = filepath.Join(dir, "connector.yaml")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			writeConfig(in.cfgPath, in.port, filepath.Join(dir, "leconnect.db"))
		}
	}
	e.env = o.Env
	e.notAllReady = o.NotAllReady
	if o.EnvFunc != nil {
		e.env = append(e.env, o.EnvFunc(e)...)
	}
	e.startCore()
	t.Cleanup(func() {
		e.stopCore(syscall.SIGKILL)
		if t.Failed() {
			for i, in := range e.instances {
				t.Logf("core log (instance %d):\n%s", i, in.logs.String())
			}
		}
	})
	return e
}

// echoWait is delivery.echo_wait for the config: 10s, or with a short
// lease ttl (the cluster tests, which take conversations over) longer than
// the ttl, in_doubt_wait (10s) and reorder_wait (16s) together: generous on
// a loaded 2-core machine, where an instance taking over must not publish
// again a message whose echo is merely slow.
func echoWait(t testing.TB, leaseTTL string) string {
	if leaseTTL == "" {
		return "10s"
	}
	ttl, err := time.ParseDuration(leaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	return (ttl + 10*time.Second + 16*time.Second + 5*time.Second).String()
}

var configTemplate = template.Must(template.New("cfg").Parse(`
server:
  listen: 127.0.0.1:{{.Port}}
  public_url: {{.PublicURL}}
  # The product's default: the engine drains for up to drain_timeout, then
  # each adapter finishes the sends in flight (their results must reach the
  # journal); on a loaded CI machine 5s left the adapters too little.
  shutdown_timeout: 15s
liveengage:
  account_id: "12345678"
  client_id: e2e-client
  client_secret: ${LE_CLIENT_SECRET}
  domain_api: {{.DomainAPI}}
  retry:
    rate_limit_wait: 20ms
    server_error_waits: [20ms, 50ms, 100ms]
    outer_backoff: 200ms
    outer_backoff_max: 1s
store:
  path: {{.Store}}
{{- if .LeaseTTL}}
  lease_ttl: {{.LeaseTTL}}
{{- end}}
{{- if .PostgresDSN}}
  backend: postgres
  postgres:
    dsn: "{{.PostgresDSN}}"
    poll_interval: 1s
{{- end}}
delivery:
  workers: 64
  retry_initial: 20ms
  retry_max: 500ms
  echo_wait: {{.EchoWait}}
  # Longer than the LiveEngage emulator's longest webhook retry wait at this
  # time scale (3 s) plus a restart (3s let TestCrashSafety deliver an
  # agent's second message first, once), and than a takeover's in_doubt_wait
  # (10s), which a taken-over conversation spends before its reorder window
  # is looked at (8s let TestClusterSurvivesAnInstanceKilled swap two, once).
  reorder_wait: 16s
  drain_timeout: 3s
  in_doubt_wait: 10s
log:
  level: {{.LogLevel}}
  format: json
channels:
{{- if eq .Channel "custom"}}
{{.ChannelYAML}}
{{- else if eq .Channel "echo"}}
  - name: echo
    adapter: echo
    path: {{.EchoBin}}
    conversation:
      csat_prompt: "{{.CSATPrompt}}"
      transfer_message: "{{.TransferMessage}}"
{{.ConversationYAML}}
    restart: {initial_backoff: 50ms, max_backoff: 200ms}
    config:
      token: ${ECHO_TOKEN}
{{- else}}
  - name: tg
    adapter: telegram
{{.ChannelExtraYAML}}
    conversation:
      csat_prompt: "{{.CSATPrompt}}"
      transfer_message: "{{.TransferMessage}}"
{{.ConversationYAML}}
    restart: {initial_backoff: 50ms, max_backoff: 200ms}
    config:
      bot_token: ${TELEGRAM_BOT_TOKEN}
      api_base_url: {{.TelegramURL}}
{{- if eq .Channel "telegram-polling"}}
      mode: polling
      poll_timeout: 1
{{- else}}
      mode: webhook
      secret_token: ${TELEGRAM_SECRET_TOKEN}
{{- end}}
{{- end}}
`))

// startCore starts the core (every instance of a cluster) and waits until
// /readyz answers 200 (or /healthz, with notAllReady).
func (e *env) startCore() {
	e.t.Helper()
	for i := range e.instances {
		e.startInstance(i)
	}
}

// stopCore signals the core (every instance) and waits for it to exit; it
// returns how it exited.
func (e *env) stopCore(sig syscall.Signal) error {
	var errs []error
	for i := range e.instances {
		errs = append(errs, e.stopInstance(i, sig))
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// waitFor polls cond; the bound only keeps a broken test from hanging.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// post sends a request to the core.
func (e *env) post(path string, header http.Header, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.coreURL+path, strings.NewReader(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// indent prefixes every line of yaml with prefix.
func indent(yaml, prefix string) string {
	if yaml == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(yaml, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// conversationBlock is a channel's conversation block for hand-written
// channel YAML (4-space channel keys), from ConversationYAML-style lines.
func conversationBlock(yaml []string) string {
	if len(yaml) == 0 || yaml[0] == "" {
		return ""
	}
	return "\n    conversation:\n" + indent(yaml[0], "      ")
}

// conversationYAML is o's CSAT prompt and ConversationYAML, for the
// channels written by hand (Slack, SMS); TransferMessage is Telegram's only.
func (o envOptions) conversationYAML() string {
	var lines []string
	if o.CSATPrompt != "" {
		lines = append(lines, "csat_prompt: "+strconv.Quote(o.CSATPrompt))
	}
	if o.ConversationYAML != "" {
		lines = append(lines, o.ConversationYAML)
	}
	return strings.Join(lines, "\n")
}
