//! A time-boxed fuzz run of everything that reads a source: recognition
//! (compression, encodings, line breaks), the header and the inferred spec,
//! the chunk splitter, the tokenizer and the typed columns, through the
//! public `infer` and `convert`.
//!
//! Inputs are mutations of the checked-in corpus (`tests/fuzz/corpus/`):
//! bytes flipped, inserted (quotes, delimiters, CR, LF, NUL, byte-order
//! marks, compression magic), deleted, repeated and spliced; sometimes the
//! result is compressed or re-encoded, so the decoders see valid streams of
//! odd text too. Whatever the input, nothing may panic, an error must say
//! something, and a convert that succeeds must reconcile its counts.
//!
//! `PQSTAGE_FUZZ_SECONDS` sets the time (default 20); `PQSTAGE_FUZZ_SEED`
//! replays a run (the seed is printed first). A failing input is kept in
//! the system temp folder as `pqstage-fuzz-failure.bin`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pqstage_convert::{convert, infer, ConvertOptions, InferOptions};
use pqstage_spec::Encoding;
use pqstage_stage::Stage;

/// SplitMix64: small, fast, and the same everywhere for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SPECIAL: &[&[u8]] = &[
    b"\"",
    b",",
    b";",
    b"\t",
    b"|",
    b"\n",
    b"\r",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\x1f\x8b",
    b"BZh9",
    b"\x28\xb5\x2f\xfd",
    b"PK\x03\x04",
    b"\"\"",
    b"NA",
    b"1e400",
    b"9223372036854775808",
    b"2019-02-29",
    b"0000-01-01",
    b"2000-01-01 00:00:00.1234567",
    b"\xc3",
    b"\xed\xa0\x80",
];

fn corpus() -> Vec<Vec<u8>> {
    // Cargo sets the package's folder at run time too: a binary built from
    // another clone sharing the target folder (CI checks do) finds this one's.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let dir = Path::new(&manifest).join("../../tests/fuzz/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).expect("the corpus").map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(8) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let s = SPECIAL[rng.below(SPECIAL.len())];
                v.splice(at..at, s.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + rng.below(16)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 if !v.is_empty() => {
                let start = rng.below(v.len());
                let end = (start + 1 + rng.below(64)).min(v.len());
                let piece = v[start..end].to_vec();
                for _ in 0..=rng.below(4) {
                    v.splice(at..at, piece.iter().copied());
                }
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                v.truncate(at);
                v.extend_from_slice(&other[from..]);
            }
            5 => v.truncate(at),
            _ => {
                let b = rng.next() as u8;
                v.insert(at, b);
            }
        }
    }
    match rng.below(12) {
        0 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&v).unwrap();
            e.finish().unwrap()
        }
        1 => zstd::encode_all(&v[..], 1).unwrap(),
        2 => {
            let text = String::from_utf8_lossy(&v);
            let mut out = vec![0xff, 0xfe];
            text.encode_utf16().for_each(|u| out.extend_from_slice(&u.to_le_bytes()));
            out
        }
        _ => v,
    }
}

/// One input through `infer` and, if that gives a spec, `convert` with
/// rejects kept. Small chunks, so records cross chunk boundaries.
fn exercise(path: &Path, encoding: Encoding, n: u64) {
    let opts = InferOptions {
        jobs: 2,
        chunk_bytes: 1024,
        encoding,
        comment: (n % 5 == 0).then_some('#'),
        ..InferOptions::new(vec![path.to_path_buf()])
    };
    let spec = match infer(&opts) {
        Ok(spec) => spec,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let stage = Stage::open(&format!("memory://fuzz{n}")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let built = ConvertOptions::builder(vec![path.to_path_buf()], "f", spec)
        .with_jobs(2)
        .with_chunk_bytes(1024)
        .with_rejects(true)
        .with_direct_io(false)
        .build();
    let Ok(opts) = built else { return };
    match convert(&stage, rt.handle(), &opts) {
        Ok(summary) => {
            let t = &summary.manifest.tables[0];
            assert_eq!(t.rows_read, t.rows_written + t.rows_rejected, "counts reconcile");
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

#[test]
fn no_input_makes_the_reader_panic() {
    let seconds: u64 = std::env::var("PQSTAGE_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("PQSTAGE_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("fuzz: seed {seed} for {seconds} s (PQSTAGE_FUZZ_SEED={seed} replays it)");
    let seeds = corpus();
    assert!(seeds.len() >= 10, "the corpus is checked in");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.csv");
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut n = 0u64;
    // The corpus itself first, then mutations until the time is up.
    while n < seeds.len() as u64 || Instant::now() < deadline {
        let input = if n < seeds.len() as u64 { seeds[n as usize].clone() } else { mutate(&mut rng, &seeds) };
        std::fs::write(&path, &input).unwrap();
        let encoding = [Encoding::Utf8, Encoding::Utf8, Encoding::Latin1, Encoding::Utf16][rng.below(4)];
        let ran = std::panic::catch_unwind(|| exercise(&path, encoding, n));
        if ran.is_err() {
            let keep = std::env::temp_dir().join("pqstage-fuzz-failure.bin");
            std::fs::write(&keep, &input).unwrap();
            panic!("input {n} of seed {seed} ({encoding}) panicked; it is kept in {}", keep.display());
        }
        n += 1;
    }
    eprintln!("fuzz: {n} inputs, no panic");
    assert!(n > seeds.len() as u64, "the run tried mutations, not only the corpus");
}
