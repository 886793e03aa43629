// Package contract holds the emulators' contract tests with the platforms'
// official client libraries: grammY for Telegram, @slack/web-api and
// @slack/bolt for Slack, twilio and @vonage/server-sdk for SMS. They are
// Node tests (*.test.mjs, their own package.json and lockfile); the Go test
// here starts the emulators and runs them, so the README's test command
// covers them. Without Node or node_modules (npm ci in this directory) it
// skips and says so, except under CI=true, where it fails.
//
// Nobody here wrote those libraries: where they and an emulator disagree,
// the emulator is the one to fix (docs/emulator.md).
package contract
