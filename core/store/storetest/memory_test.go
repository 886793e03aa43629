package storetest_test

import (
	"testing"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) store.Store {
		s := store.NewMemory(opts)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
