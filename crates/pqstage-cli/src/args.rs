//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// CSV to typed, year-partitioned Parquet, staged once (on disk or in an object
/// store) and loaded into DuckDB or PostgreSQL quickly and incrementally.
#[derive(Debug, Parser)]
#[command(name = "pqstage", version, max_term_width = 100)]
pub struct Cli {
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more detail (per-partition tables, timings).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Never draw a progress bar (it is drawn only when stderr is a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate deterministic, realistic sample data: violations CSV or trajectory sessions.
    Sample(SampleArgs),
    /// Read CSV files and print an editable spec (TOML) for them.
    Infer(InferArgs),
    /// Convert CSV files into a staged dataset of typed, partitioned Parquet.
    Convert(ConvertArgs),
    /// Show a staged dataset's manifest: partitions, rows, sizes, rejects, sources.
    Status(StatusArgs),
    /// Load a staged dataset into a database.
    #[command(subcommand)]
    Load(LoadCommand),
    /// Print the summary queries of sql/duckdb/ for a loaded table, as aligned tables.
    Summary(SummaryArgs),
    /// Copy a staged dataset to another stage (say local to S3): data first, manifest last.
    Copy(CopyArgs),
    /// List, or with --yes delete, objects of a stage that no manifest names.
    Gc(GcArgs),
    /// Print the statements that declare a staged table, where it lies, in Spark, Trino or DuckDB.
    Ddl(DdlArgs),
}

/// Settings of remote stores, for the commands that open a stage.
#[derive(Debug, Args, Default)]
pub struct StoreArgs {
    /// A setting for s3://, gs:// and az:// stages, over the environment's
    /// (e.g. aws_endpoint=http://127.0.0.1:9000, allow_http=true,
    /// max_retries=3, retry_timeout=60). Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub storage_option: Vec<String>,
}

/// `pqstage copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Stage root or dataset folder to copy from.
    pub src: String,
    /// Stage root to copy into; the dataset goes to DST/DATASET/.
    pub dst: String,
    /// Dataset under SRC (default: the only one, or SRC itself).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Files copied at once (default: 8).
    #[arg(long, default_value_t = 8)]
    pub jobs: usize,
    /// Remote store settings.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `pqstage gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Stage root.
    pub stage: String,
    /// Delete them (without it, only list them).
    #[arg(long)]
    pub yes: bool,
    /// Leave objects younger than this alone, so a convert running now keeps
    /// its files: seconds, or with s, m, h or d (0 to take everything).
    #[arg(long, value_name = "AGE", default_value = "1h")]
    pub min_age: String,
    /// Remote store settings.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `pqstage load`.
#[derive(Debug, Subcommand)]
pub enum LoadCommand {
    /// Load into a DuckDB file: new and changed partitions only, in one transaction.
    Duckdb(LoadDuckdbArgs),
    /// Load into a year-partitioned PostgreSQL table: binary COPY, one transaction per year, swapped in.
    Postgres(LoadPostgresArgs),
}

/// `pqstage load postgres`.
#[derive(Debug, Args)]
pub struct LoadPostgresArgs {
    /// Stage root or dataset folder: a folder, file://, s3://, gs://, az:// or abfss:// URL.
    pub stage: String,
    /// postgres://user@host[:port]/database?sslmode=verify-full&… or libpq's key=value pairs,
    /// completed as libpq does from PGSERVICE, PG* variables and ~/.pgpass (default: those alone).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Target table (default: the staged table's name).
    #[arg(long)]
    pub table: Option<String>,
    /// Trajectory datasets: load each episode in a transaction of its own even
    /// into empty tables, keys and indexes live (a first load otherwise makes
    /// foreign keys and secondary indexes after the data: on --jobs
    /// connections as pg_restore does, or in one transaction with --jobs 1).
    #[arg(long)]
    pub per_episode: bool,
    /// Schema of the target table.
    #[arg(long, default_value = "public")]
    pub schema: String,
    /// Dataset under the stage root (default: the only one, or STAGE itself).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Years (trajectories: episodes) loaded at once, each on its own connection (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// An index besides the spec's, e.g. --index company_name,year. Repeatable.
    #[arg(long, value_name = "COLS", conflicts_with = "no_indexes")]
    pub index: Vec<String>,
    /// Build no indexes (not even the spec's); for loading first and indexing later.
    #[arg(long)]
    pub no_indexes: bool,
    /// Skip ANALYZE of the loaded partitions (trajectory datasets: of the tables a first load
    /// filled) and leave their statistics to autovacuum; for loads followed at once by a
    /// rewrite or a manual ANALYZE.
    #[arg(long)]
    pub no_analyze: bool,
    /// Only these partitions, e.g. 2019,2020 (`null` is the NULL partition). Repeatable.
    #[arg(long, value_name = "YEARS", value_delimiter = ',')]
    pub years: Vec<String>,
    /// Reload every selected partition, even unchanged ones.
    #[arg(long)]
    pub force: bool,
    /// Reload changed partitions whole, never applying the dataset's change sets.
    #[arg(long)]
    pub no_patch: bool,
    /// Leave the summaries the spec names ([target] summaries) as they are: no summary table made or brought up to date.
    #[arg(long)]
    pub no_summaries: bool,
    /// Apply a partition's change sets only when they change at most this percentage of its rows (else reload it whole).
    #[arg(long, value_name = "PCT", default_value_t = 25.0)]
    pub patch_limit: f64,
    /// Percent of each page a loaded partition fills, 10-100 (default: 90 when the spec has a key, so updates of change sets find room on their page, else 100).
    /// Trajectory datasets: set on observations and extended_properties for the pages written
    /// from then on (default: the spec's [postgres] fillfactor on tables the load creates, 50 in
    /// the boids spec, else theirs as it is); 50 lets a re-simulated episode be rewritten in
    /// place, at twice the space, 100 packs the pages full.
    #[arg(long, value_name = "PCT", value_parser = clap::value_parser!(u8).range(10..=100))]
    pub fillfactor: Option<u8>,
    /// How change sets' inserted and updated rows are written: update-insert (UPDATE of the rows the key look-up found, through their addresses, then INSERT of the new ones), merge (one MERGE on the key; delete-insert before PostgreSQL 15), on-conflict (INSERT … ON CONFLICT) or delete-insert.
    #[arg(long, value_name = "HOW", default_value = "update-insert", value_parser = ["update-insert", "merge", "on-conflict", "delete-insert"])]
    pub upsert: String,
    /// Skip checking the staged files' checksums against the manifest.
    #[arg(long)]
    pub no_verify: bool,
    /// Folder for the local cache of a remote stage's files (default: the system temp folder).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Remote store settings.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `pqstage load duckdb`.
#[derive(Debug, Args)]
pub struct LoadDuckdbArgs {
    /// Stage root or dataset folder: a folder, file://, s3://, gs://, az:// or abfss:// URL.
    pub stage: String,
    /// The DuckDB database file (created if missing).
    #[arg(long, value_name = "FILE.duckdb")]
    pub db: PathBuf,
    /// Target table, NAME or SCHEMA.NAME (default: the staged table's name).
    #[arg(long)]
    pub table: Option<String>,
    /// Schema of a trajectory dataset's tables (sessions, episodes, observations, …).
    #[arg(long, default_value = "main")]
    pub schema: String,
    /// Dataset under the stage root (default: the only one, or STAGE itself).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Only these partitions, e.g. 2019,2020 (`null` is the NULL partition). Repeatable.
    #[arg(long, value_name = "YEARS", value_delimiter = ',')]
    pub years: Vec<String>,
    /// Reload every selected partition, even unchanged ones.
    #[arg(long)]
    pub force: bool,
    /// Reload changed partitions whole, never applying the dataset's change sets.
    #[arg(long)]
    pub no_patch: bool,
    /// Leave the summaries the spec names ([target] summaries) as they are: no summary table made or brought up to date.
    #[arg(long)]
    pub no_summaries: bool,
    /// Apply a partition's change sets only when they change at most this percentage of its rows (else reload it whole).
    #[arg(long, value_name = "PCT", default_value_t = 25.0)]
    pub patch_limit: f64,
    /// Let DuckDB's checkpoint compact the table's deleted rows once they pass this percentage of its
    /// stored rows; below it they stay in the file, marked deleted (0: at every load, as DuckDB does).
    #[arg(long, value_name = "PCT", default_value_t = pqstage_duckdb::DEFAULT_VACUUM_ABOVE * 100.0)]
    pub vacuum_above: f64,
    /// DuckDB worker threads (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Most memory DuckDB may hold (e.g. 192MB, 2GiB): its cached blocks, indexes and operators'
    /// working memory; past it DuckDB evicts or spills, or fails a statement that cannot fit.
    /// With it, and for every trajectory dataset, DuckDB's allocator returns freed memory to the
    /// system at once rather than keeping it for reuse (set through DUCKDB_JE_MALLOC_CONF, so
    /// the command starts itself again; settings of your own there win), which keeps the
    /// process near the limit. Default: DuckDB's, 80% of RAM.
    #[arg(long, value_name = "BYTES")]
    pub memory_limit: Option<String>,
    /// Skip checking the staged files' checksums against the manifest.
    #[arg(long)]
    pub no_verify: bool,
    /// Most bytes of a remote stage's files cached at once (e.g. 512MB, 2GiB): two groups of
    /// files of half this, one loading while the next downloads.
    #[arg(long, value_name = "BYTES", default_value = "1GiB")]
    pub cache_size: String,
    /// Folder for the local cache of a remote stage's files (default: the system temp folder).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Remote store settings.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `pqstage summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The DuckDB database file, or a PostgreSQL URL (postgres://…): where the table was loaded.
    #[arg(long, value_name = "FILE.duckdb|URL")]
    pub db: PathBuf,
    /// The table, NAME or SCHEMA.NAME (PostgreSQL's default schema: public).
    #[arg(long, default_value = "violations")]
    pub table: String,
    /// Summarize the trajectory tables in this schema instead (rows per episode, values per property).
    #[arg(long, value_name = "SCHEMA", conflicts_with = "table")]
    pub trajectories: Option<String>,
}

/// `pqstage sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Which dataset: violations (one CSV file) or trajectories (session folders).
    pub dataset: String,
    /// Number of data rows (violations only; default 1000000).
    #[arg(long)]
    pub rows: Option<u64>,
    /// Output: the CSV file of violations ("-" for stdout), the folder of trajectories.
    /// Required unless only --spec-out is wanted.
    #[arg(long, required_unless_present = "spec_out")]
    pub out: Option<PathBuf>,
    /// Random seed; the same seed and options give the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Generator threads (violations only; default: the number of cores). Does not change the output.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Violations: a later dump of the same --rows records (1, 2, ...): 0.2% of them removed, 1% corrected, 0.5% new rows added.
    #[arg(long, value_name = "N")]
    pub revision: Option<u64>,
    /// Violations, with --revision: what of the dump to write: whole, changes (its corrected and added
    /// rows only, a file for `convert --mode merge`), added (its new rows only, for `--mode append`) or
    /// removed-keys (activity_nr,citation_id of the rows it removed, for `convert --deletes`).
    #[arg(long, value_enum, default_value = "whole", hide_possible_values = true)]
    pub part: SamplePart,
    /// Also write the dataset's checked-in spec (TOML) here.
    #[arg(long, value_name = "FILE")]
    pub spec_out: Option<PathBuf>,
    /// Layout of the session folders: boids (simulator runs, Parquet episodes; spec boids_3d)
    /// or tracking (video tracks and boxes as CSV; spec tracking). Default: boids.
    #[arg(long, value_name = "SOURCE", help_heading = "Trajectories")]
    pub source: Option<pqstage_sample::Source>,
    /// Session folders (default 1).
    #[arg(long, value_name = "N", help_heading = "Trajectories")]
    pub sessions: Option<u32>,
    /// Boids: episode files per session (default 3).
    #[arg(long, value_name = "N", help_heading = "Trajectories")]
    pub episodes: Option<u32>,
    /// Boids: agents (default 30).
    #[arg(long, value_name = "N", help_heading = "Trajectories")]
    pub agents: Option<u32>,
    /// Boids: targets, the `env` rows (default 1).
    #[arg(long, value_name = "N", help_heading = "Trajectories")]
    pub targets: Option<u32>,
    /// Frames per episode (default: 3001 for boids, 900 for tracking).
    #[arg(long, value_name = "N", help_heading = "Trajectories")]
    pub frames: Option<u64>,
    /// Tracking: cameras per session, cam_a, cam_b, ... (default 2).
    #[arg(long, value_name = "N", help_heading = "Trajectories")]
    pub cameras: Option<u32>,
    /// Tracking: tracks per camera (default 20).
    #[arg(long, value_name = "N", help_heading = "Trajectories")]
    pub tracks: Option<u32>,
}

/// What of a sample dump `pqstage sample --part` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplePart {
    /// Every row.
    Whole,
    /// A revision's corrected and added rows.
    Changes,
    /// A revision's added rows.
    Added,
    /// The keys of a revision's removed rows.
    RemovedKeys,
}

