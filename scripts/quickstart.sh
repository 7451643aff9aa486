#!/usr/bin/env bash
# A real tenant workflow on the embedded SQLite default (no server needed), in a fresh copy of
# examples/ under a temporary folder. Each step says what it does, then prints its afty command
# quoted so that it can be pasted into a shell as it is, then runs it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/afty-quickstart-XXXXXX")"
cp -r "$root/examples/." "$work/"
rm -rf "$work/.afty" "$work/backups"
cd "$work"

# Bold titles in a terminal only: in a log or a pipe the escape codes are noise.
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi

# One shell word for each argument: bare when it is safe, else single-quoted (a ' inside as '\'').
quote() {
  local arg quoted=()
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
      quoted+=("$arg")
    else
      quoted+=("'${arg//\'/\'\\\'\'}'")
    fi
  done
  printf '%s' "${quoted[*]}"
}

# step "what it does" ARGS…: the title, the command as typed, then its output.
step() {
  local title=$1
  shift
  printf '\n%s# %s%s\n$ afty %s\n' "$bold" "$title" "$plain" "$(quote "$@")"
  node "$root/bin/run.js" "$@"
}

printf 'Project: %s\nafty below is: alias afty=%s\n' "$work" "$(quote "node $root/bin/run.js")"

step 'Create tenant acme with its database, migrated and seeded' \
  tenant create acme --name "Acme Inc" --domain acme.localhost --migrate --seed
step 'Create tenant globex with two domains and an empty database' \
  tenant create globex --name "Globex" --domain globex.localhost --domain www.globex.localhost
step 'Migrate every tenant (acme is up to date, globex gets its tables)' \
  db migrate --all
step 'Seed globex with two seeders, in order' \
  db seed --tenant globex --class DatabaseSeeder,ProjectsSeeder
step 'Show the migration state of every tenant' \
  db status --all
step 'List the tenants' \
  tenant list
step 'Show one tenant, found by its domain' \
  tenant show globex.localhost
step 'Put acme in maintenance (reachable from 127.0.0.1) with a setting' \
  tenant update acme --set plan=pro --maintenance on --message "Upgrading" --allow-ip 127.0.0.1
step "Run a command once per tenant, with that tenant's database in its environment" \
  tenant run --all -- node -e 'console.log("tenant", process.env.AFTY_TENANT_ID, "database", process.env.DATABASE_URL)'
step 'Back up globex' \
  backup create --tenant globex
step 'Delete globex (its backup stays)' \
  tenant delete globex --force --no-backup
step 'List the backups' \
  backup list
step 'List the tenants as JSON, for scripts' \
  tenant list --json
printf '\nDone. The project is in %s: cd there and run afty as above.\n' "$work"
