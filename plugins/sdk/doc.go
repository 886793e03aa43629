// Package sdk is the only package an adapter author imports to connect a
// messaging channel to leconnect.
//
// An adapter is a separate process. Implement [Adapter] (plus any of the
// optional one-method interfaces: [TypingSetter], [ReadMarker],
// [HealthChecker], and [net/http.Handler] for platform webhooks), then call
// [Serve] from main:
//
//	func main() { sdk.Serve(myadapter.New()) }
//
// The core launches the binary, calls Describe and Configure, then Start with
// a [Host] through which the adapter delivers inbound [Event]s. Host.Deliver
// returns only after the core has stored the events durably: acknowledge the
// platform (answer its webhook, advance a polling offset) only after it
// returns nil. That is how "acknowledged" comes to mean "will not be lost".
//
// Errors crossing the process boundary keep their meaning: return
// [RetryAfter], [Permanent] or [NotConnected] from Send and friends; any other
// error is treated as transient.
//
// Where to read next: adapter.go (the contract), errors.go (the error
// vocabulary), serve.go. The conformance suite every adapter should run from
// its own tests is in package adaptertest. The host side of the protocol
// ([Dispense], [AdapterClient]) is used by the core; adapter authors do not
// need it.
package sdk
