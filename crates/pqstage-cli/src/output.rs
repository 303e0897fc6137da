//! Printing results to stdout and notes to stderr, and size/number formatting.

use std::io::Write;

/// Whether an error is (or wraps) a broken pipe: the reader went away.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Writes a result line to stdout.
///
/// # Errors
/// The I/O error, so a broken pipe ends the command quietly.
pub fn out(line: &str) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(line.as_bytes())?;
    o.write_all(b"\n")
}

/// Bytes as "2.87 GB" (decimal units, like `du --si`).
pub fn bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < units.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", units[u])
    }
}

/// Parses "512MB", "1GiB", "1000000" into bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("bad size '{s}' (e.g. 512MB, 1GiB, 1000000)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(format!("bad size unit in '{s}' (B, kB, MB, GB, KiB, MiB, GiB)")),
    };
    Ok((num * mult as f64) as u64)
}

pub use pqstage_stage::fmt::group_digits as count;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MB"), Ok(512_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1.5 kb"), Ok(1500));
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(2_870_000_000), "2.87 GB");
    }
}
