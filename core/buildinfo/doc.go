// Package buildinfo says which leconnect this is: the version, commit and
// build date stamped at build time (`make release` and the Dockerfile set
// them with -ldflags -X), else what the Go toolchain recorded (the module
// version of a `go install`, the VCS revision, time and dirty flag of a
// `go build` in a git checkout). `leconnect version` prints it and /metrics
// exports it as leconnect_build_info.
package buildinfo
