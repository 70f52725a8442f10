#!/usr/bin/env bash
# The pooler test (tests/managed-postgres-pooler.test.ts) runs Debian's PgBouncer in transaction
# mode. Installs it where it is missing and apt can (CI runs as root); the test skips, saying why,
# only where it cannot be had.
set -euo pipefail
bouncer=${PGBOUNCER_PATH:-/usr/sbin/pgbouncer}
if [ -x "$bouncer" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's pgbouncer for the pooler test (apt-get install -y pgbouncer)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq pgbouncer >/dev/null
  # The package starts a system-wide PgBouncer on port 6432; the test runs its own.
  if command -v service >/dev/null; then service pgbouncer stop >/dev/null 2>&1 || true; fi
  exit 0
fi
echo "The pooler test needs PgBouncer at $bouncer: install it (sudo apt-get install pgbouncer)," >&2
echo "or point PGBOUNCER_PATH at a pgbouncer binary; without it that test is skipped." >&2
