// Package bench is `leconnect bench`: it floods the core (a `leconnect run`
// subprocess with the embedded or the PostgreSQL store and the built-in
// Telegram adapter) with messages each way between the Telegram and
// LiveEngage emulators, then does the same through a bare relay (plain Go,
// the same HTTP hops to the same emulators, no store, no plugin) in the
// same run, and reports throughput, latency and cost per message side by
// side, so that a figure means the same on a machine whose speed drifts.
//
// Latency is measured outside both: from the moment the load generator
// hands a message to one emulator to the moment the other emulator has
// answered the request that carries it on (LiveEngage's publish, Telegram's
// sendMessage), matched by a marker in the text.
//
// With --idle N it measures the core at rest instead (Idle): cold start to
// ready with the three built-in adapters, resident memory, and store bytes,
// on an empty store and on one holding N mapped conversations.
package bench
