//! A progress bar on stderr, polled from the converter's counters. Drawn only
//! when stderr is a terminal and neither --quiet nor --no-progress is given.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use pqstage_convert::Progress;

/// A running progress display; dropped or finished to stop it.
pub struct Bar {
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Bar {
    /// Starts polling `progress` if stderr is a terminal and `enabled`.
    pub fn start(progress: Arc<Progress>, enabled: bool) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return Self { stop, handle: None };
        }
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let bar = ProgressBar::new(progress.bytes_total.load(Ordering::Relaxed));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            let mut encoding = false;
            while !s.load(Ordering::Relaxed) {
                let parts = progress.partitions_total.load(Ordering::Relaxed);
                if parts > 0 && !encoding {
                    encoding = true;
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} partitions ETA {eta}")
                            .expect("valid template")
                            .progress_chars("=> "),
                    );
                    bar.set_length(parts);
                    bar.reset_eta();
                }
                if encoding {
                    bar.set_message("2/2 encoding");
                    bar.set_position(progress.partitions_done.load(Ordering::Relaxed));
                } else {
                    let rows = progress.rows_done.load(Ordering::Relaxed);
                    let secs = bar.elapsed().as_secs_f64().max(0.001);
                    bar.set_message(format!("1/2 parsing {:.0}k rows/s", rows as f64 / secs / 1000.0));
                    bar.set_position(progress.bytes_done.load(Ordering::Relaxed));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Self { stop, handle: Some(handle) }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
