// Command leconnect-echo is the echo test adapter as a standalone binary.
package main

import (
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo"
)

func main() { sdk.Serve(echo.New()) }
