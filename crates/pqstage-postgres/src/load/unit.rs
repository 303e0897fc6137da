//! One partition's unit of work, in one transaction: create the load table,
//! COPY the staged rows into it, index and analyse it, swap it in, record it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use pqstage_load::sql::{quote_ident, render};
use pqstage_load::{Counted, Job, LoadError, PartitionKey, StagedFiles, Step, TableName};
use pqstage_spec::OutputColumn;
use pqstage_stage::manifest::{FileEntry, PartitionEntry};
use pqstage_stage::verify::check_files;

use super::PgOptions;
use crate::encode::Constant;
use crate::error::PgError;
use crate::read::copy_files;
use crate::sql::{LOAD, STATE};
use crate::types::{check_and_bound, partition_names, pg_type};

/// What every worker shares.
pub(super) struct UnitCtx<'a> {
    pub job: &'a Job<'a>,
    pub opts: &'a PgOptions,
    pub parent: &'a TableName,
    /// The partition column.
    pub key: &'a str,
    pub columns: Vec<OutputColumn>,
    pub indexes: &'a [Vec<String>],
    /// The key's unique index's columns, when the spec has a key.
    pub unique_key: Option<&'a [String]>,
    pub attached: &'a BTreeMap<PartitionKey, String>,
    pub files: StagedFiles,
    /// Held while swapping: the swap is short, and serialising it keeps two
    /// partitions' DETACH/ATTACH from waiting on each other.
    pub swap: Mutex<()>,
}

