// Package pgtest gives tests a PostgreSQL schema of their own on the server
// named by LECONNECT_TEST_POSTGRES_DSN. `.ci/run` starts one and sets it; on
// a laptop:
//
//	export LECONNECT_TEST_POSTGRES_DSN="$(bash .ci/postgres.sh start)"
//
// Without it the tests that need PostgreSQL skip, saying how to run them;
// with CI=true they fail instead, so CI cannot pass without them.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable with the server's DSN.
const EnvDSN = "LECONNECT_TEST_POSTGRES_DSN"

// DSN returns a DSN whose search_path is a new, empty schema, dropped when
// the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (see .ci/postgres.sh)", EnvDSN)
		}
		t.Skipf("no PostgreSQL: export %s=\"$(bash .ci/postgres.sh start)\" to run this test", EnvDSN)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := fmt.Sprintf("t_%x", b)
	exec := func(sql string) error {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	t.Cleanup(func() { _ = exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL: %v", EnvDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema) // so CutConnections finds its sessions
	u.RawQuery = q.Encode()
	return u.String()
}

// CutConnections terminates every server session opened with dsn (one DSN
// returned), as a network fault or a server restart would, and returns how
// many it cut.
func CutConnections(t testing.TB, dsn string) int {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	app := u.Query().Get("application_name")
	ctx := context.Background()
	c, err := pgx.Connect(ctx, os.Getenv(EnvDSN))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
