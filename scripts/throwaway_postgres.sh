#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the test suite, on a loopback port, when
# no server answers at HALLKIT_TEST_PG_URL:
#   scripts/throwaway_postgres.sh start DIR [PORT]   initdb DIR, start it; prints its URL
#   scripts/throwaway_postgres.sh stop DIR           stop it and remove DIR
# Trust authentication on 127.0.0.1 only, superuser "postgres", no fsync: the
# cluster holds nothing but test databases and is removed after the run. As
# root, the server binaries come from Debian's postgresql package (installed
# when missing) and the cluster runs as the "postgres" user, since PostgreSQL
# refuses to run as root.
set -euo pipefail

log() { printf '\033[1m[hallkit]\033[0m %s\n' "$*" >&2; }

server_bin_dir() {
  local initdb
  for initdb in /usr/lib/postgresql/*/bin/initdb; do
    [[ -x $initdb ]] && { dirname "$initdb"; return 0; }
  done
  initdb=$(command -v initdb || true)
  [[ -n $initdb ]] && { dirname "$(readlink -f "$initdb")"; return 0; }
  return 1
}

ensure_server_binaries() {
  server_bin_dir >/dev/null && return 0
  if [[ $(id -u) -ne 0 ]]; then
    log "no PostgreSQL server is installed (sudo apt-get install postgresql), or point HALLKIT_TEST_PG_URL at a running one"
    exit 1
  fi
  log "installing Debian's PostgreSQL server for the tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  server_bin_dir >/dev/null
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local dir=$1 port=${2:-}
  ensure_server_binaries
  local bin
  bin=$(server_bin_dir)
  [[ -n $port ]] || port=$(free_port)
  mkdir -p "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { log "initdb failed: $(tail -n 3 "$dir/initdb.log")"; exit 1; }
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null \
    || { log "PostgreSQL did not start: $(tail -n 3 "$dir/server.log")"; exit 1; }
  log "throw-away PostgreSQL cluster on 127.0.0.1:$port ($dir)"
  echo "postgresql://postgres@127.0.0.1:$port/test"
}

stop() {
  local dir=$1 bin
  bin=$(server_bin_dir)
  if [[ -f $dir/data/postmaster.pid ]]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "$2" "${3:-}" ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac
