#!/usr/bin/env python3
"""DuckDB baseline of the CSV survey: how DuckDB's read_csv, with its default
settings, reads each file.

Usage: PYTHON baseline.py [--files DIR] [--out DIR]   -> OUT/manifest.tsv
       PYTHON baseline.py --one FILE                  -> JSON for one file (used internally)
  --files  the collected files (collect.py); default bench/data/csv-survey/files
  --out    holds sources.json (collect.py) and receives manifest.tsv;
           default bench/out/csv-survey
PYTHON needs the duckdb package (the survey pins duckdb==2.0.0).

Each file is read in its own subprocess, with one thread and a 120 s timeout,
so a crash or hang on one file does not stop the run; a crash or timeout is
recorded as an error. Only the source folders listed in sources.json are read.
manifest.tsv columns: relpath source bytes duckdb_status duckdb_rows
duckdb_cols duckdb_error duckdb_colnames (status: ok or error).
"""
import argparse, json, os, subprocess, sys

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clean(s, n=300):
    """First line of s, tabs replaced, at most n characters."""
    s = ' '.join(str(s).replace('\t', ' ').splitlines()[:1]) if s else ''
    return s[:n]


def sqlstr(p):
    return "'" + p.replace("'", "''") + "'"


def one(path):
    import duckdb
    con = duckdb.connect(config={'threads': 1})
    src = f"read_csv({sqlstr(path)})"
    try:
        rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
        desc = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
        return dict(status='ok', rows=rows, cols=len(desc), names=[f'{d[0]}:{d[1]}' for d in desc], error='')
    except Exception as e:
        # the exception class and the first non-empty line of DuckDB's message
        lines = [l for l in str(e).strip().splitlines() if l.strip()]
        return dict(status='error', rows='', cols='', names=[], error=f'{type(e).__name__}: {lines[0] if lines else ""}')


def main():
    ap = argparse.ArgumentParser(description='DuckDB read_csv baseline of the CSV survey')
    ap.add_argument('--files', default=f'{BENCH}/data/csv-survey/files')
    ap.add_argument('--out', default=f'{BENCH}/out/csv-survey')
    args = ap.parse_args()
    files, out_dir = os.path.abspath(args.files), args.out
    sources = json.load(open(f'{out_dir}/sources.json'))
    rels = sorted(os.path.relpath(os.path.join(d, f), files)
                  for s in sources for d, _, fs in os.walk(f'{files}/{s}') for f in fs)
    if not rels:
        sys.exit(f'baseline.py: no files under {files} (run collect.py first)')
    out = open(f'{out_dir}/manifest.tsv', 'w')
    out.write('relpath\tsource\tbytes\tduckdb_status\tduckdb_rows\tduckdb_cols\tduckdb_error\tduckdb_colnames\n')
    stats = {}
    for rel in rels:
        path = f'{files}/{rel}'
        try:
            p = subprocess.run([sys.executable, __file__, '--one', path], capture_output=True, text=True, timeout=120)
            r = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else dict(
                status='error', rows='', cols='', names=[], error=f'crash rc={p.returncode}: {clean(p.stderr)}')
        except subprocess.TimeoutExpired:
            r = dict(status='error', rows='', cols='', names=[], error='timeout 120s')
        src = sources.get(rel.split('/')[0], '?')
        names = clean('|'.join(r['names']), 500)
        out.write('\t'.join(map(str, [rel, src, os.path.getsize(path), r['status'], r['rows'], r['cols'],
                                      clean(r['error']), names])) + '\n')
        out.flush()
        stats[r['status']] = stats.get(r['status'], 0) + 1
        print(f"{r['status']:5} {str(r['rows']):>8} {str(r['cols']):>4} {rel} {clean(r['error'], 120)}", flush=True)
    print('DuckDB read_csv:', ', '.join(f'{v} {k}' for k, v in sorted(stats.items())))


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--one':
        print(json.dumps(one(sys.argv[2])))
    else:
        main()
