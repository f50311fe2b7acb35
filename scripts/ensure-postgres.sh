#!/usr/bin/env bash
# Make sure the PostgreSQL the storage tests use answers on 127.0.0.1:5432; start it (or install
# it from Debian's packages) when it does not, and fail with a message that says what to do.
set -u
host=127.0.0.1 port=5432

ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }
ready && exit 0

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL is not installed; installing it from Debian's packages..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
fi
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  done
fi
for _ in $(seq 1 20); do ready && exit 0; sleep 0.5; done

cat >&2 <<MSG
PostgreSQL is not reachable on $host:$port, and could not be started here.
The storage tests run on SQLite and PostgreSQL. Start a server that accepts the user 'postgres'
without a password on $host:$port, or set FOLLOWUP_TEST_POSTGRES to the URL of one, e.g.
  FOLLOWUP_TEST_POSTGRES=postgresql+psycopg://user:pass@host:5432/db make test
MSG
exit 1
