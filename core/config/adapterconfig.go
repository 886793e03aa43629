package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// redactedValue replaces secret values in Config.String and AdapterConfig.RedactedJSON.
const redactedValue = "<redacted>"

// AdapterConfig is a channel's own `config:` block, passed through verbatim to the
// adapter's Configure. Keys are not checked here (they are the adapter's business) but
// ${VAR} expansion applies and duplicate keys are errors.
type AdapterConfig struct {
	path     string   // "channels[0].config"
	pos      Position // the `config:` key, the fallback for unknown field paths
	json     []byte
	redacted []byte
	fields   map[string]Position // relative field path ("webhook.secret", "numbers[2]") → position
}

// JSON returns the block as a JSON object, after ${VAR} expansion. YAML integers, floats,
// booleans and nulls keep their types; a value that contained ${VAR} or $$ is always a
// string. It contains secrets: hand it to the adapter, never to a log.
func (a AdapterConfig) JSON() []byte {
	if a.json == nil {
		return []byte("{}")
	}
	return bytes.Clone(a.json)
}

// RedactedJSON is JSON with every value that came from ${VAR} replaced by "<redacted>";
// safe to log.
func (a AdapterConfig) RedactedJSON() []byte {
	if a.redacted == nil {
		return []byte("{}")
	}
	return bytes.Clone(a.redacted)
}

// Position maps a field path reported by the adapter (e.g. "bot_token", "webhook.secret",
// "numbers[2]") to its place in the file. Unknown paths fall back to their nearest known
// parent, and finally to the `config:` key itself.
func (a AdapterConfig) Position(field string) Position {
	field = strings.TrimPrefix(field, ".")
	for field != "" {
		if p, ok := a.fields[field]; ok {
			return p
		}
		cut := strings.LastIndexAny(field, ".[")
		if cut < 0 {
			break
		}
		field = field[:cut]
	}
	return a.pos
}

// Problem turns an adapter's field error into a config problem, e.g.
// "connector.yaml:40:7: channels[0].config.bot_token: must not be empty".
func (a AdapterConfig) Problem(field, message string) Problem {
	path := a.path
	if f := strings.TrimPrefix(field, "."); f != "" {
		if strings.HasPrefix(f, "[") {
			path += f
		} else {
			path += "." + f
		}
	}
	return Problem{Pos: a.Position(field), Path: path, Message: message}
}

// decode converts the block into JSON (plain and redacted) in a single pass, recording
// the position of every key and list item on the way.
func (a *AdapterConfig) decode(d *decoder, n *yaml.Node, path string, pos Position) {
	a.path, a.pos = path, pos
	a.fields = map[string]Position{}
	if n.Kind != yaml.MappingNode {
		d.problemf(pos, path, "expected a mapping (the adapter's own settings), got %s", kindName(n))
		return
	}
	var plain, red bytes.Buffer
	if !a.value(d, n, "", &plain, &red) {
		return
	}
	a.json, a.redacted = plain.Bytes(), red.Bytes()
}

func (a *AdapterConfig) fullPath(rel string) string {
	switch {
	case rel == "":
		return a.path
	case strings.HasPrefix(rel, "["):
		return a.path + rel
	default:
		return a.path + "." + rel
	}
}

// value writes one node as JSON to both buffers; it reports whether the node was valid.
func (a *AdapterConfig) value(d *decoder, n *yaml.Node, rel string, plain, red *bytes.Buffer) bool {
	n = resolveAlias(n)
	if d.blockNodes++; d.blockNodes > maxBlockNodes {
		if d.blockNodes == maxBlockNodes+1 {
			d.problemf(a.pos, a.path, "more than %d values once aliases are expanded; expected a smaller block", maxBlockNodes)
		}
		return false
	}
	pos := a.fields[rel]
	if rel == "" {
		pos = a.pos
	}
	switch n.Kind {
	case yaml.MappingNode:
		ok := true
		seen := map[string]int{}
		plain.WriteByte('{')
		red.WriteByte('{')
		first := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolveAlias(n.Content[i])
			kpos := d.at(k)
			key, valid := d.key(k, a.fullPath(rel), kpos)
			if !valid {
				ok = false
				continue
			}
			krel := joinPath(rel, key)
			if line, dup := seen[key]; dup {
				d.problemf(kpos, a.fullPath(krel), "duplicate key %q (first set at line %d); expected each key once", key, line)
				ok = false
				continue
			}
			seen[key] = k.Line
			a.fields[krel] = kpos
			if !first {
				plain.WriteByte(',')
				red.WriteByte(',')
			}
			first = false
			kj, _ := marshalJSON(key) // marshalling a string cannot fail
			plain.Write(kj)
			plain.WriteByte(':')
			red.Write(kj)
			red.WriteByte(':')
			ok = a.value(d, n.Content[i+1], krel, plain, red) && ok
		}
		plain.WriteByte('}')
		red.WriteByte('}')
		return ok
	case yaml.SequenceNode:
		ok := true
		plain.WriteByte('[')
		red.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				plain.WriteByte(',')
				red.WriteByte(',')
			}
			irel := fmt.Sprintf("%s[%d]", rel, i)
			a.fields[irel] = d.at(item)
			ok = a.value(d, item, irel, plain, red) && ok
		}
		plain.WriteByte(']')
		red.WriteByte(']')
		return ok
	default:
		return a.scalar(d, n, rel, pos, plain, red)
	}
}

func (a *AdapterConfig) scalar(d *decoder, n *yaml.Node, rel string, pos Position, plain, red *bytes.Buffer) bool {
	path := a.fullPath(rel)
	e := d.expand(n.Value, path, pos)
	if len(e.problems) > 0 {
		return false
	}
	if e.changed {
		// Text that went through expansion is a string: a numeric-looking token must not
		// silently turn into a number.
		j, _ := marshalJSON(e.value)
		plain.Write(j)
		if len(e.vars) > 0 {
			d.secrets[path] = true
			j, _ = marshalJSON(redactedValue)
		}
		red.Write(j)
		return true
	}
	var v any = n.Value
	switch n.ShortTag() {
	case "!!null", "!!bool", "!!int", "!!float":
		if err := n.Decode(&v); err != nil {
			d.problemf(pos, path, "%s cannot be read as %s; expected a plain value", strconv.Quote(n.Value), strings.TrimPrefix(n.ShortTag(), "!!"))
			return false
		}
	}
	j, err := marshalJSON(v)
	if err != nil {
		// .inf and .nan are valid YAML floats but have no JSON form.
		d.problemf(pos, path, "%s cannot be represented in JSON; expected a finite number or a quoted string", strconv.Quote(n.Value))
		return false
	}
	plain.Write(j)
	red.Write(j)
	return true
}

// marshalJSON is json.Marshal without HTML escaping, so values reach the adapter (and the
// redacted form the log) as written: "<redacted>", not "\u003credacted\u003e".
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
