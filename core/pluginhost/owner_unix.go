//go:build unix

package pluginhost

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// ErrUnsafeBinary is wrapped by the error of a binary others could replace.
var ErrUnsafeBinary = errors.New("unsafe adapter binary")

// safeOwnership refuses a binary that someone other than root or the user
// running leconnect could replace: it would run with the core's trust (and
// receive the channel's secrets) whatever its pin says by the next restart.
func safeOwnership(channel, path string, info fs.FileInfo) error {
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("channel %q: adapter binary %s is group- or world-writable (mode %04o); refusing to run it; fix: chmod go-w %s: %w",
			channel, path, perm, path, ErrUnsafeBinary)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Getuid(); st.Uid != 0 && int(st.Uid) != uid {
		return fmt.Errorf("channel %q: adapter binary %s is owned by uid %d, neither root nor the user running leconnect (uid %d); refusing to run it; fix: chown root (or uid %d) %s: %w",
			channel, path, st.Uid, uid, uid, path, ErrUnsafeBinary)
	}
	return nil
}
