package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/leconnect/leconnect/demo"
)

// demoCommand runs `leconnect demo`: the emulators, the core and the demo
// page on loopback, until Ctrl-C.
func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address of the demo page (host:port; port 0 picks a free one)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable for built-in adapters: %w", err)
	}
	return demo.Run(ctx, demo.Options{Listen: *listen, SelfExe: self, Stdout: stdout})
}
