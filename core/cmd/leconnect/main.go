// Command leconnect is the LiveEngage connector daemon and its tools.
package main

import (
	"os"

	"github.com/leconnect/leconnect/core/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
