package pgstore

import (
	"errors"
	"strings"
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

// Ping fails, saying why, when the server only reads (a standby, or a
// database set read-only); the store still opens there.
func TestPingNamesAReadOnlyServer(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := Open(t.Context(), Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	s.Close()
	ro, err := Open(t.Context(), Options{DSN: dsn + "&default_transaction_read_only=on"})
	if err != nil {
		t.Fatalf("open on a read-only server: %v", err)
	}
	defer ro.Close()
	if err := ro.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Ping on a read-only server = %v; want it named", err)
	}
}

// A schema newer than this binary is refused with a clear error.
func TestRefusesANewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := Open(t.Context(), Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `UPDATE leconnect_schema SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(t.Context(), Options{DSN: dsn}); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("open = %v; want ErrSchemaTooNew", err)
	}
}

// A server that cannot be reached is an error that names it, never with
// the password.
func TestOpenErrorsNeverShowThePassword(t *testing.T) {
	_, err := Open(t.Context(), Options{DSN: "postgres://leconnect:hunter2-secret@127.0.0.1:1/leconnect?connect_timeout=2"})
	if err == nil || strings.Contains(err.Error(), "hunter2-secret") || !strings.Contains(err.Error(), "leconnect@127.0.0.1:1/leconnect") {
		t.Fatalf("open = %v; want an error naming user@host:port/db and not the password", err)
	}
}
