package config

import (
	"strings"
	"testing"
)

const blockYAML = `server:
  public_url: https://x.example
liveengage:
  account_id: "1"
  client_id: c
  client_secret: s
channels:
  - name: sms
    adapter: sms
    config:
      bot_token: ${TOKEN}
      port: ${PORT}
      count: 3
      hex: 0x1F
      ratio: 0.5
      enabled: true
      quoted_number: "42"
      nothing: ~
      price: $$5 and $HOME
      webhook:
        path: /hook
        secret: ${HOOK_SECRET}
      numbers: [one, two, three]
      shared: &anchor {a: 1}
      again: *anchor
`

func parseBlock(t *testing.T) *Config {
	t.Helper()
	env := fakeEnv(map[string]string{"TOKEN": "tok-value", "PORT": "8443", "HOOK_SECRET": "hook-value"})
	c, _, err := Parse("c.yaml", []byte(blockYAML), env, WithBuiltinAdapters("sms"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAdapterConfigJSON(t *testing.T) {
	c := parseBlock(t)
	ac := c.Channels[0].Config
	want := `{"bot_token":"tok-value","port":"8443","count":3,"hex":31,"ratio":0.5,"enabled":true,` +
		`"quoted_number":"42","nothing":null,"price":"$5 and $HOME",` +
		`"webhook":{"path":"/hook","secret":"hook-value"},"numbers":["one","two","three"],` +
		`"shared":{"a":1},"again":{"a":1}}`
	if got := string(ac.JSON()); got != want {
		t.Errorf("JSON =\n%s\nwant\n%s", got, want)
	}
	redacted := string(ac.RedactedJSON())
	for _, secret := range []string{"tok-value", "8443", "hook-value"} {
		if strings.Contains(redacted, secret) {
			t.Errorf("RedactedJSON leaks %q: %s", secret, redacted)
		}
	}
	if !strings.Contains(redacted, `"bot_token":"<redacted>"`) || !strings.Contains(redacted, `"count":3`) {
		t.Errorf("RedactedJSON = %s, want secrets redacted and the rest kept", redacted)
	}
	// JSON hands out a copy: the config stays immutable.
	ac.JSON()[0] = 'X'
	if ac.JSON()[0] != '{' {
		t.Error("JSON returned the config's own buffer")
	}
}

func TestAdapterConfigPosition(t *testing.T) {
	c := parseBlock(t)
	ac := c.Channels[0].Config
	tests := []struct {
		field     string
		line, col int
	}{
		{"bot_token", 11, 7},
		{"webhook.secret", 22, 9},
		{"webhook", 20, 7},
		{"numbers[2]", 23, 27},
		{"numbers[9]", 23, 7},          // no such item: its list
		{"webhook.nope.deeper", 20, 7}, // nearest known parent
		{"unknown_field", 10, 5},       // the config: key
		{".bot_token", 11, 7},          // tolerate a leading dot
		{"", 10, 5},                    // the block itself
		{"shared.a", 24, 24},           // inside a flow mapping
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			p := ac.Position(tt.field)
			if p.Line != tt.line || p.Column != tt.col || p.File != "c.yaml" {
				t.Errorf("Position(%q) = %s, want c.yaml:%d:%d", tt.field, p, tt.line, tt.col)
			}
		})
	}
}

func TestAdapterConfigProblem(t *testing.T) {
	c := parseBlock(t)
	tests := []struct{ field, want string }{
		{"bot_token", "c.yaml:11:7: channels[0].config.bot_token: must look like 123:abc"},
		{"numbers[1]", "c.yaml:23:22: channels[0].config.numbers[1]: must look like 123:abc"},
		{"", "c.yaml:10:5: channels[0].config: must look like 123:abc"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if got := c.Channels[0].Config.Problem(tt.field, "must look like 123:abc").Error(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestAdapterConfigAbsent(t *testing.T) {
	data := "channels:\n  - name: a\n    adapter: t\n  - name: b\n    adapter: t\n    config:\n"
	c, _, err := Parse("c.yaml", []byte(data+"server: {public_url: https://x.example}\nliveengage: {account_id: '1', client_id: c, client_secret: s}\n"), nil, WithBuiltinAdapters("t"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ch        int
		line, col int
	}{
		{0, 2, 5}, // no config key: field errors point at the channel
		{1, 6, 5}, // empty config key: at the key
	}
	for _, tt := range tests {
		ac := c.Channels[tt.ch].Config
		if got := string(ac.JSON()); got != "{}" {
			t.Errorf("channel %d JSON = %s, want {}", tt.ch, got)
		}
		if p := ac.Problem("bot_token", "required"); p.Pos.Line != tt.line || p.Pos.Column != tt.col || p.Path != "channels["+string(rune('0'+tt.ch))+"].config.bot_token" {
			t.Errorf("channel %d problem = %v, want line %d col %d", tt.ch, p, tt.line, tt.col)
		}
	}
}
