#!/usr/bin/env bash
# Fetch DuckDB's official prebuilt libduckdb.so (shipped inside the npm package
# @duckdb/node-bindings-linux-x64) so the build links it instead of compiling
# DuckDB's C++ (about 40 minutes on two cores). Prints the directory holding
# the library; `make` passes it to cargo as DUCKDB_LIB_DIR.
#
# The library's version must match the duckdb crate in Cargo.toml
# (=1.10506.0 is DuckDB 1.5.6). npm checks the package against the registry's
# integrity hash; we pin the library's own sha256 as well.
set -euo pipefail

version=1.5.6
package="@duckdb/node-bindings-linux-x64@${version}-r.1"
sha256=3f4962cdd266eab2b479a5b5a4a6d063d279b2954ae814ed00385d553b747633
dest="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/pqstage/libduckdb-${version}}"

if [[ "$(uname -sm)" != "Linux x86_64" ]]; then
  echo "fetch-libduckdb: no prebuilt library for $(uname -sm); build with DUCKDB_BUILD=bundled" >&2
  exit 1
fi

if [[ -f "$dest/libduckdb.so" ]] && echo "$sha256  $dest/libduckdb.so" | sha256sum --check --status; then
  echo "$dest"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-libduckdb: npm is needed (or build with DUCKDB_BUILD=bundled)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/libduckdb.so
echo "$sha256  $work/package/libduckdb.so" | sha256sum --check --status || {
  echo "fetch-libduckdb: checksum mismatch for libduckdb.so from $package" >&2
  exit 1
}
mkdir -p "$dest"
mv "$work/package/libduckdb.so" "$dest/libduckdb.so.tmp"
mv "$dest/libduckdb.so.tmp" "$dest/libduckdb.so"
echo "$dest"
