//! Units of work on several threads, each with state of its own (a
//! database connection), stopping at the first failure.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `work` on every item, on up to `jobs` threads taking items in order.
/// A thread makes its state with `open` before its first item and keeps it
/// for the next ones. Once an item fails, no new item starts; the ones in
/// progress finish.
///
/// # Errors
/// The error of the first failed item, in item order (an `open` failure
/// counts as its item's).
pub fn run_units<T, S, R, E>(
    items: &[T],
    jobs: usize,
    open: impl Fn() -> Result<S, E> + Sync,
    work: impl Fn(&mut S, &T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<R, E>>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                let mut state = None;
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    let r = match state.as_mut() {
                        Some(s) => Ok(s),
                        None => open().map(|s| state.insert(s)),
                    }
                    .and_then(|s| work(s, item));
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().expect("results lock")[i] = Some(r);
                }
            });
        }
    });
    let results = results.into_inner().expect("results lock");
    let mut out = Vec::with_capacity(items.len());
    let mut first_error = None;
    for r in results.into_iter().flatten() {
        match r {
            Ok(v) => out.push(v),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_once_in_order_with_state_per_thread() {
        let items: Vec<u32> = (0..50).collect();
        let opened = AtomicUsize::new(0);
        let out = run_units(
            &items,
            3,
            || Ok::<_, String>(opened.fetch_add(1, Ordering::Relaxed)),
            |_, i| Ok::<_, String>(i * 2),
        )
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!((1..=3).contains(&opened.load(Ordering::Relaxed)));
    }

    #[test]
    fn the_first_failure_in_item_order_stops_new_work() {
        let items: Vec<u32> = (0..1000).collect();
        let done = AtomicUsize::new(0);
        let err = run_units(
            &items,
            2,
            || Ok::<_, String>(()),
            |_, &i| {
                done.fetch_add(1, Ordering::Relaxed);
                if i == 3 || i == 4 {
                    Err(format!("unit {i}"))
                } else {
                    Ok(i)
                }
            },
        )
        .unwrap_err();
        assert_eq!(err, "unit 3");
        assert!(done.load(Ordering::Relaxed) < 10, "no new unit starts after a failure");
        let err = run_units(&items, 2, || Err::<(), _>("no connection".to_string()), |_, &i| Ok::<_, String>(i));
        assert_eq!(err.unwrap_err(), "no connection");
    }
}
