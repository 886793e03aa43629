// Package cli is the leconnect command line: one binary with the subcommands
// run, validate, manifest, emulator, adapter and version. Each subcommand
// parses its own flags and returns an error; Main maps errors to exit codes.
// Start reading at [Main].
package cli
