//! Scratch files written and read around the page cache (`O_DIRECT` on Linux).
//!
//! The spill is written once, read back once or twice, and deleted. Through
//! the page cache every byte is copied into the kernel and out again, and
//! each new page-cache page has to be found and, on a virtual machine, often
//! backed by the host first. On the project's VM, writing 2 GB into new
//! page-cache pages cost 3.2 s of system CPU, against 0.46 s with `O_DIRECT`;
//! reading 2.9 GB from the disk through the page cache 5.0 s, and 2 GB with
//! `O_DIRECT` 0.11 s. Direct I/O also leaves the page cache to
//! the user's own data (the CSV being read, a database's files) instead of
//! filling it with scratch bytes.
//!
//! Direct I/O needs block-aligned buffers, offsets and lengths. Writers carry
//! the unaligned tail of each write over to the next one and pad the last
//! block with zeros; readers stop at the logical length the writer reports.
//! Where the file system refuses `O_DIRECT` (tmpfs, for one), the same code
//! runs through the page cache.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Alignment of buffers, offsets and lengths: the largest logical block size
/// in common use, so it satisfies any file system that takes `O_DIRECT`.
pub const BLOCK: usize = 4096;

/// Bytes read from disk at a time.
pub const READ_CHUNK: usize = 1 << 20;

/// A byte buffer whose contents start at a [`BLOCK`]-aligned address.
/// (A plain `Vec` with room to slide its start, so no unsafe code.)
#[derive(Default)]
pub struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// An empty buffer that holds `capacity` bytes without growing.
    pub fn with_capacity(capacity: usize) -> Self {
        let raw = vec![0u8; capacity + BLOCK];
        let start = raw.as_ptr().align_offset(BLOCK);
        Self { raw, start, len: 0 }
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    fn capacity(&self) -> usize {
        self.raw.len() - self.start
    }

    /// The bytes held.
    pub fn as_slice(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }

    /// Empties the buffer, keeping its memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    fn reserve(&mut self, more: usize) {
        let need = self.len + more;
        if need <= self.capacity() {
            return;
        }
        let mut grown = Self::with_capacity(need.max(2 * self.capacity()).next_multiple_of(BLOCK));
        grown.extend_from_slice(self.as_slice());
        *self = grown;
    }

    /// Appends bytes.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        let at = self.start + self.len;
        self.raw[at..at + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Pads with zeros to a whole number of blocks.
    pub fn pad_to_block(&mut self) {
        let padded = self.len.next_multiple_of(BLOCK);
        self.reserve(padded - self.len);
        let at = self.start + self.len;
        self.raw[at..self.start + padded].fill(0);
        self.len = padded;
    }

    /// Keeps the first `n` bytes.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    /// Drops the first `n` bytes (a multiple of [`BLOCK`]), keeping the rest
    /// at the aligned start.
    pub fn consume_front(&mut self, n: usize) {
        debug_assert!(n % BLOCK == 0 && n <= self.len);
        self.raw.copy_within(self.start + n..self.start + self.len, self.start);
        self.len -= n;
    }

    /// The first `len` bytes of the buffer's memory, aligned, for a read to
    /// fill (growing it if need be); the caller sets `len` after.
    fn spare(&mut self, len: usize) -> &mut [u8] {
        self.reserve(len.saturating_sub(self.len));
        &mut self.raw[self.start..self.start + len]
    }
}

impl io::Write for AlignedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Opens `path` for writing at explicit offsets, bypassing the page cache
/// when `*direct` and the file system allows it (else clears `*direct`).
///
/// # Errors
/// Whatever opening the file returns.
pub fn open_write(path: &Path, create: bool, direct: &mut bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(create).truncate(create);
    open_maybe_direct(o, path, direct)
}

/// Opens `path` for reading, bypassing the page cache when `*direct` and the
/// file system allows it (else clears `*direct`).
///
/// # Errors
/// Whatever opening the file returns.
pub fn open_read(path: &Path, direct: &mut bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true);
    open_maybe_direct(o, path, direct)
}

fn open_maybe_direct(o: OpenOptions, path: &Path, direct: &mut bool) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    if *direct {
        use std::os::unix::fs::OpenOptionsExt;
        let mut d = o.clone();
        d.custom_flags(libc::O_DIRECT);
        match d.open(path) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => *direct = false,
            other => return other,
        }
    }
    *direct = false;
    o.open(path)
}

/// Writes the whole blocks of `buf` at `offset` and keeps the unaligned rest
/// in `buf`; with `last`, pads the rest to a block and writes it too.
/// Returns the bytes written (a multiple of [`BLOCK`]). Should the file
/// system take `O_DIRECT` at open but refuse the write, `file` is reopened
/// through the page cache (clearing `*direct`) and the write retried.
///
/// # Errors
/// Whatever writing returns (disk full …).
pub fn write_blocks(
    file: &mut File,
    path: &Path,
    direct: &mut bool,
    buf: &mut AlignedBuf,
    offset: u64,
    last: bool,
) -> io::Result<u64> {
    if last {
        buf.pad_to_block();
    }
    let whole = buf.len() / BLOCK * BLOCK;
    match file.write_all_at(&buf.as_slice()[..whole], offset) {
        Err(e) if *direct && e.kind() == io::ErrorKind::InvalidInput => {
            *direct = false;
            *file = OpenOptions::new().write(true).open(path)?;
            file.write_all_at(&buf.as_slice()[..whole], offset)?;
        }
        other => other?,
    }
    buf.consume_front(whole);
    Ok(whole as u64)
}

