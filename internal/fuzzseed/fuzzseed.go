package fuzzseed

import (
	"os"
	"path/filepath"
	"testing"
)

// Files calls add with the contents of every file matching pattern (a
// filepath.Glob pattern, relative to the package's directory). No match
// fails the target: a seed set that vanished would fuzz from nothing.
func Files(f *testing.F, pattern string, add func(b []byte)) {
	f.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil || len(names) == 0 {
		f.Fatalf("no seed files match %s: %v", pattern, err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}
