// Package pluginhost launches channel adapters as separate processes with
// hashicorp/go-plugin (gRPC, AutoMTLS, versioned handshake), verifies
// third-party binaries against their pinned sha256 before they run, gives
// each adapter only its own config (never the core's environment), mirrors
// adapter logs into the core's log tagged with the channel, restarts crashed
// adapters with backoff until a crash budget is spent, and stops them on
// shutdown without leaving orphans.
//
// Start reading at [Launch] (run mode: a supervised [Channel]) and [Check]
// (validate mode: Describe and Configure, then stop).
package pluginhost
