# pqstage: the user's entry points. `make demo` first, `make test` for everything.
#
# Builds go to $(CARGO_TARGET_DIR), outside the clone by default, so every
# checkout on a machine shares one build. Tests, benchmarks and these targets
# all use the release profile: one build serves them all.

CARGO_TARGET_DIR ?= $(HOME)/.cache/pqstage/target
export CARGO_TARGET_DIR
PQSTAGE := $(CARGO_TARGET_DIR)/release/pqstage

ROWS ?= 1000000
STAGE ?= staging
DATASET ?= violations
SAMPLES := staging/_samples
CSV ?= $(SAMPLES)/violations-$(ROWS).csv
SPEC ?= $(SAMPLES)/violations.toml
PYTHON ?= python3

.PHONY: all build sample convert status demo test test-rust test-readers bench lint clean

all: build

build:
	cargo build --release --locked -p pqstage-cli

$(CSV): | build
	@mkdir -p $(dir $(CSV))
	$(PQSTAGE) sample violations --rows $(ROWS) --out $(CSV) --spec-out $(SPEC)

$(SPEC): | build
	@mkdir -p $(dir $(SPEC))
	$(PQSTAGE) sample violations --spec-out $(SPEC)

## sample: generate ROWS rows of the violations sample (and its spec) under staging/_samples/
sample: $(CSV)

## convert: convert the sample into $(STAGE)/$(DATASET) with the checked-in spec
convert: build $(CSV) $(SPEC)
	$(PQSTAGE) convert $(CSV) --spec $(SPEC) --to $(STAGE) --dataset $(DATASET)

## status: show the staged dataset
status: build
	$(PQSTAGE) status $(STAGE) --dataset $(DATASET)

## demo: sample -> convert -> status, no server and no network needed
demo: convert status
	@echo
	@echo "Staged at $(STAGE)/violations (Hive layout, zstd Parquet, manifest in _manifest.json)."
	@echo "Try:  duckdb -c \"SELECT year, count(*) FROM read_parquet('$(STAGE)/violations/**/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY 1\""
	@echo "  or: python3 -c \"import pyarrow.dataset as ds; print(ds.dataset('$(STAGE)/violations', format='parquet', partitioning='hive').count_rows())\""

## test: every test: unit, property, end-to-end (the built binary), and other engines reading the staged layout
test: test-rust test-readers

test-rust:
	cargo test --release --locked --workspace

test-readers: build
	bash tests/readers/run.sh $(PQSTAGE)

## bench: convert benchmark against DuckDB and Polars (ROWS=18000000 by default there); see BENCHMARKS.md
bench: build
	bash bench/convert.sh

## lint: formatting and clippy with warnings as errors
lint:
	cargo fmt --all -- --check
	cargo clippy --release --locked --workspace --all-targets -- -D warnings

clean:
	rm -rf $(STAGE)/$(DATASET) $(SAMPLES) $(STAGE)/.pqstage-tmp
