#!/usr/bin/env python3
"""Write the CSV survey's markdown report from the files run.sh left in OUT.

Usage: report.py --out DIR --files DIR --pqstage "BINARY (VERSION)" --duckdb VERSION
Reads OUT/results.tsv, OUT/manifest.tsv, OUT/sources.json and OUT/skipped.tsv;
writes OUT/report.md: the class counts, then per class the files, with the
row and column counts where they differ and the first error line of the
tool that refused. The absolute path of the files folder is removed from
error lines.
"""
import argparse, csv, json, os, sys
from collections import Counter, defaultdict

CLASSES = ['same', 'rows-differ', 'cols-differ', 'pq-refused', 'duck-refused', 'both-refused',
           'pq-readback-failed']
MEANING = {
    'same': 'both read the file; same row and column counts',
    'rows-differ': 'both read the file; the row counts differ',
    'cols-differ': 'both read the file; same row count, the column counts differ',
    'pq-refused': 'DuckDB read the file; pqstage convert exited non-zero',
    'duck-refused': 'pqstage converted the file; DuckDB read_csv raised an error',
    'both-refused': 'both refused the file',
    'pq-readback-failed': 'pqstage exited 0 but DuckDB could not read the staged Parquet',
}


def tsv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f, delimiter='\t', quoting=csv.QUOTE_NONE))


def cell(s):
    return (s or '').replace('|', '\\|').strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--files', required=True)
    ap.add_argument('--pqstage', required=True)
    ap.add_argument('--duckdb', required=True)
    a = ap.parse_args()
    prefix = os.path.abspath(a.files) + '/'
    results = tsv(f'{a.out}/results.tsv')
    manifest = {r['relpath']: r for r in tsv(f'{a.out}/manifest.tsv')}
    sources = json.load(open(f'{a.out}/sources.json'))
    skipped = [l.rstrip('\n').split('\t') for l in open(f'{a.out}/skipped.tsv') if l.strip()]
    by_class = defaultdict(list)
    for r in results:
        by_class[r['class']].append(r)
    per_source = Counter(r['relpath'].split('/')[0] for r in results)

    def rel(msg):
        return cell((msg or '').replace(prefix, ''))

    L = ['# CSV survey: pqstage convert and DuckDB read_csv', '',
         f'{len(results)} CSV files taken from {len(sources)} sources (published PyPI and npm packages). '
         'Each file is converted by pqstage with an inferred spec and read back with DuckDB, '
         "and read by DuckDB's read_csv with its default settings; the two row and column counts "
         'are compared. Only counts are compared, not values or types.', '',
         f'- pqstage: {a.pqstage}', f'- DuckDB (Python package): {a.duckdb}', '',
         '## Classes', '', '| class | files | meaning |', '|---|---:|---|']
    for c in CLASSES:
        if by_class.get(c) or c != 'pq-readback-failed':
            L.append(f'| {c} | {len(by_class.get(c, []))} | {MEANING[c]} |')
    for c in sorted(set(by_class) - set(CLASSES)):
        L.append(f'| {c} | {len(by_class[c])} | |')

    for c in CLASSES + sorted(set(by_class) - set(CLASSES)):
        rows = by_class.get(c, [])
        if not rows:
            continue
        L += ['', f'## {c} ({len(rows)})', '']
        if c == 'same':
            L += ['| file | rows | columns |', '|---|---:|---:|']
            L += [f"| {cell(r['relpath'])} | {r['duckdb_rows']} | {r['duckdb_cols']} |" for r in rows]
        elif c in ('rows-differ', 'cols-differ'):
            L += ['| file | DuckDB rows | pqstage rows | DuckDB columns | pqstage columns |',
                  '|---|---:|---:|---:|---:|']
            L += [f"| {cell(r['relpath'])} | {r['duckdb_rows']} | {r['pq_rows']} | {r['duckdb_cols']} | {r['pq_cols']} |"
                  for r in rows]
        elif c == 'pq-refused':
            L += ['| file | pqstage exit | pqstage error (first line) |', '|---|---:|---|']
            L += [f"| {cell(r['relpath'])} | {r['pq_exit']} | {rel(r['pq_error'])} |" for r in rows]
        elif c == 'duck-refused':
            L += ['| file | pqstage rows | pqstage columns | DuckDB error (first line) |', '|---|---:|---:|---|']
            L += [f"| {cell(r['relpath'])} | {r['pq_rows']} | {r['pq_cols']} | "
                  f"{rel(manifest.get(r['relpath'], {}).get('duckdb_error'))} |" for r in rows]
        else:
            L += ['| file | pqstage exit | pqstage error (first line) | DuckDB error (first line) |',
                  '|---|---:|---|---|']
            L += [f"| {cell(r['relpath'])} | {r['pq_exit']} | {rel(r['pq_error'])} | "
                  f"{rel(manifest.get(r['relpath'], {}).get('duckdb_error'))} |" for r in rows]

    L += ['', '## Sources', '', '| folder | package | files |', '|---|---|---:|']
    L += [f'| {s} | {cell(sources[s])} | {per_source.get(s, 0)} |' for s in sorted(sources)]
    if skipped:
        L += ['', f'Archive members matched but left out: {len(skipped)} '
              '(' + ', '.join(sorted({f[2] for f in skipped if len(f) > 2})) + '); listed in skipped.tsv.']
    with open(f'{a.out}/report.md', 'w') as f:
        f.write('\n'.join(L) + '\n')


if __name__ == '__main__':
    sys.exit(main())
