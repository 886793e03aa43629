#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests.
#
#	export LECONNECT_TEST_POSTGRES_DSN="$(bash .ci/postgres.sh start [DIR])"
#	bash .ci/postgres.sh stop DIR
#
# start makes DIR (default: a new directory under ${TMPDIR:-/tmp}, named on
# stderr), runs the server there as a non-root user (initdb refuses root)
# on a loopback port and a socket in DIR, with fsync on, and prints the
# DSN. Needs Debian's postgresql package.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then
  echo "postgresql is not installed (apt-get install postgresql)" >&2
  exit 1
fi
user=postgres
id "$user" >/dev/null 2>&1 || user=nobody
as() { if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi; }

case "${1:-}" in
start)
  dir=${2:-$(mktemp -d "${TMPDIR:-/tmp}/leconnect-pg.XXXXXX")}
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown "$user" "$dir"
  chmod 700 "$dir"
  as "$bin/initdb" -D "$dir/data" -U leconnect --auth=trust -E UTF8 >/dev/null
  for try in 1 2 3 4 5; do # a random loopback port; another if it is taken
    port=$(( 20000 + RANDOM % 20000 ))
    if as "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-k $dir -p $port -h 127.0.0.1 -c max_connections=300" start >/dev/null; then
      break
    fi
    [ "$try" = 5 ] && { cat "$dir/log" >&2; exit 1; }
  done
  echo "postgres: data in $dir/data, log in $dir/log; stop with: bash .ci/postgres.sh stop $dir" >&2
  echo "postgres://leconnect@127.0.0.1:$port/postgres?sslmode=disable"
  ;;
stop)
  as "$bin/pg_ctl" -D "${2:?stop needs the directory}/data" -m fast stop >/dev/null
  ;;
*)
  echo "usage: $0 start [DIR] | stop DIR" >&2
  exit 2
  ;;
esac
