//! The one progress printer. Every long step (convert, load postgres, load
//! duckdb, copy, gc) counts its work in a [`Progress`]; a thread of this
//! module polls it and draws an indicatif bar on stderr: bytes or rows, the
//! rate and the ETA, or a spinner while the total is unknown. Nothing is
//! drawn when stderr is not a terminal, or with `--quiet` or `--no-progress`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use pqstage_stage::progress::{Measure, Progress, Snapshot};

use crate::args::Cli;

/// A running progress display; dropping it stops and clears it.
pub struct Bar {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Bar {
    /// Starts drawing `progress` when the command line and stderr allow it.
    pub fn start(cli: &Cli, progress: &Arc<Progress>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        if cli.quiet || cli.no_progress || !std::io::stderr().is_terminal() {
            return Self { stop, handle: None };
        }
        let (s, progress) = (stop.clone(), progress.clone());
        let handle = std::thread::spawn(move || draw(&progress, &s));
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

/// Polls `progress` every 100 ms until `stop`, restyling the bar whenever a
/// new step begins.
fn draw(progress: &Progress, stop: &AtomicBool) {
    let bar = ProgressBar::hidden();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    let mut step = 0;
    while !stop.load(Ordering::Relaxed) {
        if let Some(now) = progress.snapshot() {
            if now.step != step || (bar.length() == Some(0)) != (now.total == 0) {
                step = now.step;
                bar.set_style(style(&now));
                bar.set_message(now.label);
                bar.reset();
            }
            bar.set_length(now.total);
            bar.set_position(now.done);
            bar.tick();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

/// The bar's look for a step.
fn style(now: &Snapshot) -> ProgressStyle {
    ProgressStyle::with_template(&template(now)).expect("valid template").progress_chars("=> ")
}

/// The bar's template for a step: what it counts, and whether its total is known.
fn template(now: &Snapshot) -> String {
    let counted = match now.measure {
        Measure::Bytes => "{decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec}".to_string(),
        Measure::Rows => "{human_pos}/{human_len} rows, {per_sec}".to_string(),
        Measure::Items(name) => format!("{{pos}}/{{len}} {name}"),
    };
    if now.total == 0 {
        match now.measure {
            Measure::Bytes => "{spinner} {msg} {decimal_bytes} {elapsed}".to_string(),
            Measure::Rows => "{spinner} {msg} {human_pos} rows {elapsed}".to_string(),
            Measure::Items(name) => format!("{{spinner}} {{msg}} {{pos}} {name} {{elapsed}}"),
        }
    } else {
        format!("{{spinner}} {{msg}} [{{bar:30}}] {counted} ETA {{eta}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_measure_has_a_valid_template_with_and_without_a_total() {
        for measure in [Measure::Bytes, Measure::Rows, Measure::Items("partitions")] {
            for total in [0, 10] {
                let now = Snapshot { step: 1, label: "x", measure, total, done: 3 };
                let t = template(&now);
                assert!(ProgressStyle::with_template(&t).is_ok(), "{t}");
                assert_eq!(t.contains("ETA"), total > 0, "{t}");
            }
        }
        let items =
            template(&Snapshot { step: 1, label: "x", measure: Measure::Items("partitions"), total: 5, done: 0 });
        assert!(items.contains("{pos}/{len} partitions"), "{items}");
    }
}
