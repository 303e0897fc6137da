//! Progress of a long step, as counters: the step updates them as it goes
//! and a display polls them. Every long step of pqstage (convert's two
//! phases, a load, a copy, a garbage collection) reports through this one
//! type, so one printer draws them all alike.
//!
//! ```
//! use pqstage_stage::progress::{Measure, Progress};
//!
//! let p = Progress::default();
//! p.begin("copying", Measure::Bytes, 1_000);
//! p.add(250);
//! let now = p.snapshot().unwrap();
//! assert_eq!((now.label, now.done, now.total), ("copying", 250, 1_000));
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What a step counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Bytes (of input read, files copied or checked).
    Bytes,
    /// Rows.
    Rows,
    /// Things of a kind, named in the plural ("partitions", "objects").
    Items(&'static str),
}

/// Where a step is, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Which step this is: a new number for every [`Progress::begin`].
    pub step: u64,
    /// What the step does ("parsing", "loading").
    pub label: &'static str,
    /// What it counts.
    pub measure: Measure,
    /// How many it will count, when known (0: unknown).
    pub total: u64,
    /// How many it has counted.
    pub done: u64,
}

/// Counters of the step running now; shared between the step and a display.
#[derive(Debug, Default)]
pub struct Progress {
    step: Mutex<Option<(u64, &'static str, Measure)>>,
    total: AtomicU64,
    done: AtomicU64,
}

impl Progress {
    /// Starts a new step that will count `total` of `measure` (0 when not known).
    pub fn begin(&self, label: &'static str, measure: Measure, total: u64) {
        let mut step = self.step.lock().expect("progress lock");
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        let n = step.map_or(1, |(n, ..)| n + 1);
        *step = Some((n, label, measure));
    }

    /// Counts `n` more done.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` more to do.
    pub fn add_total(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }

    /// Where the current step is; `None` before the first step begins.
    pub fn snapshot(&self) -> Option<Snapshot> {
        let step = *self.step.lock().expect("progress lock");
        step.map(|(step, label, measure)| Snapshot {
            step,
            label,
            measure,
            total: self.total.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_starts_from_zero() {
        let p = Progress::default();
        assert_eq!(p.snapshot(), None);
        p.begin("parsing", Measure::Bytes, 100);
        p.add(40);
        p.add(2);
        let a = p.snapshot().unwrap();
        assert_eq!((a.step, a.label, a.measure, a.done, a.total), (1, "parsing", Measure::Bytes, 42, 100));
        p.begin("encoding", Measure::Items("partitions"), 3);
        p.add(1);
        p.add_total(1);
        let b = p.snapshot().unwrap();
        assert_eq!((b.step, b.label, b.done, b.total), (2, "encoding", 1, 4));
    }
}
