// Command emulatorcmd runs liveengage.RunCommand exactly as
// `leconnect emulator` does. It exists so the emulator can be load-tested
// (see ../loadtest) without the leconnect binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/leconnect/leconnect/emulator/liveengage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := liveengage.RunCommand(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
