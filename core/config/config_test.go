package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// fakeEnv is a LookupEnvFunc over a map.
func fakeEnv(vars map[string]string) LookupEnvFunc {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

var testEnv = map[string]string{
	"LE_CLIENT_SECRET":      "le-secret-value",
	"TELEGRAM_BOT_TOKEN":    "123456:telegram-token-value",
	"TELEGRAM_SECRET_TOKEN": "telegram-webhook-secret-value",
}

// parseTestdata parses testdata/<name> as if the file lived in a fresh folder holding an
// executable "adapter", so relative adapter paths resolve hermetically.
func parseTestdata(t *testing.T, name string, opts ...Option) (*Config, []Problem, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "adapter"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts = append([]Option{WithBuiltinAdapters("telegram", "slack")}, opts...)
	return Parse(filepath.Join(dir, name), data, fakeEnv(testEnv), opts...)
}

type wantProblem struct {
	line, col int
	path      string
	msg       string // substring of the message
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		file string
		want []wantProblem
	}{
		{"unknown_key.yaml", []wantProblem{
			{2, 3, "server.listne", `unknown key "listne" (expected one of: listen, public_url, read_timeout, write_timeout, idle_timeout, shutdown_timeout, max_body_bytes, max_in_flight, max_connections, tls, instance_id); did you mean "listen"?`},
		}},
		{"missing_required.yaml", []wantProblem{
			{1, 1, "server.public_url", "missing required value; expected the absolute http(s) URL"},
			{3, 1, "liveengage.client_id", "missing required value"},
			{5, 3, "liveengage.client_secret", "must not be empty"},
			{7, 5, "channels[0].name", "missing required value; expected a channel name"},
		}},
		{"wrong_types.yaml", []wantProblem{
			{3, 3, "server.max_body_bytes", `"lots" is not a whole number; expected an integer such as 1048576`},
			{4, 3, "server.read_timeout", `"ten" is not a duration; expected e.g. 10s`},
			{5, 3, "server.tls", "expected a mapping (key: value lines), got a list"},
			{11, 5, "liveengage.retry.server_error_waits", "expected a list, got a single value"},
			{16, 7, "channels[0].restart.max_crashes", `"5x" is not a whole number`},
			{17, 7, "channels[0].restart.window", `"5" is not a duration; expected e.g. 5m`},
			{18, 5, "channels[0].config", "expected a mapping (the adapter's own settings), got a list"},
		}},
		{"duplicate_channel_names.yaml", []wantProblem{
			{10, 5, "channels[1].name", `duplicate channel name "support" (already used by channels[0] at line 8)`},
		}},
		{"bad_sha256.yaml", []wantProblem{
			{11, 5, "channels[0].sha256", `"ABCDEF0123" is not a sha256 digest; expected 64 lowercase hex characters`},
		}},
		{"sha256_without_path.yaml", []wantProblem{
			{10, 5, "channels[0].sha256", "set without path"},
		}},
		{"unset_var.yaml", []wantProblem{
			{6, 3, "liveengage.client_secret", "environment variable LE_CLIENT_SECRET_UNSET is not set"},
			{11, 7, "channels[0].config.bot_token", "environment variable TELEGRAM_TOKEN_UNSET is not set"},
		}},
		{"bad_var_syntax.yaml", []wantProblem{
			{5, 3, "liveengage.client_id", `invalid variable reference "${LE-CLIENT}"`},
			{6, 3, "liveengage.client_secret", `unterminated "${"`},
		}},
		{"duplicate_keys.yaml", []wantProblem{
			{4, 3, "server.listen", `duplicate key "listen" (first set at line 3)`},
			{14, 7, "channels[0].config.mode", `duplicate key "mode" (first set at line 13)`},
		}},
		{"bad_timeouts_limits.yaml", []wantProblem{
			{11, 7, "channels[0].timeouts.configure", "0s is not positive"},
			{12, 7, "channels[0].timeouts.max_missed", "0 is not positive; expected a count such as 3"},
			{14, 7, "channels[0].limits.max_text_chars", "9000 is out of range; expected 1 to 5000"},
			{15, 7, "channels[0].limits.max_media_bytes", "67108864 is out of range; expected a byte count above 0 and below max_in_flight_bytes (33554432)"},
			{16, 7, "channels[0].limits.max_batch_events", "-1 is not positive"},
			{17, 7, "channels[0].limits.log_lines_per_second", "0 is not positive"},
			{21, 7, "channels[1].limits.max_in_flight_bytes", "134217728 is out of range; expected a byte count from 1 to 67108864 (64 MiB)"},
		}},
		{"bad_sdes.yaml", []wantProblem{
			{12, 9, "channels[0].sdes.personal.firstname", `"nickname" is not a source; expected one of first_name, last_name`},
			{13, 9, "channels[0].sdes.personal.shoe_size", `unknown key "shoe_size" (expected one of: firstname, lastname, gender, language, email, phone)`},
			{16, 9, "channels[0].sdes.ctmrinfo.socialId", `"attributes." is not a source`},
		}},
		{"bad_store.yaml", []wantProblem{
			{9, 3, "store.lease_ttl", "0s is not positive"},
			{11, 5, "store.postgres.dsn", "is not a PostgreSQL connection string; expected postgres://"},
			{12, 5, "store.postgres.max_conns", "1 is out of range; expected a count from 2 to 1000"},
			{13, 5, "store.postgres.statement_timeout", "-1s is not positive"},
		}},
		{"bad_backend.yaml", []wantProblem{
			{8, 3, "store.backend", `"mysql" is not a store backend; expected bbolt (the embedded file, the default) or postgres`},
		}},
		{"multiple_problems.yaml", []wantProblem{
			{2, 3, "server.public_url", `scheme "ftp" is not supported; expected http or https`},
			{3, 3, "server.shutdown_timeout", "-5s is not positive"},
			{5, 3, "liveengage.account_id", `"acme" is not an account id; expected digits only`},
			{8, 3, "liveengage.colour", `unknown key "colour"`},
			{10, 3, "store.path", "must not be empty"},
			{12, 3, "log.level", `"loud" is not a log level; expected one of: trace, debug, info, warn, error`},
			{14, 5, "channels[0].name", `"Support" is not a valid channel name`},
			{15, 5, "channels[0].adapter", `unknown adapter "whatsapp" (built-in adapters: telegram, slack; or set path)`},
			{16, 5, "channels[0].routing.engagement_id", "expected engagement_id together with campaign_id"},
			{17, 7, "channels[0].routing.skill_id", `"sales" is not a skill id`},
			{23, 7, "channels[1].restart.max_backoff", "1s is less than initial_backoff (10s)"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, _, err := parseTestdata(t, tt.file)
			if c != nil {
				t.Errorf("got a config for an invalid file")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v is not Problems", err)
			}
			if len(ps) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(tt.want), err)
			}
			for i, w := range tt.want {
				p := ps[i]
				if p.Pos.Line != w.line || p.Pos.Column != w.col || p.Path != w.path || !strings.Contains(p.Message, w.msg) {
					t.Errorf("problem %d = %d:%d %s: %s\nwant %d:%d %s: ...%s...", i, p.Pos.Line, p.Pos.Column, p.Path, p.Message, w.line, w.col, w.path, w.msg)
				}
				if !strings.HasSuffix(p.Pos.File, tt.file) {
					t.Errorf("problem %d names file %q, want .../%s", i, p.Pos.File, tt.file)
				}
			}
		})
	}
}

