package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.v3 node tree into the schema structs itself, rather than using
// yaml.Unmarshal, so that every problem carries a key path and a position and so that all
// problems are collected instead of stopping at the first.
type decoder struct {
	file       string
	lookup     LookupEnvFunc
	allowUnset bool
	// unset holds the paths whose values reference unset variables (allowUnset only).
	unset    map[string]bool
	warnings []Problem

	problems []Problem
	// pos maps a dotted key path to the position of its key (or of the list item).
	pos map[string]Position
	// secrets holds the paths whose values came from ${VAR} expansion.
	secrets map[string]bool
	// failed holds the paths that already have a problem, so validation rules do not add a
	// second, misleading one about the default the value fell back to.
	failed map[string]bool
	// blockNodes counts nodes visited in adapter config blocks, where aliases are expanded,
	// so that an alias bomb fails with a problem instead of exhausting memory.
	blockNodes int
}

// maxBlockNodes bounds the size of all adapter config blocks together, aliases expanded.
const maxBlockNodes = 100_000

// defaulter is implemented by list elements that have per-element defaults (channels);
// the decoder calls it on each new element before filling it from the file.
type defaulter interface{ setDefaults() }

var (
	durationType      = reflect.TypeFor[time.Duration]()
	adapterConfigType = reflect.TypeFor[AdapterConfig]()
)

func (d *decoder) at(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line, Column: n.Column}
}

func (d *decoder) problemf(pos Position, path, format string, args ...any) {
	d.failed[path] = true
	d.problems = append(d.problems, Problem{Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
}

// expand expands a scalar's ${VAR} references, reporting problems, and recording values
// that reference unset variables when those are allowed.
func (d *decoder) expand(s, path string, pos Position) expansion {
	e := expand(s, d.lookup, d.allowUnset)
	for _, msg := range e.problems {
		d.problemf(pos, path, "%s", msg)
	}
	for _, name := range e.unset {
		d.unset[path] = true
		d.warnings = append(d.warnings, Problem{Pos: pos, Path: path, Message: fmt.Sprintf(
			"environment variable %s is not set; checks of this value are skipped, and leconnect run refuses to start until it is set", name)})
	}
	return e
}

// resolveAlias follows *anchor references; the parser has already rejected unknown anchors.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindName names what the file holds, for "expected X, got Y" messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// decode fills v from n. pos is where problems about this value are reported: the key's
// position for mapping entries, the item's for list items.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, pos Position) {
	n = resolveAlias(n)
	if isNull(n) {
		// An empty value ("key:" or "key: ~") means "not set": the default stays and
		// required-value checks report it.
		return
	}
	switch {
	case v.Type() == adapterConfigType:
		v.Addr().Interface().(*AdapterConfig).decode(d, n, path, pos)
		return
	case v.Type() == durationType:
		// The default, when there is one, makes the best example of what is expected.
		example := time.Duration(v.Int())
		if example <= 0 {
			example = 10 * time.Second
		}
		e, ok := d.scalar(n, path, pos, "a duration such as "+shortDuration(example))
		if !ok {
			return
		}
		dur, err := time.ParseDuration(strings.TrimSpace(e.value))
		if err != nil {
			d.problemf(pos, path, "%s is not a duration; expected e.g. %s", e.describe(), shortDuration(example))
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.String:
		if e, ok := d.scalar(n, path, pos, "a string"); ok {
			v.SetString(e.value)
		}
	case reflect.Int, reflect.Int64:
		example := v.Int()
		if example <= 0 {
			example = 5
		}
		e, ok := d.scalar(n, path, pos, fmt.Sprintf("a whole number such as %d", example))
		if !ok {
			return
		}
		i, err := strconv.ParseInt(strings.TrimSpace(e.value), 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.problemf(pos, path, "%s is not a whole number; expected an integer such as %d", e.describe(), example)
			return
		}
		v.SetInt(i)
	case reflect.Slice:
		d.sequence(n, v, path, pos)
	case reflect.Struct:
		d.mapping(n, v, path, pos)
	default:
		// Only reachable if the schema gains a field type the decoder does not know.
		panic(fmt.Sprintf("config: unsupported schema type %s at %s", v.Type(), path))
	}
}

// scalar returns the expanded text of a scalar node, reporting a problem when the file
// holds a list or mapping instead, or when ${VAR} expansion fails.
func (d *decoder) scalar(n *yaml.Node, path string, pos Position, expected string) (expansion, bool) {
	if n.Kind != yaml.ScalarNode {
		d.problemf(pos, path, "expected %s, got %s", expected, kindName(n))
		return expansion{}, false
	}
	e := d.expand(n.Value, path, pos)
	if len(e.vars) > 0 {
		d.secrets[path] = true
	}
	return e, len(e.problems) == 0
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string, pos Position) {
	if n.Kind != yaml.SequenceNode {
		d.problemf(pos, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		elem := s.Index(i)
		if df, ok := elem.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
		itemPath := fmt.Sprintf("%s[%d]", path, i)
		itemPos := d.at(item)
		d.pos[itemPath] = itemPos
		d.decode(item, elem, itemPath, itemPos)
	}
	v.Set(s)
}

// schemaField is one YAML key of a schema struct.
type schemaField struct {
	key   string
	index int
}

// schemaFields lists the YAML keys of a struct in declaration order, which is also the
// order the "expected one of" hint and the example file use.
func schemaFields(t reflect.Type) []schemaField {
	var fs []schemaField
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		fs = append(fs, schemaField{key: key, index: i})
	}
	return fs
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string, pos Position) {
	if n.Kind != yaml.MappingNode {
		d.problemf(pos, path, "expected a mapping (key: value lines), got %s", kindName(n))
		return
	}
	fields := schemaFields(v.Type())
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolveAlias(n.Content[i]), n.Content[i+1]
		kpos := d.at(k)
		key, ok := d.key(k, path, kpos)
		if !ok {
			continue
		}
		kp := joinPath(path, key)
		if line, dup := seen[key]; dup {
			d.problemf(kpos, kp, "duplicate key %q (first set at line %d); expected each key once", key, line)
			continue
		}
		seen[key] = k.Line
		idx := slices.Index(keys, key)
		if idx < 0 {
			msg := fmt.Sprintf("unknown key %q (expected one of: %s)", key, strings.Join(keys, ", "))
			if s := suggest(key, keys); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.problemf(kpos, kp, "%s", msg)
			continue
		}
		d.pos[kp] = kpos
		d.decode(val, v.Field(fields[idx].index), kp, kpos)
	}
}

// key validates a mapping key: a plain string, and not a YAML merge key, which would
// make key positions ambiguous.
func (d *decoder) key(k *yaml.Node, path string, pos Position) (string, bool) {
	if k.Kind != yaml.ScalarNode {
		d.problemf(pos, path, "a key is %s; expected a plain name", kindName(k))
		return "", false
	}
	if k.ShortTag() == "!!merge" {
		d.problemf(pos, path, "merge keys (<<) are not supported; expected the keys written out")
		return "", false
	}
	return k.Value, true
}

// suggest returns the known key closest to a misspelt one, if it is close enough to be a typo.
func suggest(key string, keys []string) string {
	best, bestDist := "", 3
	for _, k := range keys {
		if dist := editDistance(strings.ToLower(key), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein (optimal string alignment) distance, so a
// transposition such as "listne" → "listen" counts as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// shortDuration formats durations the way people write them in the file: 2m rather than 2m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
