package config

import (
	"strings"
	"testing"
)

// TestSecretsNeverPrinted checks that secret values appear neither in errors nor in String.
func TestSecretsNeverPrinted(t *testing.T) {
	const leaked = "SUPERSECRET"
	env := fakeEnv(map[string]string{
		"SECRET": leaked, "TIMEOUT": leaked, "ACCOUNT": leaked + "acct", "URL": leaked + "url",
		"SIZE": leaked + "size", "LEVEL": leaked + "lvl", "SKILL": leaked + "skill",
		"BACKOFF": "1m",
	})
	t.Run("errors", func(t *testing.T) {
		data := `server:
  public_url: ${URL}
  read_timeout: ${TIMEOUT}
  max_body_bytes: ${SIZE}
liveengage:
  account_id: ${ACCOUNT}
  client_id: c
  client_secret: ${SECRET}
log:
  level: ${LEVEL}
channels:
  - name: a
    adapter: t
    routing:
      skill_id: ${SKILL}
`
		_, _, err := Parse("c.yaml", []byte(data), env, WithBuiltinAdapters("t"))
		if err == nil {
			t.Fatal("want errors")
		}
		msg := err.Error()
		if strings.Contains(msg, leaked) {
			t.Errorf("error leaks a secret:\n%s", msg)
		}
		// Each bad value is still reported, by key and variable.
		for _, want := range []string{
			"c.yaml:2:3: server.public_url:",
			"c.yaml:3:3: server.read_timeout: the value of ${TIMEOUT} is not a duration",
			"c.yaml:4:3: server.max_body_bytes: the value of ${SIZE} is not a whole number",
			"c.yaml:6:3: liveengage.account_id: the value from the environment is not an account id",
			"c.yaml:10:3: log.level: the value from the environment is not a log level",
			"c.yaml:15:7: channels[0].routing.skill_id: the value from the environment is not a skill id",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q:\n%s", want, msg)
			}
		}
	})
	t.Run("String", func(t *testing.T) {
		data := `server:
  public_url: https://x.example/${SECRET}
liveengage:
  account_id: "1"
  client_id: c
  client_secret: literal-client-secret
  retry:
    outer_backoff: ${BACKOFF}
channels:
  - name: a
    adapter: t
    config:
      token: ${SECRET}
      mode: webhook
`
		c, _, err := Parse("c.yaml", []byte(data), env, WithBuiltinAdapters("t"))
		if err != nil {
			t.Fatal(err)
		}
		s := c.String()
		for _, secret := range []string{leaked, "literal-client-secret"} {
			if strings.Contains(s, secret) {
				t.Errorf("String leaks %q:\n%s", secret, s)
			}
		}
		for _, want := range []string{"client_secret: <redacted>", "public_url: <redacted>", "token: <redacted>", "outer_backoff: <redacted>", "mode: webhook", "client_id: c", "idle_timeout: 2m\n"} {
			if !strings.Contains(s, want) {
				t.Errorf("String lacks %q:\n%s", want, s)
			}
		}
		// The values themselves are intact for the daemon.
		if c.LiveEngage.ClientSecret != "literal-client-secret" || c.Server.PublicURL != "https://x.example/"+leaked {
			t.Errorf("values changed by redaction: %q %q", c.LiveEngage.ClientSecret, c.Server.PublicURL)
		}
	})
}
