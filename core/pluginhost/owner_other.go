//go:build !unix

package pluginhost

import (
	"errors"
	"io/fs"
)

// ErrUnsafeBinary is wrapped by the error of a binary others could replace.
var ErrUnsafeBinary = errors.New("unsafe adapter binary")

// safeOwnership has no portable owner to check here.
func safeOwnership(string, string, fs.FileInfo) error { return nil }
