// Package demo is `leconnect demo`: the whole system on loopback in one
// process tree, shown in a browser. It starts the LiveEngage emulator and the
// channel emulators in this process, writes a temporary config and store,
// runs the core in-process (daemon.Run; built-in adapters still run out of
// process, as `leconnect adapter NAME`), and serves one page: the agent
// workspace beside a phone per channel, plus a "traffic" switch that plays
// scripted consumers and an agent so the live view and /metrics show load.
//
// Where to start reading:
//   - demo.go: Options and Run, the start and shutdown order.
//   - config.go: the generated connector.yaml and the demo's fixed secrets.
//   - phone.go: the Phone interface (one per channel) and the Telegram phone.
//   - server.go: the page's HTTP API under /demo/api/ and the SSE streams.
//   - traffic.go: the scripted consumers and agent.
//   - web/: the page itself (plain HTML, JS and CSS, embedded).
//
// Adding a channel (Slack, SMS): start its emulator in Run, add its channel
// block in config.go, and register a Phone for it; the page draws one phone
// per entry of /demo/api/phones.
package demo