func TestProblemFormat(t *testing.T) {
	data := []byte("server:\n  public_url: https://x.example\n  read_timeout: ten\n")
	_, _, err := Parse("connector.yaml", data, nil)
	if err == nil {
		t.Fatal("no error")
	}
	// The liveengage section is missing too, so several lines are expected; one of them
	// must be exactly this.
	want := `connector.yaml:3:3: server.read_timeout: "ten" is not a duration; expected e.g. 10s`
	if lines := strings.Split(err.Error(), "\n"); !slices.Contains(lines, want) {
		t.Errorf("error lines = %q\nwant one to be %q", lines, want)
	}
}

func TestDefaultsApplied(t *testing.T) {
	c, warnings, err := parseTestdata(t, "minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings: %v", warnings)
	}
	dir := filepath.Dir(c.File())
	checks := []struct {
		name      string
		got, want any
	}{
		{"server.listen", c.Server.Listen, "127.0.0.1:8080"},
		{"server.public_url trailing slash dropped", c.Server.PublicURL, "https://connector.example.com"},
		{"server.read_timeout", c.Server.ReadTimeout, 10 * time.Second},
		{"server.write_timeout", c.Server.WriteTimeout, 10 * time.Second},
		{"server.idle_timeout", c.Server.IdleTimeout, 120 * time.Second},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout, 15 * time.Second},
		{"server.max_body_bytes", c.Server.MaxBodyBytes, int64(1048576)},
		{"server.tls", c.Server.TLS.Enabled(), false},
		{"liveengage.client_secret expanded", c.LiveEngage.ClientSecret, "le-secret-value"},
		{"liveengage.domain_api", c.LiveEngage.DomainAPI, "https://api.liveperson.net"},
		{"liveengage.app_name", c.LiveEngage.AppName, "leconnect"},
		{"liveengage.app_description", c.LiveEngage.AppDescription, "LiveEngage connector powered by leconnect"},
		{"retry.rate_limit_wait", c.LiveEngage.Retry.RateLimitWait, time.Second},
		{"retry.server_error_waits", len(c.LiveEngage.Retry.ServerErrorWaits), 3},
		{"retry.server_error_waits[2]", c.LiveEngage.Retry.ServerErrorWaits[2], 15 * time.Second},
		{"retry.outer_backoff", c.LiveEngage.Retry.OuterBackoff, time.Minute},
		{"retry.outer_backoff_max", c.LiveEngage.Retry.OuterBackoffMax, 10 * time.Minute},
		{"store.path resolved", c.Store.Path, filepath.Join(dir, "leconnect.db")},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"channels", len(c.Channels), 1},
		{"restart.max_crashes", c.Channels[0].Restart.MaxCrashes, 5},
		{"restart.window", c.Channels[0].Restart.Window, 5 * time.Minute},
		{"restart.initial_backoff", c.Channels[0].Restart.InitialBackoff, time.Second},
		{"restart.max_backoff", c.Channels[0].Restart.MaxBackoff, 30 * time.Second},
		{"timeouts.configure", c.Channels[0].Timeouts.Configure, 30 * time.Second},
		{"timeouts.send", c.Channels[0].Timeouts.Send, time.Minute},
		{"timeouts.max_missed", c.Channels[0].Timeouts.MaxMissed, 3},
		{"limits.max_text_chars", c.Channels[0].Limits.MaxTextChars, 5000},
		{"limits.max_media_bytes", c.Channels[0].Limits.MaxMediaBytes, int64(20 << 20)},
		{"limits.max_in_flight_bytes", c.Channels[0].Limits.MaxInFlightBytes, int64(32 << 20)},
		{"builtin", c.Channels[0].Builtin(), true},
		{"config absent is {}", string(c.Channels[0].Config.JSON()), "{}"},
		{"liveperson webhook", c.LivePersonWebhookURL(), "https://connector.example.com/webhooks/liveperson"},
		{"channel webhook", c.ChannelWebhookURL("support-telegram"), "https://connector.example.com/channels/support-telegram/webhook"},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if ck.got != ck.want {
				t.Errorf("got %v, want %v", ck.got, ck.want)
			}
		})
	}
}

