// Command leconnect-telegram is the Telegram channel adapter as a
// standalone adapter binary, launched by the leconnect core.
package main

import (
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/telegram"
)

func main() { sdk.Serve(telegram.New()) }
