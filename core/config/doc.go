// Package config loads and validates the leconnect daemon's YAML configuration.
//
// The file is decoded strictly: unknown keys, duplicate keys and wrongly typed values are
// errors, and every problem carries the file, line, column and dotted key path
// (e.g. channels[1].routing.skill_id) so an operator can fix all of them in one pass.
// Scalar values may reference environment variables as ${NAME} (use $$ for a literal $);
// values that came from the environment, and liveengage.client_secret, never appear in
// error messages or in Config.String.
//
// Start reading at Load and Parse (config.go), which return a *Config, warnings and a
// Problems error. The schema, its defaults and its validation rules live together in
// schema.go; decode.go is the strict walk over yaml.v3's node tree and expand.go the
// ${VAR} expansion. AdapterConfig (adapterconfig.go) is a channel's own `config:` block,
// handed to the adapter's Configure as JSON, with a way to map the adapter's field errors
// back to file positions. Reloader (reload.go) keeps the last good config when a reload
// (SIGHUP) finds a broken file.
//
// A *Config is immutable after Load: treat its fields and slices as read-only.
package config
