package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/emulator/liveengage"
)

// TestNoSecretAnywhere runs a whole Telegram conversation at the most
// verbose log level, with refused requests among it, and then looks for
// the configured secrets (LiveEngage's client secret, the bot token, the
// webhook secret) everywhere an operator or an attacker could read: every
// log line of the core and its adapter, /metrics, /readyz, validate's
// output, both processes' stack traces (as a crash prints them) and the
// store file. None may appear.
func TestNoSecretAnywhere(t *testing.T) {
	u := telegramUser(t, envOptions{LogLevel: "trace"})
	e := u.e
	secrets := map[string]string{
		"the LiveEngage client secret": clientSecret,
		"the Telegram bot token":       e.tg.Token(),
		"the Telegram webhook secret":  tgSecret,
	}

	u.say("Hello, my parcel is late")
	conv := e.conversation("the consumer's message", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Hello, my parcel is late"
	})
	if _, err := e.le.AgentSend(conv.ID, "Let me check."); err != nil {
		t.Fatal(err)
	}
	u.received("the agent's answer", "Let me check.")

	// Refused requests log why, and must not log what they were refused with.
	if status, _ := e.post("/channels/tg/webhook", http.Header{"X-Telegram-Bot-Api-Secret-Token": {tgSecret + "-wrong"}}, `{"update_id":1}`); status != http.StatusUnauthorized {
		t.Fatalf("a Telegram webhook with the wrong secret: %d; want 401", status)
	}
	body := `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[]}}`
	if status, _ := e.post("/webhooks/liveperson", http.Header{
		liveperson.HeaderAccountID: {accountID}, liveperson.HeaderClientID: {clientID},
		liveperson.HeaderSignature: {liveperson.Sign(clientSecret+"-wrong", []byte(body))},
	}, body); status != http.StatusUnauthorized {
		t.Fatalf("a LiveEngage webhook signed with the wrong secret: %d; want 401", status)
	}
	if err := e.le.AgentClose(conv.ID, false); err != nil {
		t.Fatal(err)
	}
	e.conversation("the conversation closed", func(c liveengage.Conversation) bool { return c.ID == conv.ID && c.State == "CLOSE" })

	places := map[string]string{"the core's and the adapter's log": e.logs.String()}
	for _, path := range []string{"/metrics", "/readyz"} {
		_, b := e.get(path)
		places[path] = b
	}
	validate := exec.Command(leconnectBin, "validate", "--config", e.cfgPath)
	validate.Env = []string{"PATH=" + os.Getenv("PATH"), "LE_CLIENT_SECRET=" + clientSecret,
		"TELEGRAM_BOT_TOKEN=" + e.tg.Token(), "TELEGRAM_SECRET_TOKEN=" + tgSecret}
	out, err := validate.CombinedOutput()
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	places["validate's output"] = string(out)

	// Stack traces: SIGQUIT makes a Go process print every goroutine's
	// stack, as a crash does. The adapter's goes to the core's log.
	m := regexp.MustCompile(`"adapter running".*?"pid":(\d+)`).FindStringSubmatch(e.logs.String())
	if m == nil {
		t.Fatal("no adapter pid in the log")
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the adapter's stack trace in the core's log", func() bool {
		return strings.Count(e.logs.String(), "goroutine ") > 3
	})
	if err := e.stopCore(syscall.SIGQUIT); err == nil { // the store is fsynced at every commit: all in the file
		t.Fatal("the core exited cleanly on SIGQUIT; want its stack dump")
	}
	if !strings.Contains(e.logs.String(), "SIGQUIT: quit") {
		t.Fatal("no stack trace of the core in its output")
	}
	places["the core's and the adapter's log"] = e.logs.String()
	if os.Getenv(allOnPostgres) == "postgres" {
		t.Log("the store is PostgreSQL here: the store file is looked at in the embedded store's run")
	} else {
		db, err := os.ReadFile(filepath.Join(e.dir, "leconnect.db"))
		if err != nil {
			t.Fatal(err)
		}
		places["the store file"] = string(db)
	}

	if !strings.Contains(places["the core's and the adapter's log"], "telegram webhook refused") {
		t.Fatal("the refused Telegram webhook left no log line: the log looked at is not the whole")
	}
	for where, text := range places {
		for what, secret := range secrets {
			if strings.Contains(text, secret) {
				i := strings.Index(text, secret)
				t.Errorf("%s shows %s: …%s…", where, what, text[max(0, i-120):min(len(text), i+len(secret)+40)])
			}
		}
	}
}
