// Package builtin lists the adapters compiled into the leconnect binary. The
// core runs each of them out of process all the same, by re-executing itself
// as `leconnect adapter <name>`, so a crashing adapter cannot take the core
// down with it.
package builtin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/slack"
	"github.com/leconnect/leconnect/plugins/sms"
	"github.com/leconnect/leconnect/plugins/telegram"
)

// adapters maps each built-in adapter's name to its constructor.
var adapters = map[string]func() sdk.Adapter{
	"slack":    func() sdk.Adapter { return slack.New() },
	"sms":      func() sdk.Adapter { return sms.New() },
	"telegram": func() sdk.Adapter { return telegram.New() },
}

// Names lists the built-in adapters, sorted.
func Names() []string {
	names := make([]string, 0, len(adapters))
	for n := range adapters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Serve runs the named built-in adapter in this process; it does not return
// unless the name is unknown.
func Serve(name string) error {
	newAdapter, ok := adapters[name]
	if !ok {
		return fmt.Errorf("no built-in adapter %q (built-in adapters: %s)", name, strings.Join(Names(), ", "))
	}
	sdk.Serve(newAdapter())
	return nil
}
