package demo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"text/template"
)

// The demo account. Nothing here is a real credential: the emulators accept
// exactly these values and nothing leaves loopback.
const (
	accountID    = "12345678"
	clientID     = "leconnect-demo"
	clientSecret = "demo-client-secret"
	tgToken      = "7000001:DEMO-bot-token"
	tgSecret     = "demo-webhook-secret"
	csatPrompt   = "How did we do? Reply 1 to 5."

	slackBotToken      = "xoxb-demo-bot-token"
	slackAppToken      = "xapp-1-demo-app-token" // events mode does not use it; the emulator wants one
	slackSigningSecret = "demo-slack-signing-secret"
	twilioAccountSID   = "ACd3m00000000000000000000000000000"
	twilioAuthToken    = "demo-twilio-auth-token"
)

// Environment variables carrying the secrets to the core, referenced from the
// config as ${NAME}, the way an operator keeps secrets out of the file.
var secretEnv = map[string]string{
	"LECONNECT_DEMO_LE_CLIENT_SECRET":    clientSecret,
	"LECONNECT_DEMO_TELEGRAM_BOT_TOKEN":  tgToken,
	"LECONNECT_DEMO_TELEGRAM_SECRET_TOK": tgSecret,
	"LECONNECT_DEMO_SLACK_BOT_TOKEN":     slackBotToken,
	"LECONNECT_DEMO_SLACK_SIGNING_SEC":   slackSigningSecret,
	"LECONNECT_DEMO_TWILIO_ACCOUNT_SID":  twilioAccountSID,
	"LECONNECT_DEMO_TWILIO_AUTH_TOKEN":   twilioAuthToken,
}

// envUsers counts running demos in this process (tests run several), so the
// variables are removed only when the last one stops.
var (
	envMu    sync.Mutex
	envUsers int
)

func setSecretEnv() (unset func(), err error) {
	envMu.Lock()
	defer envMu.Unlock()
	for k, v := range secretEnv {
		if err := os.Setenv(k, v); err != nil {
			return nil, fmt.Errorf("set %s: %w", k, err)
		}
	}
	envUsers++
	return func() {
		envMu.Lock()
		defer envMu.Unlock()
		envUsers--
		if envUsers == 0 {
			for k := range secretEnv {
				_ = os.Unsetenv(k)
			}
		}
	}, nil
}

type configParams struct {
	Listen, PublicURL, DomainAPI, Store string
	TelegramURL, SlackURL, SMSURL       string
	SMSNumber                           string
	CSATPrompt                          string
}

// The core's config: short retry intervals so a hiccup heals within the
// demo; the built-in Telegram adapter in webhook mode, Slack over the
// Events API, SMS through Twilio.
var configTemplate = template.Must(template.New("connector.yaml").Parse(`# Written by leconnect demo; removed when it stops.
server:
  listen: "{{.Listen}}"
  public_url: "{{.PublicURL}}"
  shutdown_timeout: 15s # a normal stop takes about a second; on a loaded machine it may take more
liveengage:
  account_id: "` + accountID + `"
  client_id: "` + clientID + `"
  client_secret: "${LECONNECT_DEMO_LE_CLIENT_SECRET}"
  domain_api: "{{.DomainAPI}}"
  retry:
    rate_limit_wait: 200ms
    server_error_waits: [200ms, 500ms, 1s]
    outer_backoff: 2s
    outer_backoff_max: 10s
store:
  path: "{{.Store}}"
delivery:
  workers: 64
  retry_initial: 200ms
  retry_max: 5s
  echo_wait: 10s
  reorder_wait: 300ms
  drain_timeout: 3s
log:
  level: info
  format: text
channels:
  - name: telegram
    adapter: telegram
    conversation:
      csat_prompt: "{{.CSATPrompt}}"
    restart: {initial_backoff: 200ms, max_backoff: 2s}
    config:
      bot_token: "${LECONNECT_DEMO_TELEGRAM_BOT_TOKEN}"
      api_base_url: "{{.TelegramURL}}"
      mode: webhook
      secret_token: "${LECONNECT_DEMO_TELEGRAM_SECRET_TOK}"
  - name: slack
    adapter: slack
    conversation:
      csat_prompt: "{{.CSATPrompt}}"
    restart: {initial_backoff: 200ms, max_backoff: 2s}
    config:
      bot_token: "${LECONNECT_DEMO_SLACK_BOT_TOKEN}"
      signing_secret: "${LECONNECT_DEMO_SLACK_SIGNING_SEC}"
      mode: events
      api_base_url: "{{.SlackURL}}/api"
      rate_scale: 10
  - name: sms
    adapter: sms
    conversation:
      csat_prompt: "{{.CSATPrompt}}"
    restart: {initial_backoff: 200ms, max_backoff: 2s}
    config:
      provider: twilio
      account_sid: "${LECONNECT_DEMO_TWILIO_ACCOUNT_SID}"
      auth_token: "${LECONNECT_DEMO_TWILIO_AUTH_TOKEN}"
      from: "{{.SMSNumber}}"
      api_base_url: "{{.SMSURL}}"
`))

func writeConfig(dir string, p configParams) (string, error) {
	var b bytes.Buffer
	if err := configTemplate.Execute(&b, p); err != nil {
		return "", fmt.Errorf("render config: %w", err)
	}
	path := filepath.Join(dir, "connector.yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	return path, nil
}