/// Buffers a [`BlockWriter`] has queued or being written, besides the one its
/// caller fills.
const WRITE_BEHIND: usize = 2;

/// Writes whole blocks at given offsets on a thread of its own, so the caller
/// goes on encoding while the disk works. A direct write waits for the
/// device: about 1 ms per MiB here, 0.44 s of each encode worker's 10 s phase
/// two when the workers wrote their own files.
pub struct BlockWriter {
    jobs: Option<crossbeam_channel::Sender<(AlignedBuf, u64)>>,
    recycled: crossbeam_channel::Receiver<AlignedBuf>,
    thread: Option<std::thread::JoinHandle<io::Result<File>>>,
    capacity: usize,
}

impl BlockWriter {
    /// Takes over `file` (opened by [`open_write`]; `direct` as it returned),
    /// handing back buffers of `capacity` bytes.
    pub fn new(mut file: File, path: &Path, mut direct: bool, capacity: usize) -> Self {
        let (jobs, queued) = crossbeam_channel::bounded::<(AlignedBuf, u64)>(WRITE_BEHIND - 1);
        let (recycle, recycled) = crossbeam_channel::bounded(WRITE_BEHIND);
        let path = path.to_path_buf();
        let thread = std::thread::spawn(move || {
            for (mut buf, offset) in queued {
                write_blocks(&mut file, &path, &mut direct, &mut buf, offset, false)?;
                buf.clear();
                let _ = recycle.try_send(buf);
            }
            Ok(file)
        });
        Self { jobs: Some(jobs), recycled, thread: Some(thread), capacity }
    }

    /// Queues the first `whole` bytes of `buf` (whole blocks) to be written
    /// at `offset`; returns a buffer holding the rest, to fill next.
    ///
    /// # Errors
    /// The error of an earlier write that failed (the writer stops at it).
    pub fn submit(&mut self, mut buf: AlignedBuf, whole: usize, offset: u64) -> io::Result<AlignedBuf> {
        debug_assert!(whole % BLOCK == 0 && whole <= buf.len());
        let mut next = self.recycled.try_recv().unwrap_or_else(|_| AlignedBuf::with_capacity(self.capacity));
        next.extend_from_slice(&buf.as_slice()[whole..]);
        buf.truncate(whole);
        if self.jobs.as_ref().expect("open until finish").send((buf, offset)).is_err() {
            return Err(self.join().err().unwrap_or_else(|| io::Error::other("block writer stopped")));
        }
        Ok(next)
    }

    /// Waits for every queued write and returns the file.
    ///
    /// # Errors
    /// The first write that failed.
    pub fn finish(mut self) -> io::Result<File> {
        self.join()
    }

    fn join(&mut self) -> io::Result<File> {
        self.jobs = None;
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| io::Error::other("block writer panicked"))?,
            None => Err(io::Error::other("block writer already finished")),
        }
    }
}

/// Buffers a [`BlockReader`] keeps in flight: one being read from, the rest
/// being filled.
const READ_AHEAD: usize = 3;

/// Reads the first `len` bytes of a file written by [`write_blocks`], with a
/// thread that reads ahead so the disk works while the caller decodes.
/// (Direct reads bypass the kernel's own read-ahead.)
pub struct BlockReader {
    filled: crossbeam_channel::Receiver<io::Result<AlignedBuf>>,
    recycle: crossbeam_channel::Sender<AlignedBuf>,
    buf: AlignedBuf,
    /// Next byte of `buf` to hand out.
    pos: usize,
}

impl BlockReader {
    /// Reads `path` up to its logical length `len`.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: &Path, len: u64, mut direct: bool) -> io::Result<Self> {
        let file = open_read(path, &mut direct)?;
        let (filled_tx, filled) = crossbeam_channel::bounded(READ_AHEAD - 1);
        let (recycle, recycled) = crossbeam_channel::bounded::<AlignedBuf>(READ_AHEAD);
        std::thread::spawn(move || {
            let (mut offset, mut remaining) = (0u64, len);
            while remaining > 0 {
                let mut buf = recycled.try_recv().unwrap_or_else(|_| AlignedBuf::with_capacity(READ_CHUNK));
                let got = read_logical(&file, &mut buf, offset, remaining);
                let stop = got.is_err();
                if let Ok(n) = got {
                    offset += n.next_multiple_of(BLOCK) as u64;
                    remaining -= n as u64;
                }
                // A closed channel means the reader was dropped: stop.
                if filled_tx.send(got.map(|_| buf)).is_err() || stop {
                    return;
                }
            }
        });
        Ok(Self { filled, recycle, buf: AlignedBuf::default(), pos: 0 })
    }
}

