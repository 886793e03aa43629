// Command leconnect-slack is the Slack channel adapter as a standalone
// adapter binary, launched by the leconnect core.
package main

import (
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/slack"
)

func main() { sdk.Serve(slack.New()) }
