#!/usr/bin/env bash
# Start the local services the test suite talks to when they are installed but down.
# With CI=true a missing service is an error; elsewhere its tests skip and say what to install.
set -u
missing=0

up() { # name, check command, start command
  local name=$1 check=$2 start=$3
  if eval "$check" >/dev/null 2>&1; then return 0; fi
  if eval "$start" >/dev/null 2>&1; then
    for _ in $(seq 1 50); do eval "$check" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fi
  echo "services: $name is not running and could not be started" >&2
  missing=1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if command -v pg_ctlcluster >/dev/null 2>&1; then
  up postgresql "port_open 5432" \
    'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
else
  echo "services: PostgreSQL is not installed (apt-get install postgresql)" >&2; missing=1
fi
if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then
  up nats "port_open 4222" \
    'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log'
else
  echo "services: NATS is not installed (apt-get install nats-server)" >&2; missing=1
fi

if [ "$missing" = 1 ] && [ "${CI:-}" = "true" ]; then
  echo "services: CI=true and a required service is missing" >&2
  exit 1
fi
exit 0
