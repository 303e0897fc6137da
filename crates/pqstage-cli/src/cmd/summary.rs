//! `pqstage summary`: the summaries a load keeps of a table (tables next to
//! it in DuckDB and PostgreSQL; see `[target] summaries`), or a
//! trajectory dataset's counts, printed as aligned tables.

use crate::args::{Cli, SummaryArgs};
use crate::output::out;
use crate::Failure;

pub fn run(_cli: &Cli, a: &SummaryArgs) -> Result<(), Failure> {
    let (tables, label) = match &a.trajectories {
        Some(schema) => (pqstage_duckdb::run_trajectory_summary(&a.db, schema)?, format!("schema {schema}")),
        None => match a.db.to_str().filter(|d| d.starts_with("postgres://") || d.starts_with("postgresql://")) {
            Some(url) => {
                let table = pqstage_load::TableName::parse(&a.table, "public").map_err(anyhow::Error::from)?;
                (pqstage_postgres::summaries::read_summaries(Some(url), &table)?, a.table.clone())
            }
            None => (pqstage_duckdb::read_summaries(&a.db, &a.table)?, a.table.clone()),
        },
    };
    for (i, t) in tables.iter().enumerate() {
        if i > 0 {
            out("")?;
        }
        out(&format!("{} ({label})", t.title))?;
        let widths: Vec<usize> = (0..t.columns.len())
            .map(|c| t.rows.iter().map(|r| r[c].text.chars().count()).chain([t.columns[c].len()]).max().unwrap_or(0))
            .collect();
        let numeric: Vec<bool> = (0..t.columns.len()).map(|c| t.rows.iter().any(|r| r[c].numeric)).collect();
        let line = |cells: Vec<&str>| {
            cells
                .iter()
                .enumerate()
                .map(
                    |(c, s)| {
                        if numeric[c] {
                            format!("{s:>w$}", w = widths[c])
                        } else {
                            format!("{s:<w$}", w = widths[c])
                        }
                    },
                )
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        out(&line(t.columns.iter().map(String::as_str).collect()))?;
        out(&line(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect()))?;
        for r in &t.rows {
            out(&line(r.iter().map(|c| c.text.as_str()).collect()))?;
        }
    }
    Ok(())
}
