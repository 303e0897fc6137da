//! `pqstage summary`: the sample's summary queries (`sql/duckdb/`), run
//! against a loaded DuckDB table and printed as aligned tables.

use pqstage_sample::{summary_queries, Dataset};

use crate::args::{Cli, SummaryArgs};
use crate::output::out;
use crate::Failure;

pub fn run(_cli: &Cli, a: &SummaryArgs) -> Result<(), Failure> {
    let (tables, label) = match &a.trajectories {
        Some(schema) => (pqstage_duckdb::run_trajectory_summary(&a.db, schema)?, format!("schema {schema}")),
        None => (pqstage_duckdb::run_queries(&a.db, &a.table, summary_queries(Dataset::Violations))?, a.table.clone()),
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
