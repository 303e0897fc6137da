#!/usr/bin/env bash
# Other engines read a staged dataset as it is: DuckDB, pyarrow, Polars and
# Spark (PySpark), from PyPI, in an ignored virtualenv; Spark needs Java 17 or
# newer, installed from Debian (openjdk-17-jre-headless) when missing.
# Usage: tests/readers/run.sh PATH/TO/pqstage
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PQSTAGE="${1:?usage: run.sh PATH/TO/pqstage}"
VENV="$HERE/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
if ! cmp -s "$HERE/requirements.txt" "$VENV/.installed"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/.installed"
fi
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [[ "$(java_major)" -lt 17 ]]; then
  echo "run.sh: installing openjdk-17-jre-headless for Spark" >&2
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$VENV/bin/python" "$HERE/check_readers.py" "$PQSTAGE" "$WORK"
