#!/usr/bin/env bash
# A throwaway S3-compatible server for tests and benchmarks: s3s-fs (from
# crates.io, installed once per machine under ~/.cache/pqstage) serving a
# private folder on loopback. Buckets are folders of that folder.
#
#   tests/s3/s3.sh install   build s3s-fs if missing; prints its path
#   tests/s3/s3.sh up        start it (and create the bucket); prints the endpoint
#   tests/s3/s3.sh down      stop it and delete its data
#   tests/s3/s3.sh env       print the AWS_* settings that point at it
#
# Environment: PQSTAGE_S3_PORT (default 59014), PQSTAGE_S3_DIR (default
# /tmp/pqstage-s3-PORT), PQSTAGE_S3_BUCKET (default pqstage).
set -euo pipefail

version=0.14.1
root="$HOME/.cache/pqstage/s3s-fs-$version"
bin="$root/bin/s3s-fs"
port="${PQSTAGE_S3_PORT:-59014}"
dir="${PQSTAGE_S3_DIR:-/tmp/pqstage-s3-$port}"
bucket="${PQSTAGE_S3_BUCKET:-pqstage}"
key=pqstage-test
secret=pqstage-test-secret
endpoint="http://127.0.0.1:$port"

die() { echo "s3.sh: $*" >&2; exit 1; }

install() {
  if [[ ! -x "$bin" ]]; then
    echo "s3.sh: building s3s-fs $version (once per machine, about 2 minutes)" >&2
    # Its own target folder, so it never shares (or locks) pqstage's build.
    CARGO_TARGET_DIR="$HOME/.cache/pqstage/s3s-fs-build" \
      cargo install --quiet --locked s3s-fs --version "$version" --features binary --root "$root" >&2 ||
      die "cargo install s3s-fs failed"
    rm -rf "$HOME/.cache/pqstage/s3s-fs-build"
  fi
}

# shellcheck source=tests/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/../daemon.sh"

up() {
  install
  mkdir -p "$dir/data/$bucket"
  daemon_start s3s-fs "$bin" --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" "$dir/data"
  echo "$endpoint"
}

print_env() {
  cat <<ENV
export AWS_ENDPOINT_URL=$endpoint
export AWS_ACCESS_KEY_ID=$key
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=us-east-1
export AWS_ALLOW_HTTP=true
# then: pqstage convert … --to s3://$bucket/stage
ENV
}

daemon_main s3s-fs "$@"
