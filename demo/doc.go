// Package demo is `leconnect demo`: the whole system on loopback in one
// process tree, shown in a browser. It starts the LiveEngage emulator and the
// channel emulators (Telegram, Slack over the Events API, SMS through
// Twilio) in this process, writes a temporary config and store, runs the
// core in-process (daemon.Run; built-in adapters still run out of process,
// as `leconnect adapter NAME`), and serves one page: the agent workspace
// beside a phone per channel, plus a "traffic" switch that plays scripted
// consumers on every channel and an agent so the live view and /metrics
// show load.
//
// Where to start reading:
//   - demo.go: Options and Run, the start and shutdown order.
//   - config.go: the generated connector.yaml and the demo's fixed secrets.
//   - phone.go: the Phone interface (one per channel) and the Telegram
//     phone; slackphone.go and smsphone.go: the Slack and SMS phones.
//   - server.go: the page's HTTP API under /demo/api/ and the SSE streams.
//   - traffic.go: the scripted consumers and agent.
//   - web/: the page (plain HTML, JS and CSS, embedded). The agent
//     workspace in it is the LiveEngage emulator's own
//     (emulator/liveengage/workspace, served under /emulator/), which
//     `leconnect emulator` serves alone; web/ adds the phones, the traffic
//     switch and the metrics.
//
// Adding a channel: start its emulator in Run, add its channel block and
// secrets in config.go, register a Phone for it (MediaPhone too if the
// business can send pictures), and give the traffic a consumerLine for it;
// the page draws one phone per entry of /demo/api/info.
package demo
