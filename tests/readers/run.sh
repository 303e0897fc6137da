#!/usr/bin/env bash
# Other engines read a staged dataset as it is: DuckDB and pyarrow, from PyPI,
# in an ignored virtualenv. Usage: tests/readers/run.sh PATH/TO/pqstage
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
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$VENV/bin/python" "$HERE/check_readers.py" "$PQSTAGE" "$WORK"
