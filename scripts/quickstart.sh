#!/usr/bin/env bash
# A real tenant workflow on the embedded SQLite default (no server needed), in a fresh copy of
# examples/ under a temporary folder. Prints each afty command before running it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/afty-quickstart-XXXXXX")"
cp -r "$root/examples/." "$work/"
rm -rf "$work/.afty" "$work/backups"
cd "$work"
afty() {
  printf '\n\033[1m$ afty %s\033[0m\n' "$*"
  node "$root/bin/run.js" "$@"
}

afty tenant create acme --name "Acme Inc" --domain acme.localhost --migrate --seed
afty tenant create globex --name "Globex" --domain globex.localhost --domain www.globex.localhost
afty db migrate --all
afty db seed --tenant globex --class DatabaseSeeder,ProjectsSeeder
afty db status --all
afty tenant list
afty tenant show globex.localhost
afty tenant update acme --set plan=pro --maintenance on --message "Upgrading" --allow-ip 127.0.0.1
afty tenant run --all -- node -e "console.log('tenant', process.env.AFTY_TENANT_ID, 'database', process.env.DATABASE_URL)"
afty backup create --tenant globex
afty tenant delete globex --force --no-backup
afty backup list
afty tenant list --json
printf '\nDone. The project is in %s (run afty there: node %s/bin/run.js …)\n' "$work" "$root"
