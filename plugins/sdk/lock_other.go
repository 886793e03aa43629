//go:build !unix

package sdk

import (
	"os"
	"time"
)

// lockFile opens path; without flock, one process per journal is assumed.
func lockFile(path string, _ time.Duration) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}
