// Package storetest is the conformance suite every store.Store implementation
// passes: the embedded bolt store and the in-memory fake run the same tests,
// so the fake used by engine unit tests cannot drift from the real thing.
//
// Start reading at Run. Implementation-specific behaviour (reopening, crash
// safety, file locking, schema checks) is tested next to the implementation.
package storetest
