package boltstore

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/leconnect/leconnect/core/store"
)

// unwritable wraps a write error the file system gave with
// store.ErrUnwritable, the path and what to do; other errors are returned
// as they are.
func unwritable(path string, err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		// bbolt formats some OS errors into its own with %s ("file resize
		// error: truncate ...: file too large"): find the errno by its text.
		for _, e := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG, syscall.EROFS, syscall.EACCES, syscall.EPERM, syscall.EIO} {
			if strings.HasSuffix(err.Error(), ": "+e.Error()) {
				errno = e
				break
			}
		}
	}
	var why string
	switch errno {
	case syscall.ENOSPC, syscall.EDQUOT:
		why = "the disk is full: free space on it"
	case syscall.EFBIG:
		why = "the file reached its size limit (ulimit -f, LimitFSIZE=): raise it"
	case syscall.EROFS:
		why = "the file system is read-only: mount it read-write or set store.path elsewhere"
	case syscall.EACCES, syscall.EPERM:
		why = "no permission to write it: give the user leconnect runs as write access to the file and its directory"
	case syscall.EIO:
		why = "the disk reported an I/O error: check it (dmesg) before going on"
	default:
		return err
	}
	return fmt.Errorf("store file %s: %w: %s; nothing committed before is lost (%v)", path, store.ErrUnwritable, why, err)
}
