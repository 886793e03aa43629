package pgstore

import (
	"testing"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/pgstore/pgtest"
	"github.com/leconnect/leconnect/core/store/storetest"
)

func openTest(t *testing.T, opts store.Options) store.Store {
	t.Helper()
	s, err := Open(t.Context(), Options{Options: opts, DSN: pgtest.DSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreContract(t *testing.T) {
	storetest.Run(t, openTest)
}
