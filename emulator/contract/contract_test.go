package contract

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/emulator/slack"
	"github.com/leconnect/leconnect/emulator/sms"
	"github.com/leconnect/leconnect/emulator/telegram"
	"github.com/leconnect/leconnect/plugins/sdk"
	smsadapter "github.com/leconnect/leconnect/plugins/sms"
)

// skipUnlessCI skips with why, or fails under CI=true, where the contract
// tests must run.
func skipUnlessCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: the official-client contract tests must run)", why)
	}
	t.Skip(why)
}

const (
	tgUser      = 1111111
	slackUser   = "U0ANN"
	twilioFrom  = "+14155550100"
	vonageFrom  = "447700900000"
	twilioPhone = "+14155552345"

	vonageSignatureSecret = "vonage-signature-secret"
)

func TestOfficialClients(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		skipUnlessCI(t, "node is not installed: the official-client contract tests need Node 18 or newer")
	}
	if _, err := os.Stat("node_modules"); err != nil {
		// The lockfile pins every package: npm ci installs exactly those.
		npm, err := exec.LookPath("npm")
		if err != nil {
			skipUnlessCI(t, "npm is not installed, and emulator/contract/node_modules is missing: install npm and run `npm ci` in emulator/contract")
		}
		if out, err := exec.Command(npm, "ci", "--no-audit", "--no-fund").CombinedOutput(); err != nil {
			skipUnlessCI(t, fmt.Sprintf("`npm ci` in emulator/contract failed (offline?): %v\n%s", err, out))
		}
	}

	tg, err := telegram.New(telegram.Options{TimeScale: 0.01, ChatRate: -1, GlobalRate: -1}) // limits: by fault
	if err != nil {
		t.Fatal(err)
	}
	tgSrv := httptest.NewServer(tg.Handler())
	t.Cleanup(func() { tg.Close(); tgSrv.Close() })
	if err := tg.AddUser(telegram.User{ID: tgUser, FirstName: "Ann", Username: "ann"}); err != nil {
		t.Fatal(err)
	}

	sl, err := slack.New(slack.Options{TimeScale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	slSrv := httptest.NewServer(sl.Handler())
	t.Cleanup(func() { sl.Close(); slSrv.Close() })
	sl.SetPublicURL(slSrv.URL)
	if err := sl.AddUser(slack.User{ID: slackUser, Name: "ann", FirstName: "Ann", LastName: "Lee", Email: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}

	sm, err := sms.New(sms.Options{TimeScale: 0.01, VonageSignatureSecret: vonageSignatureSecret, VonageSignatureMethod: "sha256"})
	if err != nil {
		t.Fatal(err)
	}
	smSrv := httptest.NewServer(sm.Handler())
	t.Cleanup(func() { sm.Close(); smSrv.Close() })
	sm.SetBaseURL(smSrv.URL)
	for _, n := range []sms.Number{{Provider: sms.Twilio, Number: twilioFrom}, {Provider: sms.Vonage, Number: "+" + vonageFrom}} {
		if err := sm.AddNumber(n); err != nil {
			t.Fatal(err)
		}
	}

	// Our own SMS adapter, for the cross-check of Twilio signatures that
	// twilio-node computes (repeated parameters included).
	adapterURL, delivered := startSMSAdapter(t, sm, smSrv.URL)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec")
	cmd.Env = append(os.Environ(),
		"TELEGRAM_API_ROOT="+tgSrv.URL, "TELEGRAM_TOKEN="+tg.Token(), "TELEGRAM_USER="+strconv.Itoa(tgUser),
		"SLACK_API_URL="+slSrv.URL+"/api/", "SLACK_BASE="+slSrv.URL, "SLACK_BOT_TOKEN="+sl.BotToken(),
		"SLACK_SIGNING_SECRET="+sl.SigningSecret(), "SLACK_USER="+slackUser,
		"SMS_BASE="+smSrv.URL, "TWILIO_ACCOUNT_SID="+sm.AccountSID(), "TWILIO_AUTH_TOKEN="+sm.AuthToken(),
		"TWILIO_FROM="+twilioFrom, "TWILIO_PHONE="+twilioPhone,
		"VONAGE_API_KEY="+sm.VonageAPIKey(), "VONAGE_API_SECRET="+sm.VonageAPISecret(), "VONAGE_FROM="+vonageFrom,
		"VONAGE_SIGNATURE_SECRET="+vonageSignatureSecret,
		"LECONNECT_SMS_WEBHOOK="+adapterURL,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the official clients disagree with the emulators: %v\n%s", err, out)
	}
	t.Logf("node --test:\n%s", out)
	if n := delivered(); n == 0 {
		t.Fatal("the twilio-node-signed webhooks reached the adapter but none was delivered")
	}
}

// host plays the core for the SMS adapter: it keeps what is delivered.
type host struct {
	webhook, dir string
	mu           sync.Mutex
	events       []sdk.Event
}

func (h *host) Deliver(_ context.Context, evs ...sdk.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, evs...)
	return nil
}
func (h *host) WebhookURL() string { return h.webhook }
func (h *host) StateDir() string   { return h.dir }

// startSMSAdapter runs the SMS adapter (Twilio, against the emulator) on
// its own listener and returns its webhook URL and a count of the events
// it delivered.
func startSMSAdapter(t *testing.T, sm *sms.Emulator, smsURL string) (string, func() int) {
	t.Helper()
	a := smsadapter.New()
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	h := &host{webhook: srv.URL + "/channels/sms/webhook", dir: t.TempDir()}
	cfg := fmt.Sprintf(`{"provider":"twilio","account_sid":%q,"auth_token":%q,"from":%q,"api_base_url":%q,"public_url":%q}`,
		sm.AccountSID(), sm.AuthToken(), twilioFrom, smsURL, h.webhook)
	ctx := context.Background()
	if err := a.Configure(ctx, sdk.Setup{Channel: "sms", Config: sdk.NewConfig([]byte(cfg))}); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return h.webhook, func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.events)
	}
}
