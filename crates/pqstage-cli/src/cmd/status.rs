//! `pqstage status`.

use crate::args::{Cli, StatusArgs};
use crate::output::{bytes, count, out};
use crate::Failure;

pub fn run(cli: &Cli, a: &StatusArgs) -> Result<(), Failure> {
    let (stage, m) = super::open_dataset(&a.store, &a.stage, a.dataset.as_deref())?;
    if a.json {
        out(&serde_json::to_string_pretty(&m).expect("serializes"))?;
        return Ok(());
    }
    out(&format!("dataset     {} ({})", m.dataset, stage.display(&m.dataset, "")))?;
    out(&format!("written     {} by {}", m.created_at, m.created_by))?;
    for s in &m.sources {
        out(&format!(
            "source      {} ({}, {} rows, {} {})",
            s.path,
            bytes(s.size),
            count(s.rows),
            m.checksum_algorithm,
            s.checksum
        ))?;
    }
    for t in &m.tables {
        let files: usize = t.partitions.iter().map(|p| p.files.len()).sum();
        let size: u64 = t.partitions.iter().map(|p| p.bytes).sum();
        if m.tables.len() > 1 {
            out("")?;
            out(&format!("table       {} ({}/)", t.name, t.path))?;
        }
        out(&format!(
            "rows        {} read = {} written + {} rejected",
            count(t.rows_read),
            count(t.rows_written),
            count(t.rows_rejected)
        ))?;
        let keyed: Vec<i64> = t.partitions.iter().filter_map(|p| p.value).collect();
        let range = match (keyed.first(), keyed.last(), t.partition_column.as_deref()) {
            (Some(a), Some(b), Some(c)) => format!(", {c} {a}..{b}"),
            _ => String::new(),
        };
        let null = if t.partitions.iter().any(|p| p.value.is_none() && p.key.is_none()) && t.partition_column.is_some()
        {
            " + NULL"
        } else {
            ""
        };
        out(&format!("partitions  {}{range}{null}: {} files, {}", t.partitions.len(), files, bytes(size)))?;
        if t.rows_rejected > 0 {
            for f in &t.rejects.files {
                out(&format!("rejects     {} rows in {}", count(f.rows), stage.display(&m.dataset, &f.path)))?;
            }
        }
        if cli.verbose || t.partitions.len() <= 100 {
            let w = t.partitions.iter().map(|p| p.path.len()).max().unwrap_or(0).max(36);
            out("")?;
            out(&format!("{:<w$} {:>12} {:>6} {:>10}  checksum", "partition", "rows", "files", "size"))?;
            for p in &t.partitions {
                let name = if p.path.is_empty() { "(unpartitioned)" } else { &p.path };
                out(&format!(
                    "{name:<w$} {:>12} {:>6} {:>10}  {}",
                    count(p.rows),
                    p.files.len(),
                    bytes(p.bytes),
                    &p.checksum[..16]
                ))?;
            }
        }
    }
    Ok(())
}
