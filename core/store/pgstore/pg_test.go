package pgstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/storetest"
)

// dsnEnv names the server the tests use. `.ci/run` starts one and sets it;
// on a laptop: export LECONNECT_TEST_POSTGRES_DSN="$(bash .ci/postgres.sh)".
const dsnEnv = "LECONNECT_TEST_POSTGRES_DSN"

// testDSN returns a DSN for a schema of its own, dropped after the test.
func testDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv(dsnEnv)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (see .ci/postgres.sh)", dsnEnv)
		}
		t.Skipf("no PostgreSQL: set %s (export %s=\"$(bash .ci/postgres.sh)\") to run these tests", dsnEnv, dsnEnv)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := fmt.Sprintf("t_%x", b)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsnEnv, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL: %v", dsnEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openTest(t *testing.T, opts store.Options) store.Store {
	t.Helper()
	s, err := Open(t.Context(), Options{Options: opts, DSN: testDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreContract(t *testing.T) {
	storetest.Run(t, openTest)
}
