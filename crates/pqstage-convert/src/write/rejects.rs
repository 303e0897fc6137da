//! `_rejects/`: refused rows as CSV (source, line, column, value, reason, record),
//! readable by people, spreadsheets and every CSV reader. The record is kept
//! byte for byte as it was read (in UTF-8 after transcoding), even where its
//! bytes are not text: the value column shows those as `\xNN`.

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

fn push_field(line: &mut Vec<u8>, s: &[u8]) {
    if s.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        line.push(b'"');
        for &b in s {
            if b == b'"' {
                line.push(b'"');
            }
            line.push(b);
        }
        line.push(b'"');
    } else {
        line.extend_from_slice(s);
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
        w.put(HEADER.as_bytes())?;
        Ok(w)
    }

    fn put(&mut self, s: &[u8]) -> Result<(), ConvertError> {
        self.out.write_all(s).map_err(ConvertError::io("writing", self.out.path()))
    }

    /// Appends one refused row.
    ///
    /// # Errors
    /// When writing fails.
    pub fn write(&mut self, e: &RowError) -> Result<(), ConvertError> {
        let mut line = Vec::with_capacity(e.record.len() + 96);
        push_field(&mut line, e.source.as_bytes());
        line.push(b',');
        line.extend_from_slice(e.line.to_string().as_bytes());
        line.push(b',');
        push_field(&mut line, e.column.as_deref().unwrap_or("").as_bytes());
        line.push(b',');
        push_field(&mut line, e.value.as_deref().unwrap_or("").as_bytes());
        line.push(b',');
        push_field(&mut line, e.reason.as_bytes());
        line.push(b',');
        push_field(&mut line, &e.record);
        line.push(b'\n');
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
