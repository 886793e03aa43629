package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Config is a channel's own config block, as the core read it from its YAML
// file (with ${VAR} references expanded).
type Config struct {
	raw json.RawMessage
}

// NewConfig wraps a JSON object; tests use it to build a Setup.
func NewConfig(jsonObject []byte) Config { return Config{raw: jsonObject} }

// JSON returns the block as a JSON object ("{}" when empty).
func (c Config) JSON() []byte {
	if len(bytes.TrimSpace(c.raw)) == 0 || bytes.Equal(bytes.TrimSpace(c.raw), []byte("null")) {
		return []byte("{}")
	}
	return c.raw
}

// Decode strictly decodes the block into v, a pointer to a struct with json
// tags. Every key v does not declare is reported, and so is a value of the
// wrong type, as [FieldErrors] naming the key.
func (c Config) Decode(v any) error {
	data := c.JSON()
	var fe FieldErrors
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return FieldErrors{{Message: fmt.Sprintf("expected a mapping of keys to values: %v", err)}}
	}
	known := jsonFieldNames(reflect.TypeOf(v))
	if known != nil {
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if _, ok := known[k]; !ok {
				fe.Add(k, "unknown key (expected one of: %s)", strings.Join(sortedKeys(known), ", "))
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // nested structs: the first unknown key only
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			fe.Add(te.Field, "expected %s, got a JSON %s", describeType(te.Type), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			if len(fe) == 0 { // nested unknown key; top-level ones are listed already
				fe.Add(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown key")
			}
		default:
			fe.Add("", "%v", err)
		}
	}
	return fe.Err()
}

func jsonFieldNames(t reflect.Type) map[string]struct{} {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]struct{}{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = struct{}{}
	}
	return names
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// FieldError is one problem with one key of a channel's config block.
type FieldError struct {
	Field   string // dotted path inside the block, e.g. "bot_token"; "" for the block
	Message string // what is wrong and what is expected
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// FieldErrors collects every problem Configure found. Return it (via Err) so
// the core can point at the line of each key in its YAML file.
type FieldErrors []FieldError

// Add records a problem with field.
func (fe *FieldErrors) Add(field, format string, args ...any) {
	*fe = append(*fe, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Merge appends the problems of err when it holds FieldErrors, or records err
// against the block as a whole otherwise.
func (fe *FieldErrors) Merge(err error) {
	if err == nil {
		return
	}
	var other FieldErrors
	if errors.As(err, &other) {
		*fe = append(*fe, other...)
		return
	}
	fe.Add("", "%v", err)
}

// Duration parses an optional duration key: "" gives def; a value that is
// not a duration between lo and hi is recorded as a problem and gives def.
func (fe *FieldErrors) Duration(field, value string, def, lo, hi time.Duration) time.Duration {
	if value == "" {
		return def
	}
	d, err := time.ParseDuration(value)
	if err != nil || d < lo || d > hi {
		fe.Add(field, "must be a duration between %s and %s such as %q, got %q", lo, hi, def.String(), value)
		return def
	}
	return d
}

// Err returns nil when there are no problems, else fe itself.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return fe
}

func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}
