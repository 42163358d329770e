#!/usr/bin/env bash
# Start the local services the tests use, if they are not answering yet.
set -euo pipefail

listening() {  # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

ensure() {  # name, port, start command
  local name=$1 port=$2
  shift 2
  if listening "$port"; then return 0; fi
  echo "ensure-services: starting $name"
  "$@" || true
  for _ in $(seq 1 90); do
    if listening "$port"; then return 0; fi
    sleep 1
  done
  echo "ensure-services: $name is not listening on 127.0.0.1:$port" >&2
  return 1
}

ensure PostgreSQL 5432 pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
ensure MariaDB 3306 start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
ensure Redis 6379 redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
ensure RabbitMQ 5672 rabbitmq-server -detached
