//! A file writer that checksums and counts what passes through it, so a
//! finished file's manifest entry needs no second read.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use pqstage_stage::manifest::Checksummer;

use crate::error::ConvertError;

/// A buffered scratch file with a running checksum and byte count.
pub struct HashingFile {
    inner: BufWriter<File>,
    path: PathBuf,
    hasher: Checksummer,
    bytes: u64,
}

impl HashingFile {
    /// Creates `path` with a write buffer of `buffer` bytes.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(path: &Path, buffer: usize) -> Result<Self, ConvertError> {
        let file = File::create(path).map_err(ConvertError::io("creating", path))?;
        Ok(Self {
            inner: BufWriter::with_capacity(buffer, file),
            path: path.into(),
            hasher: Checksummer::new(),
            bytes: 0,
        })
    }

    /// Flushes; returns the file's path, checksum and size.
    ///
    /// # Errors
    /// When flushing fails.
    pub fn finish(mut self) -> Result<(PathBuf, String, u64), ConvertError> {
        self.inner.flush().map_err(ConvertError::io("writing", &self.path))?;
        Ok((self.path, self.hasher.finish(), self.bytes))
    }

    /// The file being written, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
