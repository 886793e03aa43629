// Package pluginhost launches channel adapters as separate processes with
// hashicorp/go-plugin (gRPC, AutoMTLS, versioned handshake), verifies
// third-party binaries against their pinned sha256 before they run, gives
// each adapter only its own config (never the core's environment), mirrors
// adapter logs into the core's log tagged with the channel at a bounded
// rate, restarts crashed, hung or unresponsive adapters with backoff until a
// crash budget is spent, and stops them on shutdown without leaving orphans.
// It contains adapters the brand did not write: each channel starts and is
// supervised on its own, every call has a deadline, and what an adapter
// hands the core through Deliver is bounded.
//
// Start reading at [Launch] (run mode: a supervised [Channel], channel.go),
// [Check] (validate mode: Describe and Configure, then stop), and limits.go.
package pluginhost
