// Command leconnect-hostile is the hostile test adapter as a standalone
// binary, for the end-to-end containment tests.
package main

import (
	"github.com/leconnect/leconnect/core/pluginhost/testdata/hostile"
	"github.com/leconnect/leconnect/plugins/sdk"
)

func main() { sdk.Serve(hostile.New()) }
