// Package e2e holds the end-to-end tests: the real leconnect binary, its
// adapters as real subprocesses, and the LiveEngage and platform emulators,
// all on loopback. harness_test.go starts and stops the pieces; each test
// file drives one story through them.
package e2e
