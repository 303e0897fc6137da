//! `_rejects/`: refused rows as CSV (source, line, column, value, reason, record),
//! readable by people, spreadsheets and every CSV reader.

use std::io::Write;
use std::path::PathBuf;

use super::sink::HashingFile;
use crate::error::{ConvertError, RowError};

/// Header of a rejects file.
pub const HEADER: &str = "source,line,column,value,reason,record\n";

/// Writes refused rows to a scratch file.
pub struct RejectsWriter {
    out: HashingFile,
    /// Rows written.
    pub rows: u64,
}

fn push_field(line: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&s.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(s);
    }
}

impl RejectsWriter {
    /// Creates the scratch file (with direct I/O if `direct_io` and the file
    /// system allows it).
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(path: PathBuf, direct_io: bool) -> Result<Self, ConvertError> {
        let mut w = Self { out: HashingFile::create(&path, 64 << 10, direct_io)?, rows: 0 };
        w.put(HEADER)?;
        Ok(w)
    }

    fn put(&mut self, s: &str) -> Result<(), ConvertError> {
        self.out.write_all(s.as_bytes()).map_err(ConvertError::io("writing", self.out.path()))
    }

    /// Appends one refused row.
    ///
    /// # Errors
    /// When writing fails.
    pub fn write(&mut self, e: &RowError) -> Result<(), ConvertError> {
        let mut line = String::with_capacity(e.record.len() + 96);
        push_field(&mut line, &e.source);
        line.push(',');
        line.push_str(&e.line.to_string());
        line.push(',');
        push_field(&mut line, e.column.as_deref().unwrap_or(""));
        line.push(',');
        push_field(&mut line, e.value.as_deref().unwrap_or(""));
        line.push(',');
        push_field(&mut line, &e.reason);
        line.push(',');
        push_field(&mut line, &e.record);
        line.push('\n');
        self.put(&line)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes; returns the scratch path, checksum and size.
    ///
    /// # Errors
    /// When flushing fails.
    pub fn finish(self) -> Result<(PathBuf, String, u64), ConvertError> {
        self.out.finish()
    }
}
