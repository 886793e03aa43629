// Package daemon assembles the leconnect core: it loads the config, opens the
// store, launches every channel's adapter under supervision, serves HTTP, and
// on SIGHUP reloads the config (keeping the old one when the new one is
// invalid). Shutdown runs in reverse start order. Start reading at [Run].
package daemon
