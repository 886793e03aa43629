package config

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"
)

const examplePath = "../../connector.yaml.example"

// requiredPaths have no default; the example shows a placeholder for them instead.
var requiredPaths = []string{
	"server.public_url", "liveengage.account_id", "liveengage.client_id", "liveengage.client_secret",
	"channels[0].name", "channels[0].adapter",
}

func TestExampleIsValid(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	c, warnings, err := Parse(examplePath, data, fakeEnv(testEnv), WithBuiltinAdapters("telegram"))
	if err != nil {
		t.Fatalf("connector.yaml.example is invalid:\n%v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("connector.yaml.example has warnings: %v", warnings)
	}
	if len(c.Channels) != 1 || c.Channels[0].Adapter != "telegram" {
		t.Fatalf("want one telegram channel, got %+v", c.Channels)
	}
	want := `{"bot_token":"123456:telegram-token-value","mode":"webhook","secret_token":"telegram-webhook-secret-value"}`
	if got := string(c.Channels[0].Config.JSON()); got != want {
		t.Errorf("telegram config JSON = %s, want %s", got, want)
	}

	// Every key of the schema is written out, and every key that has a default shows it.
	defaults := &Config{dir: c.dir}
	defaults.setDefaults()
	defaults.Store.Path = defaults.resolve(defaults.Store.Path)
	defaults.Channels = make([]Channel, 1)
	defaults.Channels[0].setDefaults()
	for _, path := range leafPaths(reflect.ValueOf(c).Elem(), reflect.ValueOf(defaults).Elem(), "") {
		t.Run(path.path, func(t *testing.T) {
			if _, ok := c.pos[path.path]; !ok {
				t.Errorf("key %s is not shown in the example", path.path)
			}
			if !slices.Contains(requiredPaths, path.path) && !reflect.DeepEqual(path.got, path.def) {
				t.Errorf("example shows %v, but the default is %v", path.got, path.def)
			}
		})
	}
}

type leaf struct {
	path     string
	got, def any
}

// leafPaths walks the schema in parallel over the example and the defaults, yielding every
// scalar key (lists of scalars count as one key; the channel list is walked into).
func leafPaths(got, def reflect.Value, path string) []leaf {
	switch {
	case got.Type() == adapterConfigType:
		return []leaf{{path: path, got: "adapter block", def: "adapter block"}}
	case got.Kind() == reflect.Struct:
		var out []leaf
		for _, f := range schemaFields(got.Type()) {
			out = append(out, leafPaths(got.Field(f.index), def.Field(f.index), joinPath(path, f.key))...)
		}
		return out
	case got.Kind() == reflect.Slice && got.Type().Elem().Kind() == reflect.Struct:
		var out []leaf
		for i := range min(got.Len(), def.Len()) {
			out = append(out, leafPaths(got.Index(i), def.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	default:
		return []leaf{{path: path, got: got.Interface(), def: def.Interface()}}
	}
}