/// `"name" type [NOT NULL], …` of the columns.
pub(super) fn column_definitions(columns: &[OutputColumn]) -> String {
    columns
        .iter()
        .map(|c| format!("{} {}{}", quote_ident(&c.name), pg_type(c.ty), if c.nullable { "" } else { " NOT NULL" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A partition's table names, quoted where SQL needs them.
struct Names {
    /// The attached partition's name, unquoted.
    final_name: String,
    /// `"schema"."final_name"`.
    final_: String,
    /// `"schema"."final_name_load"`: the table being loaded.
    load: String,
}

impl UnitCtx<'_> {
    /// Loads one partition, in one transaction: nothing of it is visible
    /// until the commit, and a failure (or a kill) rolls it all back.
    pub(super) fn load(&self, client: &mut postgres::Client, step: &Step<'_, PartitionEntry>) -> Result<(), PgError> {
        let entry = step.staged.expect("a loaded step has a staged unit");
        let (final_name, load_name) = partition_names(&self.parent.name, step.key.0);
        let names =
            Names { final_: self.parent.sibling(&final_name), load: self.parent.sibling(&load_name), final_name };
        let what = |w: &str| format!("{w} {} ({})", step.path, names.load);
        // The year's files: on a local stage where they are (checksums
        // checked just before the COPY reads them, so the disk is read once
        // into the page cache); on a remote one downloaded into the cache,
        // checked as they stream, and removed when this year is done.
        if let (StagedFiles::Local(dir), true) = (&self.files, self.job.request.options.verify_checksums) {
            check_files(dir, &[entry], true, Some(1), None).map_err(LoadError::from)?;
        }
        let files: Vec<&FileEntry> = entry.files.iter().collect();
        let fetched = self.files.fetch(
            self.job.request.stage,
            self.job.dataset(),
            &names.final_name,
            &files,
            4,
            self.job.request.runtime,
        )?;

        let mut tx = client.transaction().map_err(PgError::db(what("begin")))?;
        self.create_load_table(&mut tx, &names, step.key.0).map_err(PgError::db(what("create")))?;
        let copied = self.copy(&mut tx, &names, step, fetched.dir(), &what)?;
        LoadError::check_count(&self.parent.quoted(), &step.path, entry.rows, copied, Counted::Copied)?;
        self.index_and_analyze(&mut tx, &names).map_err(PgError::db(what("index and analyze")))?;
        let _swap = self.swap.lock().expect("swap lock");
        self.swap_in(&mut tx, &names, step.key).map_err(PgError::db(what("swap in")))?;
        let record = [
            &self.parent.schema as &(dyn postgres::types::ToSql + Sync),
            &self.parent.name,
            &step.path,
            &step.key.0,
            &names.final_name,
            &entry.checksum,
            &(entry.rows as i64),
            &self.job.dataset(),
        ];
        tx.execute(STATE.record_unit, &record).map_err(PgError::db(what("record")))?;
        tx.commit().map_err(PgError::db(what("commit")))
    }

    /// The standalone table, with the CHECK constraint of the partition's bound.
    fn create_load_table(
        &self,
        tx: &mut postgres::Transaction<'_>,
        names: &Names,
        key: Option<i64>,
    ) -> Result<(), postgres::Error> {
        let (check, _) = check_and_bound(&quote_ident(self.key), key);
        let sql = render(
            LOAD.create_load_table,
            &[
                ("table", &names.load),
                ("columns", &column_definitions(&self.columns)),
                ("check_name", &quote_ident(&format!("{}_bound", names.final_name))),
                ("check", &check),
                ("fillfactor", &self.opts.fillfactor.to_string()),
            ],
        );
        tx.batch_execute(&sql)
    }

    /// COPYs the partition's files, encoded from their Parquet batches, with
    /// the partition key as a constant last column. Returns the rows COPY
    /// reports.
    fn copy(
        &self,
        tx: &mut postgres::Transaction<'_>,
        names: &Names,
        step: &Step<'_, PartitionEntry>,
        dir: &Path,
        what: &dyn Fn(&str) -> String,
    ) -> Result<u64, PgError> {
        let entry = step.staged.expect("a loaded step has a staged unit");
        let list = self.columns.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
        let copy = render(LOAD.copy, &[("table", &names.load), ("names", &list)]);
        let constant = [Constant::Int4(step.key.0.map(|y| y as i32))];
        let file_columns: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).filter(|n| *n != self.key).collect();
        let paths = entry.files.iter().map(|f| dir.join(&f.path));
        copy_files(tx, &copy, paths, &file_columns, &constant, Some(self.job.request.progress), &what("copy into"))
    }

    /// The indexes, built after the data, and the statistics.
    fn index_and_analyze(&self, tx: &mut postgres::Transaction<'_>, names: &Names) -> Result<(), postgres::Error> {
        let mut ddl: Vec<String> = self
            .indexes
            .iter()
            .map(|cols| {
                let list = cols.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ");
                render(LOAD.create_index, &[("table", &names.load), ("columns", &list)])
            })
            .collect();
        if let Some(cols) = self.unique_key {
            let list = cols.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ");
            ddl.push(render(LOAD.create_unique_index, &[("table", &names.load), ("columns", &list)]));
        }
        if !self.opts.no_analyze {
            ddl.push(render(LOAD.analyze, &[("table", &names.load)]));
        }
        if ddl.is_empty() {
            return Ok(());
        }
        tx.batch_execute(&ddl.join("\n"))
    }

    /// Detaches and drops the old partition (or a leftover table of the
    /// final name), then renames the loaded table and attaches it.
    fn swap_in(
        &self,
        tx: &mut postgres::Transaction<'_>,
        names: &Names,
        key: PartitionKey,
    ) -> Result<(), postgres::Error> {
        let parent = self.parent.quoted();
        let detach = match self.attached.get(&key) {
            Some(old) => render(LOAD.detach_drop, &[("parent", &parent), ("partition", &self.parent.sibling(old))]),
            None => render(LOAD.drop_leftover, &[("partition", &names.final_)]),
        };
        let (_, bound) = check_and_bound(&quote_ident(self.key), key.0);
        let attach = render(
            LOAD.attach,
            &[
                ("load", &names.load),
                ("final_name", &quote_ident(&names.final_name)),
                ("parent", &parent),
                ("final", &names.final_),
                ("bound", &bound),
            ],
        );
        tx.batch_execute(&format!("{detach}\n{attach}"))
    }
}
