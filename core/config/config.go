package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Option adjusts Load and Parse.
type Option func(*options)

type options struct {
	builtinAdapters []string
	lookupEnv       LookupEnvFunc
	lookupEnvSet    bool
	partial         bool
	allowUnset      bool
}

// WithBuiltinAdapters names the adapters built into the daemon. A channel without `path`
// must use one of them; without this option no built-in adapter is known.
func WithBuiltinAdapters(names ...string) Option {
	return func(o *options) { o.builtinAdapters = append(o.builtinAdapters, names...) }
}

// WithLookupEnv replaces os.LookupEnv for Load (Parse takes the function as an argument).
func WithLookupEnv(lookup LookupEnvFunc) Option {
	return func(o *options) { o.lookupEnv, o.lookupEnvSet = lookup, true }
}

// WithPartialResult makes Load and Parse return the config decoded so far even when it
// has problems (bad values keep their defaults), so `leconnect validate` can still launch
// and Configure the channels that have no problem of their own (see Problems.Under) and
// report everything in one run. Never serve with a partial config.
func WithPartialResult() Option {
	return func(o *options) { o.partial = true }
}

// WithUnsetVariablesAsWarnings reports ${VAR} references to unset variables as warnings
// instead of problems, keeping their ${NAME} text as the value, so a file can be validated
// where its secrets are not available (a CI job, a laptop). Use FromUnsetVariable to skip
// checks of such values. Never serve with such a config.
func WithUnsetVariablesAsWarnings() Option {
	return func(o *options) { o.allowUnset = true }
}

// Load reads, expands, decodes and validates the file at path, using the process
// environment for ${VAR}. It returns the config, warnings (also when invalid) and, when the
// file is invalid, a Problems error listing every problem.
func Load(path string, opts ...Option) (*Config, []Problem, error) {
	o := newOptions(opts)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, Problems{{Pos: Position{File: path}, Message: fmt.Sprintf("cannot read the config file: %s", readReason(err))}}
	}
	lookup := LookupEnvFunc(os.LookupEnv)
	if o.lookupEnvSet {
		lookup = o.lookupEnv
	}
	return parse(path, data, lookup, o)
}

// Parse is Load for data already in memory. filename is used in positions and its folder
// anchors relative paths (store.path, server.tls.*, channels[].path). lookupEnv resolves
// ${VAR}; nil means no variable is set.
func Parse(filename string, data []byte, lookupEnv LookupEnvFunc, opts ...Option) (*Config, []Problem, error) {
	return parse(filename, data, lookupEnv, newOptions(opts))
}

func newOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

func readReason(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "no such file"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	default:
		return err.Error()
	}
}

func parse(filename string, data []byte, lookup LookupEnvFunc, o *options) (*Config, []Problem, error) {
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		return nil, nil, fmt.Errorf("resolve config folder: %w", err)
	}
	root, problem := parseYAML(filename, data)
	if problem != nil {
		return nil, nil, Problems{*problem}
	}

	c := &Config{file: filename, dir: dir}
	c.setDefaults()
	d := &decoder{file: filename, lookup: lookup, allowUnset: o.allowUnset, unset: map[string]bool{},
		pos: map[string]Position{}, secrets: map[string]bool{}, failed: map[string]bool{}}
	d.pos[""] = Position{File: filename, Line: 1, Column: 1}
	if root != nil {
		d.pos[""] = d.at(root)
		d.decode(root, reflect.ValueOf(c).Elem(), "", d.pos[""])
	}
	c.pos, c.secrets, c.unset = d.pos, d.secrets, d.unset

	// Rules run even when decoding found problems, so one pass reports everything; a value
	// that failed to decode keeps its default and so adds no second, misleading problem.
	v := &validator{c: c, opts: o, failed: d.failed}
	v.validate()
	problems := append(d.problems, v.problems...)
	v.warnings = append(d.warnings, v.warnings...)
	sortProblems(problems)
	sortProblems(v.warnings)
	if len(problems) > 0 {
		if o.partial {
			return c, v.warnings, Problems(problems)
		}
		return nil, v.warnings, Problems(problems)
	}
	return c, v.warnings, nil
}

// parseYAML returns the single document's root node (nil for an empty file). yaml.v3's
// syntax errors carry their own line in the message; they are passed on unchanged.
func parseYAML(filename string, data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, &Problem{Pos: Position{File: filename}, Message: fmt.Sprintf("not valid YAML: %v", err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := 0
		if err == nil {
			line = extra.Line
		}
		return nil, &Problem{Pos: Position{File: filename, Line: line, Column: 1}, Message: "a second YAML document (---); expected exactly one document"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// File is the config file name as given to Load or Parse.
func (c *Config) File() string { return c.file }

// Position returns where a dotted key path (e.g. "store.path", "channels[0].adapter") is
// set in the file, or its nearest present parent, so the daemon can point runtime errors
// (a store that will not open, an adapter that will not start) at the right line.
func (c *Config) Position(path string) Position { return c.where(path) }

// FromUnsetVariable reports whether the value at a dotted key path (e.g.
// "channels[0].config.bot_token") references a variable that was unset when the file was
// loaded with WithUnsetVariablesAsWarnings.
func (c *Config) FromUnsetVariable(path string) bool { return c.unset[path] }

// Problem builds a Problem located at a key path, for errors the daemon finds later.
func (c *Config) Problem(path, message string) Problem {
	return Problem{Pos: c.where(path), Path: path, Message: message}
}

// LivePersonWebhookURL is where LiveEngage delivers notifications.
func (c *Config) LivePersonWebhookURL() string {
	return c.Server.PublicURL + "/webhooks/liveperson"
}

// ChannelWebhookURL is where a channel's platform delivers webhooks.
func (c *Config) ChannelWebhookURL(name string) string {
	return c.Server.PublicURL + "/channels/" + name + "/webhook"
}

// Channel returns the channel with the given name.
func (c *Config) Channel(name string) (*Channel, bool) {
	for i := range c.Channels {
		if c.Channels[i].Name == name {
			return &c.Channels[i], true
		}
	}
	return nil, false
}
