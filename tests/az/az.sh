#!/usr/bin/env bash
# A throwaway Azure Blob Storage emulator for tests: Azurite (from the npm
# registry, installed once per machine under ~/.cache/pqstage) on loopback,
# with its well-known development account and one container.
#
#   tests/az/az.sh install   install Azurite if missing; prints its path
#   tests/az/az.sh up        start it (and create the container); prints the blob endpoint
#   tests/az/az.sh down      stop it and delete its data
#   tests/az/az.sh env       print the settings that point pqstage at it
#
# Environment: PQSTAGE_AZ_PORT (default 10000), PQSTAGE_AZ_DIR (default
# /tmp/pqstage-az-PORT), PQSTAGE_AZ_CONTAINER (default pqstage).
set -euo pipefail

version=3.35.0
root="$HOME/.cache/pqstage/azurite-$version"
bin="$root/node_modules/.bin/azurite-blob"
port="${PQSTAGE_AZ_PORT:-10000}"
dir="${PQSTAGE_AZ_DIR:-/tmp/pqstage-az-$port}"
container="${PQSTAGE_AZ_CONTAINER:-pqstage}"
endpoint="http://127.0.0.1:$port"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "az.sh: $*" >&2; exit 1; }

install() {
  if [[ ! -x "$bin" ]]; then
    command -v npm >/dev/null || die "npm is needed to install Azurite"
    echo "az.sh: installing Azurite $version from the npm registry (once per machine)" >&2
    mkdir -p "$root"
    npm install --prefix "$root" --silent --no-audit --no-fund "azurite@$version" >&2 || die "npm install azurite failed"
  fi
}

# shellcheck source=tests/daemon.sh
source "$here/../daemon.sh"

up() {
  install
  mkdir -p "$dir/data"
  daemon_start Azurite "$bin" --blobHost 127.0.0.1 --blobPort "$port" --location "$dir/data" --silent --skipApiVersionCheck
  python3 "$here/create_container.py" "$endpoint" "$container"
  echo "$endpoint"
}

print_env() {
  cat <<ENV
export AZURE_STORAGE_USE_EMULATOR=true
export AZURITE_BLOB_STORAGE_URL=$endpoint
# then: pqstage convert … --to az://$container/stage
ENV
}

daemon_main azurite "$@"
