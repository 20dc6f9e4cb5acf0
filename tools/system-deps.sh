#!/usr/bin/env bash
# Install the system packages GridTriage needs, from the distribution, only when missing.
# Usage: tools/system-deps.sh [--browser]   (--browser adds Chromium for the browser tests)
set -euo pipefail

want=()
if [ -z "${DATABASE_URL:-}" ]; then
  major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)
  if [ -z "$major" ]; then
    want+=(postgresql)
    major_after_install=1
  elif [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
    want+=("postgresql-$major-postgis-3")
  fi
fi
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null; then
  want+=(chromium)
fi
command -v npm >/dev/null || want+=(npm)
# nginx: the buffering front `make run` serves through (tools/front.py runs its own instance).
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || want+=(nginx)
# pgbouncer: the tests run an app server through it (tools/pgcluster.py starts its own instance).
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || want+=(pgbouncer)
python3 -c 'import venv, ensurepip' 2>/dev/null || want+=(python3-venv)

[ ${#want[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${want[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing system packages: ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${want[@]}" \
  || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${want[@]}"; }

# A fresh PostgreSQL install: add PostGIS for the major version it brought.
if [ "${major_after_install:-}" = 1 ]; then
  major=$(ls /usr/lib/postgresql | sort -n | tail -1)
  $sudo apt-get install -y --no-install-recommends "postgresql-$major-postgis-3"
fi

# The nginx and pgbouncer packages start the distribution's own servers (ports 80, 6432); GridTriage uses neither.
for service in nginx pgbouncer; do
  if [[ " ${want[*]} " == *" $service "* ]]; then
    if [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
    else
      $sudo service "$service" stop >/dev/null 2>&1 || true
    fi
  fi
done
