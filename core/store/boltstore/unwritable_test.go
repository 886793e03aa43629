package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/leconnect/leconnect/core/store"
)

// fillSome commits n items of 500 bytes to conversation "conv".
func fillSome(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Inbound().Enqueue(context.Background(), store.Message{Key: "conv", DedupeKey: fmt.Sprint("before-", i), Payload: make([]byte, 500)}); err != nil {
			t.Fatal(err)
		}
	}
}

func depth(t *testing.T, s *Store) int {
	t.Helper()
	n, err := s.Inbound().Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A full disk (here the file size limit, which fails the file's growth
// like ENOSPC does, without privileges): the write fails with an error
// that names the file and the cause, what was committed stays, and writes
// work again once there is room, with nothing lost across a reopen.
func TestWritesFailClearlyWhenTheDiskIsFull(t *testing.T) {
	p := filepath.Join(t.TempDir(), "full.db")
	s := openT(t, p, Options{})
	fillSome(t, s, 50)
	fi, err := os.Stat(p)
	mustT(t, err)

	var saved syscall.Rlimit
	mustT(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &saved))
	limited := saved
	limited.Cur = uint64(fi.Size())
	mustT(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited))
	restored := false
	restore := func() {
		if !restored {
			restored = true
			mustT(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved))
		}
	}
	t.Cleanup(restore) // whatever happens, the test binary gets its limit back

	committed := 50
	var werr error
	for i := range 5000 { // 4 KB items: the file must grow within a few
		_, werr = s.Inbound().Enqueue(context.Background(), store.Message{Key: "conv", DedupeKey: fmt.Sprint("during-", i), Payload: make([]byte, 4000)})
		if werr != nil {
			break
		}
		committed++
	}
	restore()
	if !errors.Is(werr, store.ErrUnwritable) || !strings.Contains(werr.Error(), p) || !strings.Contains(werr.Error(), "size limit") ||
		!strings.Contains(werr.Error(), "nothing committed before is lost") {
		t.Fatalf("write on a full disk: %v; want store.ErrUnwritable naming %s and the cause", werr, p)
	}
	if got := depth(t, s); got != committed {
		t.Fatalf("after the failed write: %d items, want the %d committed", got, committed)
	}
	if _, err := s.Inbound().Enqueue(context.Background(), store.Message{Key: "conv", DedupeKey: "after", Payload: make([]byte, 4000)}); err != nil {
		t.Fatalf("write once there is room again: %v", err)
	}
	mustT(t, s.Close())
	s2 := openT(t, p, Options{})
	if got := depth(t, s2); got != committed+1 {
		t.Fatalf("after reopening: %d items, want %d", got, committed+1)
	}
}

// A store on a read-only file system (or a file the daemon may not write)
// is refused at start with an error naming the file and what to do, and
// the file is left as it was.
func TestReadOnlyStoreIsRefusedAtStart(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ro.db")
	s := openT(t, p, Options{})
	fillSome(t, s, 20)
	mustT(t, s.Close())
	before, err := os.ReadFile(p)
	mustT(t, err)
	for _, tc := range []struct {
		errno syscall.Errno
		says  string
	}{
		{syscall.EROFS, "the file system is read-only"},
		{syscall.EACCES, "no permission to write it"},
	} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			opts := Options{SweepInterval: -1, openFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
				if flag&(os.O_RDWR|os.O_WRONLY) != 0 {
					return nil, &os.PathError{Op: "open", Path: name, Err: tc.errno}
				}
				return os.OpenFile(name, flag, perm)
			}}
			_, err := Open(p, opts)
			if !errors.Is(err, store.ErrUnwritable) || !strings.Contains(err.Error(), "open store "+p) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Open = %v; want store.ErrUnwritable naming %s and saying %q", err, p, tc.says)
			}
		})
	}
	after, err := os.ReadFile(p)
	mustT(t, err)
	if !bytes.Equal(before, after) {
		t.Fatal("the refused open changed the file")
	}
	s2 := openT(t, p, Options{})
	if got := depth(t, s2); got != 20 {
		t.Fatalf("after the refusals: %d items, want 20", got)
	}
}
