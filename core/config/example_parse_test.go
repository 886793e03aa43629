package config_test

import (
	"fmt"

	"github.com/leconnect/leconnect/core/config"
)

// A file with an unknown key, a missing required value and a wrongly typed value: every
// problem is reported, each with its line and key.
func ExampleParse() {
	data := []byte(`server:
  listne: 127.0.0.1:9090
  public_url: https://connector.example.com
  read_timeout: ten
liveengage:
  account_id: "12345678"
  client_secret: ${LE_CLIENT_SECRET}
channels:
  - name: support-telegram
    adapter: telegram
    config:
      bot_token: ${TELEGRAM_BOT_TOKEN}
`)
	env := map[string]string{"LE_CLIENT_SECRET": "s3cret"}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	_, _, err := config.Parse("connector.yaml", data, lookup, config.WithBuiltinAdapters("telegram"))
	fmt.Println(err)
	// Output:
	// connector.yaml:2:3: server.listne: unknown key "listne" (expected one of: listen, public_url, read_timeout, write_timeout, idle_timeout, shutdown_timeout, max_body_bytes, max_in_flight, max_connections, tls, instance_id); did you mean "listen"?
	// connector.yaml:4:3: server.read_timeout: "ten" is not a duration; expected e.g. 10s
	// connector.yaml:5:1: liveengage.client_id: missing required value; expected the connector app's OAuth client id
	// connector.yaml:12:7: channels[0].config.bot_token: environment variable TELEGRAM_BOT_TOKEN is not set; expected it to be set for ${TELEGRAM_BOT_TOKEN}
}

// The daemon hands each channel's block to its adapter and maps the adapter's field
// errors back to the file.
func ExampleAdapterConfig() {
	data := []byte(`server: {public_url: https://connector.example.com}
liveengage: {account_id: "1", client_id: app, client_secret: s}
channels:
  - name: support-telegram
    adapter: telegram
    config:
      mode: webhook
      bot_token: "not-a-token"
`)
	cfg, _, err := config.Parse("connector.yaml", data, nil, config.WithBuiltinAdapters("telegram"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ch := cfg.Channels[0]
	fmt.Println(string(ch.Config.JSON()))
	fmt.Println(ch.Config.Problem("bot_token", "expected <bot id>:<secret>"))
	// Output:
	// {"mode":"webhook","bot_token":"not-a-token"}
	// connector.yaml:8:7: channels[0].config.bot_token: expected <bot id>:<secret>
}