/// `pqstage infer`.
#[derive(Debug, Args)]
pub struct InferArgs {
    /// CSV files (same columns).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Partition key, e.g. 'year(issuance_date)'.
    #[arg(long, value_name = "EXPR")]
    pub partition_by: Option<String>,
    /// Look at the first N rows only (faster, may guess too narrow a type).
    #[arg(long, value_name = "N")]
    pub sample_rows: Option<u64>,
    /// Add a derived column, e.g. 'company_name_normalized=normalize_name(company_name)'. Repeatable.
    #[arg(long, value_name = "NAME=EXPR")]
    pub derive: Vec<String>,
    /// Dataset name (default: the first file's name without extension).
    #[arg(long)]
    pub name: Option<String>,
    /// Field delimiter (default: guessed from the header line).
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Text encoding: utf-8 (default), utf-16, utf-16le, utf-16be, latin-1 or windows-1252. A byte-order mark overrides it.
    #[arg(long, value_name = "ENCODING")]
    pub encoding: Option<String>,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Write the spec here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// How `infer` (and `convert` without a spec) finds the table in a file.
#[derive(Debug, Args)]
pub struct LayoutArgs {
    /// Whether the first line names the columns: auto (decided from the data: it is a row when all its values fit the columns' types), yes or no. With --spec, yes or no overrides its dialect.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "yes", "no"])]
    pub header: String,
    /// Lines before the table to skip (a title, notes); found from the data by default, and over the spec's dialect with --spec.
    #[arg(long, value_name = "N")]
    pub skip_lines: Option<u32>,
    /// A character that starts comment lines (e.g. '#'): lines that begin with it are not records. Over the spec's dialect with --spec.
    #[arg(long, value_name = "CHAR")]
    pub comment: Option<char>,
}

/// `pqstage convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// CSV files, read in order (same columns); gzip, bzip2 and zstd are read as is; `-` is standard input.
    /// With a trajectory spec (kind = "trajectories"): session folders.
    #[arg(required_unless_present = "deletes")]
    pub files: Vec<PathBuf>,
    /// Stage root: a folder, file://, s3://, gs://, az://, abfss:// or memory:// URL. The dataset goes to STAGE/DATASET/.
    #[arg(long, value_name = "STAGE")]
    pub to: String,
    /// The spec (schema lock). Without it, one is inferred from the whole input.
    #[arg(long, value_name = "SPEC.toml", conflicts_with = "partition_by")]
    pub spec: Option<PathBuf>,
    /// Partition key when inferring, e.g. 'year(issuance_date)'.
    #[arg(long, value_name = "EXPR")]
    pub partition_by: Option<String>,
    /// Dataset name (default: the spec's name, else the first file's name).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Worker threads (default: the number of cores). Does not change the output.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Text encoding of the files (over the spec's): utf-8, utf-16, utf-16le, utf-16be, latin-1 or windows-1252. A byte-order mark overrides it.
    #[arg(long, value_name = "ENCODING")]
    pub encoding: Option<String>,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// Read a file given twice, or one with the same bytes as another (refused by default: its rows would be staged twice).
    #[arg(long)]
    pub allow_same_source: bool,
    /// Keep bad rows under _rejects/ and go on, instead of stopping at the first.
    #[arg(long)]
    pub rejects: bool,
    /// Fail (exit 1) once more than N rows are refused; implies --rejects.
    #[arg(long, value_name = "N")]
    pub max_rejects: Option<u64>,
    /// Parquet compression: zstd, zstd:LEVEL, snappy or none.
    #[arg(long, default_value = "zstd")]
    pub compression: String,
    /// With a [target] key: versions whose change sets are kept, so a target up to N versions behind loads only the changed rows.
    #[arg(long, value_name = "N", default_value_t = pqstage_convert::DEFAULT_KEEP_VERSIONS)]
    pub keep_versions: u64,
    /// What the files are: snapshot (a whole dump: the new version holds exactly their rows), merge (new and
    /// updated records: each replaces the staged row with its [target] key or adds one, the other staged rows
    /// stay) or append (rows to add: files converted before, same name and bytes, are not read again).
    #[arg(long, value_name = "MODE", default_value = "snapshot")]
    pub mode: String,
    /// With --mode merge: a CSV file of keys to delete (a header naming the [target] key columns, one key a
    /// row, in the spec's dialect and formats). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub deletes: Vec<PathBuf>,
    /// Rows per Parquet row group.
    #[arg(long, value_name = "N")]
    pub row_group_rows: Option<usize>,
    /// Start a new file in a partition once a file reaches this size (e.g. 512MB, 1GiB).
    #[arg(long, value_name = "BYTES")]
    pub file_size: Option<String>,
    /// Folder for scratch files (default: inside a local stage, else the system temp folder).
    #[arg(long, value_name = "DIR")]
    pub tmp_dir: Option<PathBuf>,
    /// Write scratch and staged files through the page cache instead of with
    /// direct I/O (O_DIRECT, Linux). Same output; for file systems where direct
    /// I/O is slow.
    #[arg(long)]
    pub buffered_io: bool,
    /// Bytes per parse chunk (tests use it to prove chunking does not change the output).
    #[arg(long, hide = true)]
    pub chunk_size: Option<usize>,
    /// Remote store settings.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `pqstage ddl`.
#[derive(Debug, Args)]
pub struct DdlArgs {
    /// Stage root or dataset folder: a folder, file://, s3://, gs://, az:// or abfss:// URL.
    pub stage: String,
    /// The engine: spark (Spark SQL), trino (its Hive connector) or duckdb (a view).
    #[arg(long, value_enum)]
    pub engine: DdlEngineArg,
    /// Dataset under the stage root (default: the only one, or STAGE itself).
    #[arg(long)]
    pub dataset: Option<String>,
    /// The table's name in the engine (default: the staged table's name).
    #[arg(long)]
    pub table: Option<String>,
    /// The Azure storage account of an az:// stage, for Spark's and Trino's abfss:// location
    /// (default: AZURE_STORAGE_ACCOUNT_NAME).
    #[arg(long)]
    pub azure_account: Option<String>,
    /// Remote store settings.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Engines `pqstage ddl` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DdlEngineArg {
    /// Spark SQL: CREATE TABLE … USING parquet PARTITIONED BY … LOCATION, then RECOVER PARTITIONS.
    Spark,
    /// Trino's Hive connector: CREATE TABLE … WITH (external_location, partitioned_by), then
    /// sync_partition_metadata.
    Trino,
    /// DuckDB: CREATE OR REPLACE VIEW over read_parquet with hive partitioning.
    Duckdb,
}

/// `pqstage status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Stage root or dataset folder: a folder, file://, s3://, gs://, az:// or abfss:// URL.
    pub stage: String,
    /// Dataset under the stage root (default: the only one, or STAGE itself).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
    /// Remote store settings.
    #[command(flatten)]
    pub store: StoreArgs,
}
