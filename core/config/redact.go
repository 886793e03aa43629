package config

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// secretPaths are always redacted, whether or not they came from ${VAR}.
var secretPaths = map[string]bool{"liveengage.client_secret": true}

// String renders the effective configuration (defaults applied, paths resolved) as YAML
// with every secret replaced by "<redacted>": liveengage.client_secret and every value that
// came from ${VAR}, including inside channels' config blocks. Safe to log.
func (c *Config) String() string {
	out, err := yaml.Marshal(c.render(reflect.ValueOf(c).Elem(), ""))
	if err != nil {
		// The node tree is built from strings only; failing here is a bug.
		return fmt.Sprintf("<config: %v>", err)
	}
	return string(out)
}

func (c *Config) render(v reflect.Value, path string) *yaml.Node {
	switch {
	case v.Type() == adapterConfigType:
		var n yaml.Node
		// The redacted JSON is valid YAML; unmarshalling keeps key order.
		if err := yaml.Unmarshal(v.Addr().Interface().(*AdapterConfig).RedactedJSON(), &n); err != nil || len(n.Content) == 0 {
			return scalarNode("!!map", "{}")
		}
		setBlockStyle(n.Content[0])
		return n.Content[0]
	case (secretPaths[path] || c.secrets[path]) && !v.IsZero():
		return scalarNode("!!str", redactedValue)
	case v.Type() == durationType:
		return scalarNode("!!str", shortDuration(time.Duration(v.Int())))
	}
	switch v.Kind() {
	case reflect.String:
		return scalarNode("!!str", v.String())
	case reflect.Int, reflect.Int64:
		return scalarNode("!!int", strconv.FormatInt(v.Int(), 10))
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := range v.Len() {
			n.Content = append(n.Content, c.render(v.Index(i), fmt.Sprintf("%s[%d]", path, i)))
		}
		return n
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, f := range schemaFields(v.Type()) {
			kp := joinPath(path, f.key)
			n.Content = append(n.Content, scalarNode("!!str", f.key), c.render(v.Field(f.index), kp))
		}
		return n
	default:
		return scalarNode("!!str", fmt.Sprint(v.Interface()))
	}
}

func scalarNode(tag, value string) *yaml.Node {
	if tag == "!!map" {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: tag, Style: yaml.FlowStyle}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func setBlockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		if len(n.Content) > 0 {
			n.Style = 0
		}
	} else if n.ShortTag() == "!!str" {
		n.Style = 0 // let the encoder quote only where needed
	}
	for _, ch := range n.Content {
		setBlockStyle(ch)
	}
}
