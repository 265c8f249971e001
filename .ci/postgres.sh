#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on loopback for the tests of the PostgreSQL queue backend.
#   eval "$(bash .ci/postgres.sh start [DIR])"  initdb + pg_ctl in DIR (default: a new temp dir),
#                                               listening on 127.0.0.1 only, a free port; prints
#                                               the export lines of HOMING_TEST_POSTGRES (the
#                                               connection string) and HOMING_TEST_POSTGRES_DATA
#   bash .ci/postgres.sh restart [DIR]          restarts it (fast shutdown), same port
#   bash .ci/postgres.sh pause|resume [DIR]     stops it keeping its data, starts it again (same port)
#   bash .ci/postgres.sh stop [DIR]             stops it and deletes DIR
# DIR defaults to $HOMING_TEST_POSTGRES_DATA for restart and stop. Debian's `postgresql` package
# (in the debs list of .ci/install-peers.sh) provides the binaries. As root, the cluster runs as
# the `postgres` user (initdb refuses root); otherwise as the calling user.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "postgres.sh: no PostgreSQL binaries under /usr/lib/postgresql (apt-get install -y postgresql)" >&2
  exit 2
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

command=${1:-}
dir=${2:-${HOMING_TEST_POSTGRES_DATA:-}}
case "$command" in
  start)
    if [ -z "${2:-}" ]; then dir=$(mktemp -d /tmp/homing-postgres-XXXXXX); fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    chmod 700 "$dir"
    # A free loopback port, chosen by the kernel.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $port"
      echo "unix_socket_directories = '$dir'"
      echo "max_connections = 300"
      echo "fsync = on"
      echo "synchronous_commit = on"
    } >>"$dir/data/postgresql.conf"
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres homing_test
    echo "export HOMING_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/homing_test"
    echo "export HOMING_TEST_POSTGRES_DATA=$dir"
    ;;
  restart)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
    ;;
  pause)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    ;;
  resume)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    ;;
  stop)
    if [ -n "$dir" ] && [ -d "$dir/data" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
      rm -rf "$dir"
    fi
    ;;
  *)
    echo "usage: postgres.sh start|restart|pause|resume|stop [DIR]" >&2
    exit 2
    ;;
esac
