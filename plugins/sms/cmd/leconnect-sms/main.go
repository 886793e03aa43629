// Command leconnect-sms is the SMS channel adapter (Twilio or Vonage) as a
// process the leconnect core launches.
package main

import (
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sms"
)

func main() { sdk.Serve(sms.New()) }
