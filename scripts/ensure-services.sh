#!/usr/bin/env bash
# Start the local services the integration tests use, if they are not answering yet.
set -euo pipefail

wait_for() {  # name, check command
  for _ in $(seq 1 60); do
    if eval "$2" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "ensure-services: $1 did not come up" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_for PostgreSQL "pg_isready -h 127.0.0.1 -p 5432 -q"
fi