func TestEmptyChannelsWarns(t *testing.T) {
	for _, body := range []string{"channels: []\n", "channels:\n", ""} {
		t.Run(strings.TrimSpace(body), func(t *testing.T) {
			data := "server:\n  public_url: https://x.example\nliveengage:\n  account_id: \"1\"\n  client_id: c\n  client_secret: s\n" + body
			c, warnings, err := Parse("c.yaml", []byte(data), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Channels) != 0 {
				t.Errorf("got %d channels", len(c.Channels))
			}
			if len(warnings) != 1 || warnings[0].Path != "channels" || !strings.Contains(warnings[0].Message, "no channels configured") {
				t.Fatalf("warnings = %v, want one about channels", warnings)
			}
			if body != "" && warnings[0].Pos.Line != 7 {
				t.Errorf("warning at line %d, want 7 (the channels key)", warnings[0].Pos.Line)
			}
		})
	}
}

func TestPublicURLHTTPWarns(t *testing.T) {
	data := "server:\n  public_url: http://127.0.0.1:8080\nliveengage:\n  account_id: \"1\"\n  client_id: c\n  client_secret: s\nchannels:\n  - name: a\n    adapter: telegram\n"
	_, warnings, err := Parse("c.yaml", []byte(data), nil, WithBuiltinAdapters("telegram"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0].Path != "server.public_url" || warnings[0].Pos.Line != 2 {
		t.Errorf("warnings = %v, want one at server.public_url line 2", warnings)
	}
}

// A cluster whose echo_wait is not longer than what an echo can wait
// behind after a takeover is warned about; the embedded store (one
// process) and a long enough echo_wait are not.
func TestThirdPartyAdapterPath(t *testing.T) {
	const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	base := "server:\n  public_url: https://x.example\nliveengage:\n  account_id: \"1\"\n  client_id: c\n  client_secret: s\nchannels:\n  - name: a\n    adapter: custom\n"
	tests := []struct {
		name    string
		extra   string
		wantErr string // empty: valid
	}{
		{"relative executable", "    path: adapter\n    sha256: " + sum + "\n", ""},
		{"missing file", "    path: nope\n", "channels[0].path: \"nope\": no such file"},
		{"not executable", "    path: plain.txt\n", "is not executable"},
		{"directory", "    path: sub\n", "is not a regular file"},
		{"custom label without path", "", `unknown adapter "custom" (built-in adapters: none; or set path)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mustWrite(t, filepath.Join(dir, "adapter"), 0o755)
			mustWrite(t, filepath.Join(dir, "plain.txt"), 0o644)
			if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			c, _, err := Parse(filepath.Join(dir, "c.yaml"), []byte(base+tt.extra), nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := c.Channels[0].Path, filepath.Join(dir, "adapter"); got != want {
					t.Errorf("path = %q, want %q", got, want)
				}
				if c.Channels[0].Builtin() {
					t.Error("a channel with path reported as built-in")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func mustWrite(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func TestStructuralProblems(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"syntax error", "server:\n  listen: [\n", "c.yaml: not valid YAML: "},
		{"two documents", "server: {}\n---\nlog: {}\n", "c.yaml:2:1: a second YAML document"},
		{"top level list", "- a\n- b\n", "c.yaml:1:1: expected a mapping (key: value lines), got a list"},
		{"merge key", "base: &b\n  listen: x\nserver:\n  <<: *b\n", `c.yaml:1:1: base: unknown key "base"`},
		{"merge key in section", "server:\n  <<: {listen: x}\n", "c.yaml:2:3: server: merge keys (<<) are not supported"},
		{"map for string", "server:\n  public_url: {a: b}\n", "c.yaml:2:3: server.public_url: expected a string, got a mapping"},
		{"list for duration", "server:\n  read_timeout: [1s]\n", "c.yaml:2:3: server.read_timeout: expected a duration such as 10s, got a list"},
		{"bad list item", "liveengage:\n  retry:\n    server_error_waits: [5s, soon]\n", `c.yaml:3:30: liveengage.retry.server_error_waits[1]: "soon" is not a duration`},
		{"outer backoff cap", "liveengage:\n  retry:\n    outer_backoff: 5m\n    outer_backoff_max: 1m\n", "c.yaml:4:5: liveengage.retry.outer_backoff_max: 1m0s is less than outer_backoff (5m0s)"},
		{"tls half", "server:\n  tls:\n    cert_file: cert.pem\n", "c.yaml:2:3: server.tls.key_file: missing; expected key_file together with cert_file"},
		{"infinite float in config", "channels:\n  - name: a\n    adapter: t\n    config:\n      rate: .inf\n", "c.yaml:5:7: channels[0].config.rate: \".inf\" cannot be represented in JSON"},
		{"alias bomb", aliasBomb(), "c.yaml:4:5: channels[0].config: more than 100000 values once aliases are expanded"},
		{"bad listen", "server:\n  listen: localhost\n", `c.yaml:2:3: server.listen: "localhost" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("c.yaml", []byte(tt.data), nil, WithBuiltinAdapters("t"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error =\n%v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestNoCascade checks that a section with the wrong shape is reported once, not again
// as missing each of its required keys.
func TestNoCascade(t *testing.T) {
	data := "server: [a]\nliveengage:\n  account_id: \"1\"\n  client_id: c\n  client_secret: s\nchannels:\n  - just-a-name\n"
	_, _, err := Parse("c.yaml", []byte(data), nil)
	want := "c.yaml:1:1: server: expected a mapping (key: value lines), got a list\n" +
		"c.yaml:7:5: channels[0]: expected a mapping (key: value lines), got a single value"
	if err == nil || err.Error() != want {
		t.Errorf("error =\n%v\nwant\n%s", err, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "connector.yaml")
	data := "server:\n  public_url: https://x.example\nliveengage:\n  account_id: \"1\"\n  client_id: c\n  client_secret: ${SECRET}\nchannels: []\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(path, WithLookupEnv(fakeEnv(map[string]string{"SECRET": "v"})))
	if err != nil {
		t.Fatal(err)
	}
	if c.LiveEngage.ClientSecret != "v" || c.Store.Path != filepath.Join(dir, "leconnect.db") {
		t.Errorf("secret %q, store %q", c.LiveEngage.ClientSecret, c.Store.Path)
	}
	_, _, err = Load(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml: cannot read the config file: no such file") {
		t.Errorf("error = %v", err)
	}
}

// aliasBomb nests aliases so the config block expands to 10^6 values.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("channels:\n  - name: a\n    adapter: t\n    config:\n")
	b.WriteString("      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 6; i++ {
		fmt.Fprintf(&b, "      l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	return b.String()
}

func TestPartialResult(t *testing.T) {
	c, _, err := parseTestdata(t, "multiple_problems.yaml", WithPartialResult())
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not Problems", err)
	}
	if c == nil || len(c.Channels) != 2 || c.Channels[1].Name != "ok-channel" {
		t.Fatalf("partial config = %+v, want both channels decoded", c)
	}
	tests := []struct {
		path string
		want bool
	}{
		{"channels[0]", true},
		{"channels[1]", true},
		{"channels[1].config", false},
		{"channels", true},
		{"server", true},
		{"server.listen", false},
		{"log.level", true},
		{"log.lev", false},
	}
	for _, tt := range tests {
		if got := ps.Under(tt.path); got != tt.want {
			t.Errorf("Under(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestProblemsSort(t *testing.T) {
	ps := Problems{
		{Pos: Position{File: "f", Line: 9, Column: 1}, Message: "c"},
		{Pos: Position{File: "f", Line: 2, Column: 7}, Message: "b"},
		{Pos: Position{File: "f", Line: 2, Column: 3}, Message: "a"},
	}
	ps.Sort()
	if got := ps.Error(); got != "f:2:3: a\nf:2:7: b\nf:9:1: c" {
		t.Errorf("sorted = %q", got)
	}
}

func TestAccessors(t *testing.T) {
	c, _, err := parseTestdata(t, "minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Position", func(t *testing.T) {
		tests := []struct {
			path      string
			line, col int
		}{
			{"liveengage.client_secret", 7, 3},
			{"channels[0].adapter", 10, 5},
			{"channels[0].restart.window", 9, 5}, // not in the file: its channel
			{"store.path", 2, 1},                 // no store section: the top-level mapping (after the comment)
		}
		for _, tt := range tests {
			if p := c.Position(tt.path); p.Line != tt.line || p.Column != tt.col {
				t.Errorf("Position(%q) = %s, want line %d col %d", tt.path, p, tt.line, tt.col)
			}
		}
	})
	t.Run("Problem", func(t *testing.T) {
		err := error(Problems{c.Problem("store.path", "cannot open: locked")})
		var p Problem
		if !errors.As(err, &p) || p.Path != "store.path" || !strings.HasSuffix(p.Error(), "minimal.yaml:2:1: store.path: cannot open: locked") {
			t.Errorf("problem = %v", p)
		}
	})
	t.Run("Channel", func(t *testing.T) {
		if ch, ok := c.Channel("support-telegram"); !ok || ch.Adapter != "telegram" {
			t.Errorf("Channel(support-telegram) = %v, %v", ch, ok)
		}
		if _, ok := c.Channel("nope"); ok {
			t.Error("Channel(nope) found")
		}
	})
	t.Run("Log", func(t *testing.T) {
		if c.Log.HCLogLevel() != hclog.Info || c.Log.JSON() {
			t.Errorf("log = %v json %v", c.Log.HCLogLevel(), c.Log.JSON())
		}
	})
}

// A DSN that does not parse is reported without its value: it may hold a
// password.
func TestBadDSNIsNotEchoed(t *testing.T) {
	_, _, err := parseTestdata(t, "bad_store.yaml")
	if err == nil || strings.Contains(err.Error(), "secret-password-here") {
		t.Fatalf("error %v; want one that does not show the DSN", err)
	}
}