/// Reads the next piece (up to [`READ_CHUNK`]) of a file at `offset`, of
/// which `remaining` bytes are data; `buf` holds the data part after.
fn read_logical(file: &File, buf: &mut AlignedBuf, offset: u64, remaining: u64) -> io::Result<usize> {
    let want = (remaining.min(READ_CHUNK as u64) as usize).next_multiple_of(BLOCK);
    let mut filled = 0;
    while filled < want {
        let n = file.read_at(&mut buf.spare(want)[filled..], offset + filled as u64)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "scratch file is shorter than written"));
        }
        filled += n;
    }
    // The last piece holds padding past the data.
    let logical = remaining.min(want as u64) as usize;
    buf.len = logical;
    Ok(logical)
}

impl Read for BlockReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            // Channel closed after the last piece: end of data.
            let Ok(next) = self.filled.recv() else { return Ok(0) };
            let used = std::mem::replace(&mut self.buf, next?);
            let _ = self.recycle.try_send(used);
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf.as_slice()[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_stay_aligned_as_they_grow_and_shift() {
        let mut b = AlignedBuf::with_capacity(10);
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        b.extend_from_slice(&data);
        assert_eq!(b.as_slice().as_ptr() as usize % BLOCK, 0);
        assert_eq!(b.as_slice(), &data[..]);
        b.consume_front(2 * BLOCK);
        assert_eq!(b.as_slice().as_ptr() as usize % BLOCK, 0);
        assert_eq!(b.as_slice(), &data[2 * BLOCK..]);
        b.pad_to_block();
        assert_eq!(b.len(), BLOCK);
        assert_eq!(&b.as_slice()[..10_000 - 2 * BLOCK], &data[2 * BLOCK..]);
        assert!(b.as_slice()[10_000 - 2 * BLOCK..].iter().all(|&x| x == 0));
    }

    /// Writes `pieces` as successive flushes, then reads the logical bytes back.
    fn round_trip(dir: &Path, direct: bool, pieces: &[usize]) -> (Vec<u8>, Vec<u8>, bool) {
        let path = dir.join(format!("f-{direct}"));
        let mut want = Vec::new();
        let mut buf = AlignedBuf::with_capacity(BLOCK);
        let (mut offset, mut used_direct) = (0u64, direct);
        for (i, &n) in pieces.iter().enumerate() {
            let piece: Vec<u8> = (0..n).map(|j| ((i * 31 + j) % 253) as u8).collect();
            want.extend_from_slice(&piece);
            buf.extend_from_slice(&piece);
            let mut file = open_write(&path, i == 0, &mut used_direct).unwrap();
            offset +=
                write_blocks(&mut file, &path, &mut used_direct, &mut buf, offset, i + 1 == pieces.len()).unwrap();
        }
        assert_eq!(offset % BLOCK as u64, 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), offset, "padded to whole blocks");
        let mut got = Vec::new();
        BlockReader::open(&path, want.len() as u64, used_direct).unwrap().read_to_end(&mut got).unwrap();
        (got, want, used_direct)
    }

    #[test]
    fn unaligned_appends_read_back_exactly_with_and_without_direct_io() {
        let dir = tempfile::tempdir().unwrap();
        // Pieces smaller than a block, straddling blocks, and bigger than a read.
        let pieces = [1, 100, BLOCK - 101, BLOCK, 3 * BLOCK + 7, READ_CHUNK + 12_345, 5];
        for direct in [true, false] {
            let (got, want, used) = round_trip(dir.path(), direct, &pieces);
            assert_eq!(got.len(), want.len());
            assert!(got == want, "direct={direct}");
            assert!(!used || direct, "never direct unless asked");
        }
    }

    #[test]
    fn a_failed_background_write_reaches_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro");
        std::fs::write(&path, b"").unwrap();
        // A handle the writer thread cannot write through.
        let file = File::open(&path).unwrap();
        let mut w = BlockWriter::new(file, &path, false, BLOCK);
        let mut buf = AlignedBuf::with_capacity(BLOCK);
        buf.extend_from_slice(&[1u8; BLOCK + 10]);
        // The first submit only queues; the failure shows at a later submit or at finish.
        let rest = w.submit(buf, BLOCK, 0).unwrap();
        assert_eq!(rest.as_slice(), &[1u8; 10]);
        let mut failed = None;
        for i in 1..50u64 {
            let mut b = AlignedBuf::with_capacity(BLOCK);
            b.extend_from_slice(&[2u8; BLOCK]);
            if let Err(e) = w.submit(b, BLOCK, i * BLOCK as u64) {
                failed = Some(e);
                break;
            }
        }
        let err = match failed {
            Some(e) => e,
            None => w.finish().unwrap_err(),
        };
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
    }

    #[test]
    fn a_reader_of_a_truncated_file_fails_instead_of_returning_short_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short");
        std::fs::write(&path, vec![7u8; BLOCK]).unwrap();
        let mut r = BlockReader::open(&path, 3 * BLOCK as u64, false).unwrap();
        let err = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
