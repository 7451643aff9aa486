#!/usr/bin/env bash
# Makes sure MariaDB (127.0.0.1:3306, root, empty password), PostgreSQL (127.0.0.1:5432, user
# postgres, trust auth) and Redis (127.0.0.1:6379) are up for the tests: starts them when they are down and installs Debian's packages when they are absent.
# With --cluster it also starts a 3-master Redis Cluster on 127.0.0.1:7001-7003, for running the
# cluster tests against it (AFTY_TEST_REDIS_CLUSTER=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003);
# npm test does not need it: it starts a throwaway cluster of its own on free ports.
set -euo pipefail

log() { printf 'services: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # description, command...
  local what=$1
  shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$what did not come up within 30 s"
  return 1
}

mariadb_ready() { mariadb --protocol=tcp -h127.0.0.1 -P3306 -uroot -e 'SELECT 1'; }

ensure_mariadb() {
  if command -v mariadb >/dev/null 2>&1 && mariadb_ready >/dev/null 2>&1; then
    log "MariaDB is up"
    return
  fi
  if [ ! -x /usr/sbin/mariadbd ]; then
    log "installing mariadb-server"
    apt_install mariadb-server mariadb-client
  fi
  if ! mariadb_ready >/dev/null 2>&1; then
    log "starting MariaDB"
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    # The socket comes up first; root may only be allowed through it (unix_socket auth).
    wait_for "MariaDB" as_root mariadb -uroot -e 'SELECT 1'
  fi
  if ! mariadb_ready >/dev/null 2>&1; then
    log "allowing root with an empty password on 127.0.0.1 (test machine only)"
    as_root mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;"
  fi
  wait_for "MariaDB on 127.0.0.1:3306" mariadb_ready
  log "MariaDB is up"
}

redis_ready() { redis-cli -h 127.0.0.1 -p "${1:-6379}" ping | grep -q PONG; }

ensure_redis() {
  if command -v redis-cli >/dev/null 2>&1 && redis_ready >/dev/null 2>&1; then
    log "Redis is up"
    return
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server"
    apt_install redis-server
  fi
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for "Redis on 127.0.0.1:6379" redis_ready
  log "Redis is up"
}

CLUSTER_PORTS=(7001 7002 7003)
ensure_redis_cluster() {
  if redis-cli -h 127.0.0.1 -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
    log "Redis Cluster is up on ${CLUSTER_PORTS[*]}"
    return
  fi
  local base=/tmp/afty-redis-cluster
  for port in "${CLUSTER_PORTS[@]}"; do
    if ! redis_ready "$port" >/dev/null 2>&1; then
      rm -rf "$base/$port" && mkdir -p "$base/$port"
      redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
        --cluster-config-file "$base/$port/nodes.conf" --save "" --appendonly no --dir "$base/$port" \
        --logfile "$base/$port/redis.log"
    fi
    wait_for "Redis on $port" redis_ready "$port"
  done
  if ! redis-cli -h 127.0.0.1 -p "${CLUSTER_PORTS[0]}" cluster info | grep -q 'cluster_known_nodes:3'; then
    for port in "${CLUSTER_PORTS[@]}"; do redis-cli -p "$port" flushall >/dev/null; redis-cli -p "$port" cluster reset hard >/dev/null; done
    redis-cli --cluster create "${CLUSTER_PORTS[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
  fi
  wait_for "Redis Cluster" sh -c "redis-cli -p ${CLUSTER_PORTS[0]} cluster info | grep -q cluster_state:ok"
  log "Redis Cluster is up on ${CLUSTER_PORTS[*]}"
}

postgres_ready() { psql -X -h 127.0.0.1 -p 5432 -U postgres -d postgres -tAc 'SELECT 1' </dev/null; }

ensure_postgres() {
  if command -v psql >/dev/null 2>&1 && postgres_ready >/dev/null 2>&1; then
    log "PostgreSQL is up"
    return
  fi
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql"
    apt_install postgresql postgresql-client
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -1)
  if ! postgres_ready >/dev/null 2>&1; then
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  fi
  if ! postgres_ready >/dev/null 2>&1 && [ -f "/etc/postgresql/$version/main/pg_hba.conf" ]; then
    # Debian's default asks TCP clients for a password: let the tests in (test machine only).
    log "allowing trust auth on 127.0.0.1 and ::1 (test machine only)"
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sh -c "{ printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'; cat '$hba'; } > '$hba.afty' && cat '$hba.afty' > '$hba' && rm '$hba.afty'"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
  wait_for "PostgreSQL on 127.0.0.1:5432" postgres_ready
  log "PostgreSQL is up"
}

ensure_mariadb
ensure_postgres
ensure_redis
if [ "${1:-}" = "--cluster" ]; then ensure_redis_cluster; fi
