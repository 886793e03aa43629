package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) store.Store {
		s, err := Open(filepath.Join(t.TempDir(), "leconnect.db"), Options{Options: opts, SweepInterval: -1})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
