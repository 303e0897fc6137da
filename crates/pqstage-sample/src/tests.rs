//! Property tests of the generated CSV, checked with an independent,
//! minimal RFC 4180 parser.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::str::FromStr;
use std::sync::OnceLock;

use crate::fmt::{civil_from_days, days_from_civil};
use crate::{columns, write_part, write_sample, Dataset, Part, SampleError, SampleOptions};

fn generate(rows: u64, seed: u64, threads: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let opts = SampleOptions { rows, seed, threads, revision: 0 };
    let summary = write_sample(Dataset::Violations, &opts, &mut out).unwrap();
    assert_eq!(summary.rows, rows);
    assert_eq!(summary.bytes, out.len() as u64);
    out
}

/// Splits RFC 4180 CSV (LF line ends) into records of fields. Panics on
/// malformed input: bare quotes inside unquoted fields, text after a closing
/// quote, an unterminated quoted field, or a CR anywhere.
fn parse_csv(data: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(data).expect("valid UTF-8");
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_field_start => {
                loop {
                    match chars.next().expect("unterminated quoted field") {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        '"' => break,
                        c => field.push(c),
                    }
                }
                let next = chars.peek().copied();
                assert!(matches!(next, Some(',') | Some('\n')), "text after closing quote: {next:?} in {field:?}");
                at_field_start = false;
            }
            '"' => panic!("bare quote in unquoted field {field:?}"),
            '\r' => panic!("CR outside quotes"),
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    assert!(field.is_empty() && record.is_empty(), "last record lacks a newline");
    records
}

/// Rows of a large sample, parsed once and shared by the property tests.
const BIG_ROWS: u64 = 100_000;
fn big() -> &'static (Vec<u8>, Vec<Vec<String>>) {
    static BIG: OnceLock<(Vec<u8>, Vec<Vec<String>>)> = OnceLock::new();
    BIG.get_or_init(|| {
        let bytes = generate(BIG_ROWS, 20_240_601, 2);
        let records = parse_csv(&bytes);
        (bytes, records)
    })
}

fn col(name: &str) -> usize {
    columns(Dataset::Violations).iter().position(|c| *c == name).unwrap()
}

/// Values of one column over all data rows.
fn values(name: &str) -> impl Iterator<Item = &'static str> {
    let i = col(name);
    big().1[1..].iter().map(move |r| r[i].as_str())
}

fn share(name: &str, pred: impl Fn(&str) -> bool) -> f64 {
    values(name).filter(|v| pred(v)).count() as f64 / BIG_ROWS as f64
}

fn assert_share(name: &str, what: &str, lo: f64, hi: f64, pred: impl Fn(&str) -> bool) {
    let s = share(name, pred);
    println!("{name}: {what} = {:.3}%", s * 100.0);
    assert!((lo..=hi).contains(&s), "{name}: share {what} = {s} not in {lo}..={hi}");
}

fn parse_date(s: &str) -> i64 {
    let b = s.as_bytes();
    assert!(b.len() == 10 && b[4] == b'-' && b[7] == b'-', "bad date {s:?}");
    let y: i64 = s[0..4].parse().unwrap();
    let m: u32 = s[5..7].parse().unwrap();
    let d: u32 = s[8..10].parse().unwrap();
    assert!((1..=12).contains(&m) && (1..=31).contains(&d), "bad date {s:?}");
    let days = days_from_civil(y, m, d);
    assert_eq!(civil_from_days(days), (y, m, d), "no such day {s:?}");
    days
}

fn is_digits(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn cents(s: &str) -> u64 {
    let (whole, frac) = s.split_once('.').unwrap_or_else(|| panic!("bad money {s:?}"));
    assert!(is_digits(whole, 1..=7) && is_digits(frac, 2..=2), "bad money {s:?}");
    whole.parse::<u64>().unwrap() * 100 + frac.parse::<u64>().unwrap()
}

#[test]
fn identical_for_any_thread_count() {
    let rows = 2 * 8192 + 1234;
    let one = generate(rows, 7, 1);
    assert_eq!(one, generate(rows, 7, 3));
    assert_eq!(one, generate(rows, 7, 0));
    assert_eq!(one, generate(rows, 7, 64));
}

#[test]
fn shorter_output_is_a_prefix() {
    let long = generate(20_000, 99, 2);
    let short = generate(9_000, 99, 3);
    assert!(long.starts_with(&short));
}

#[test]
fn different_seeds_differ() {
    let a = generate(1000, 1, 1);
    let b = generate(1000, 2, 1);
    let c = generate(1000, 3, 1);
    assert_ne!(a, b);
    assert_ne!(a, c);
    assert_ne!(b, c);
    // Differ in most rows, not just somewhere.
    let (ra, rb) = (parse_csv(&a), parse_csv(&b));
    let same = ra.iter().zip(&rb).skip(1).filter(|(x, y)| x == y).count();
    assert_eq!(same, 0);
}

#[test]
fn zero_rows_is_just_the_header() {
    let out = generate(0, 5, 4);
    let expected = format!("{}\n", columns(Dataset::Violations).join(","));
    assert_eq!(out, expected.as_bytes());
}

#[test]
fn exact_row_count_and_field_count() {
    for rows in [1, 3, 8191, 8192, 8193, 20_001] {
        let out = generate(rows, rows, 3);
        let records = parse_csv(&out);
        assert_eq!(records.len() as u64, rows + 1, "rows={rows}");
        assert_eq!(records[0], columns(Dataset::Violations));
        for r in &records {
            assert_eq!(r.len(), 21);
        }
    }
    let (bytes, records) = big();
    assert_eq!(records.len() as u64, BIG_ROWS + 1);
    assert!(records.iter().all(|r| r.len() == 21));
    // Physical lines outnumber records: some addresses span two lines.
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    assert!(lines > records.len());
}

#[test]
fn average_row_length() {
    let (bytes, records) = big();
    let header = records[0].join(",").len() + 1;
    let avg = (bytes.len() - header) as f64 / BIG_ROWS as f64;
    println!("average row length: {avg:.1} bytes");
    assert!((120.0..=180.0).contains(&avg), "average row length {avg}");
}

#[test]
fn zip_codes_keep_leading_zeros() {
    assert!(values("site_zip").all(|z| is_digits(z, 5..=5)));
    assert_share("site_zip", "leading zero", 0.03, 0.2, |z| z.starts_with('0'));
    assert!(values("site_zip").any(|z| z.starts_with("00")));
}

#[test]
fn company_names_are_messy_and_repeat() {
    assert!(values("company_name").all(|c| !c.is_empty()));
    assert_share("company_name", "comma", 0.02, 0.10, |c| c.contains(','));
    assert_share("company_name", "quote", 0.003, 0.03, |c| c.contains('"'));
    assert_share("company_name", "ampersand", 0.01, 0.07, |c| c.contains('&'));
    assert_share("company_name", "non-ASCII", 0.001, 0.02, |c| !c.is_ascii());
    assert!(values("company_name").any(|c| c.ends_with(", INC.") || c.ends_with(", INC")));
    assert!(values("company_name").any(|c| c.starts_with('"')));
    let distinct: HashSet<&str> = values("company_name").collect();
    println!("distinct company names: {}", distinct.len());
    assert!(distinct.len() > 1000);
    assert!(distinct.len() < BIG_ROWS as usize * 3 / 4);
    let raw = &big().0;
    assert!(raw.windows(2).any(|w| w == b"\"\""), "doubled quotes in the raw file");
}

#[test]
fn addresses_sometimes_span_lines() {
    assert_share("site_address", "newline", 0.001, 0.02, |a| a.contains('\n'));
    assert!(values("site_address").all(|a| !a.is_empty() && !a.contains('\r')));
    assert!(values("site_state").all(|s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())));
    assert!(values("site_city").all(|c| !c.is_empty()));
}

#[test]
fn agencies_and_ids() {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for a in values("agency") {
        *counts.entry(a).or_default() += 1;
    }
    let known = ["OSHA", "MSHA", "WHD", "EPA", "FDA", "NLRB", "OFCCP", "FRA"];
    assert_eq!(counts.len(), known.len(), "{counts:?}");
    assert!(counts.keys().all(|k| known.contains(k)));
    let top = counts.iter().max_by_key(|(_, n)| **n).unwrap();
    assert_eq!(*top.0, "OSHA");

    assert!(values("activity_nr").all(|v| is_digits(v, 9..=10) && !v.starts_with('0')));
    // Some ids exceed i32, so the column needs int64.
    assert!(values("activity_nr").any(|v| v.parse::<i64>().unwrap() > i64::from(i32::MAX)));
    assert!(values("citation_id")
        .all(|v| { v.len() >= 5 && is_digits(&v[..5], 5..=5) && v[5..].bytes().all(|b| b.is_ascii_uppercase()) }));
    assert!(values("citation_id").any(|v| v.starts_with("01")));
    assert!(values("naics_code").all(|v| v.is_empty() || is_digits(v, 6..=6)));
    assert_share("naics_code", "empty", 0.07, 0.13, str::is_empty);
    assert!(values("standard").all(|v| !v.is_empty() && !v.contains(',')));
    assert!(values("standard").any(|v| v.contains(' ')));
    assert!(values("standard").any(|v| v.contains('(')));
    assert!(values("viol_type").all(|v| ["S", "O", "W", "R", "U"].contains(&v)));
}

#[test]
fn dates_are_valid_and_in_range() {
    let lo = days_from_civil(1975, 1, 1);
    let hi = days_from_civil(2024, 12, 31);
    let (issued, abate) = (col("issuance_date"), col("abate_date"));
    let mut years = HashSet::new();
    let (mut early, mut late) = (0, 0);
    for r in &big().1[1..] {
        if r[issued].is_empty() {
            assert!(r[abate].is_empty());
            continue;
        }
        let d = parse_date(&r[issued]);
        assert!((lo..=hi).contains(&d), "issuance {}", r[issued]);
        let year = civil_from_days(d).0;
        years.insert(year);
        early += usize::from(year < 1985);
        late += usize::from(year >= 2015);
        if !r[abate].is_empty() {
            let a = parse_date(&r[abate]);
            assert!(a > d && a - d <= 250, "abate {} for {}", r[abate], r[issued]);
        }
    }
    assert_eq!(years.len(), 50);
    assert!(late > early * 2, "later years should be more frequent");
    let empty = values("issuance_date").filter(|v| v.is_empty()).count();
    println!("empty issuance_date: {empty}");
    assert!((1..=40).contains(&empty), "{empty} empty issuance dates");
    assert_share("abate_date", "empty", 0.12, 0.18, str::is_empty);

    let load_lo = days_from_civil(2015, 1, 1);
    let load_hi = days_from_civil(2024, 12, 31);
    for v in values("load_dt") {
        let (date, time) = v.split_once(' ').unwrap();
        assert!((load_lo..=load_hi).contains(&parse_date(date)), "{v}");
        let t: Vec<u32> = time.split(':').map(|p| p.parse().unwrap()).collect();
        assert!(time.len() == 8 && t.len() == 3 && t[0] < 24 && t[1] < 60 && t[2] < 60, "{v}");
    }
}

#[test]
fn penalties_and_counts() {
    let (cur, init) = (col("current_penalty"), col("initial_penalty"));
    for r in &big().1[1..] {
        let c = (!r[cur].is_empty()).then(|| cents(&r[cur]));
        let i = (!r[init].is_empty()).then(|| cents(&r[init]));
        if let (Some(c), Some(i)) = (c, i) {
            assert!(i >= c, "initial {} < current {}", r[init], r[cur]);
        }
        for p in [c, i].into_iter().flatten() {
            assert!(p < 1_000_000_000);
        }
    }
    assert_share("current_penalty", "empty", 0.03, 0.07, str::is_empty);
    assert_share("initial_penalty", "empty", 0.03, 0.07, str::is_empty);
    assert!(values("current_penalty").any(|v| v == "0.00"));
    assert!(values("initial_penalty").any(|v| !v.is_empty() && !v.ends_with(".00")));

    let inst: Vec<u64> = values("nr_instances").map(|v| v.parse().unwrap()).collect();
    assert!(inst.iter().all(|n| (1..=50).contains(n)));
    assert!(inst.iter().filter(|&&n| n == 1).count() > inst.len() / 2);
    assert!(inst.iter().any(|&n| n > 10));
    assert!(values("nr_exposed").all(|v| v.is_empty() || v.parse::<u32>().unwrap() <= 5000));
    assert_share("nr_exposed", "empty", 0.17, 0.23, str::is_empty);

    let gravity: HashSet<&str> = values("gravity").collect();
    assert!(gravity.iter().all(|g| g.is_empty() || (is_digits(g, 2..=2) && *g <= "10")));
    assert!(gravity.contains("05") && gravity.contains("10") && gravity.contains("00"));
    assert_share("gravity", "empty", 0.27, 0.33, str::is_empty);
    assert!(values("emphasis").all(|v| ["", "Y", "N"].contains(&v)));
    assert_share("emphasis", "empty", 0.57, 0.63, str::is_empty);
    assert!(values("delete_flag").all(|v| v.is_empty() || v == "X"));
    assert_share("delete_flag", "X", 0.02, 0.04, |v| v == "X");
}

#[test]
fn dataset_names() {
    assert_eq!(Dataset::from_str("violations").unwrap(), Dataset::Violations);
    assert_eq!(" Violations ".parse::<Dataset>().unwrap(), Dataset::Violations);
    assert_eq!(Dataset::Violations.to_string(), "violations");
    let err = Dataset::from_str("citations").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("citations") && msg.contains("violations"), "{msg}");
    assert_eq!(columns(Dataset::Violations).len(), 21);
}

/// Accepts `limit` bytes, then fails.
struct FailAfter {
    limit: usize,
    written: usize,
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() > self.limit {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "sink closed"));
        }
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_reported_without_hanging() {
    for threads in [1, 2, 4] {
        let opts = SampleOptions { rows: 100_000, seed: 1, threads, revision: 0 };
        let sink = FailAfter { limit: 3_000_000, written: 0 };
        let err = write_sample(Dataset::Violations, &opts, sink).unwrap_err();
        assert!(matches!(err, SampleError::Io(_)));
        assert_eq!(err.to_string(), "writing sample: sink closed");
    }
}

/// A revision keeps most rows byte for byte, removes about 0.2 %, corrects
/// about 1 % (same key, other values; a fifth of them a year earlier), adds
/// exactly 0.5 % new keys after them, and is the same whatever the threads.
#[test]
fn a_revision_removes_corrects_and_adds_rows_of_the_first_dump() {
    let rows = 100_000;
    let base = generate(rows, 5, 1);
    let revise = |threads| {
        let mut out = Vec::new();
        let opts = SampleOptions { rows, seed: 5, threads, revision: 1 };
        let summary = write_sample(Dataset::Violations, &opts, &mut out).unwrap();
        assert_eq!(summary.bytes, out.len() as u64);
        (out, summary.rows)
    };
    let (rev, written) = revise(1);
    assert_eq!(revise(3).0, rev, "threads change a revision");
    let by_key = |data: &[u8]| -> HashMap<(String, String), Vec<String>> {
        parse_csv(data).into_iter().skip(1).map(|r| ((r[1].clone(), r[2].clone()), r)).collect()
    };
    let (old, new) = (by_key(&base), by_key(&rev));
    assert_eq!(old.len() as u64, rows, "keys of the sample are unique");
    assert_eq!(new.len() as u64, written, "keys of a revision are unique");
    let removed = old.keys().filter(|k| !new.contains_key(*k)).count();
    let added = new.keys().filter(|k| !old.contains_key(*k)).count();
    let changed: Vec<_> = old.iter().filter(|(k, r)| new.get(*k).is_some_and(|n| n != *r)).collect();
    let redated = changed.iter().filter(|(k, r)| new[*k][11] != r[11]).count();
    assert_eq!(added as u64, rows * 50 / 10_000);
    assert!((150..=250).contains(&removed), "removed {removed}");
    assert!((850..=1150).contains(&changed.len()), "changed {}", changed.len());
    assert!((120..=280).contains(&redated), "redated {redated}");
    assert_eq!(written, rows - removed as u64 + added as u64);
    let mut second = Vec::new();
    write_sample(Dataset::Violations, &SampleOptions { rows, seed: 5, threads: 1, revision: 2 }, &mut second).unwrap();
    assert_ne!(second, rev, "each revision draws its own changes");
}

/// A revision's changes are exactly the rows it corrected or added, and its
/// removed keys exactly the keys it no longer has: applying both to the
/// first dump gives the revision.
#[test]
fn a_revisions_changes_and_removed_keys_turn_the_first_dump_into_it() {
    let rows = 60_000;
    let opts = SampleOptions { rows, seed: 9, threads: 2, revision: 1 };
    let part = |part| {
        let mut out = Vec::new();
        let summary = write_part(Dataset::Violations, &opts, part, &mut out).unwrap();
        assert_eq!(summary.bytes, out.len() as u64);
        (parse_csv(&out), summary.rows)
    };
    let (whole, _) = part(Part::Whole);
    let (changes, changed_rows) = part(Part::Changes);
    let (removed, removed_rows) = part(Part::RemovedKeys);
    assert_eq!(changes[0], whole[0], "changes have the dump's header");
    assert_eq!(removed[0], ["activity_nr", "citation_id"]);
    assert_eq!((changes.len() - 1, removed.len() - 1), (changed_rows as usize, removed_rows as usize));
    let mut state: HashMap<(String, String), Vec<String>> =
        parse_csv(&generate(rows, 9, 1)).into_iter().skip(1).map(|r| ((r[1].clone(), r[2].clone()), r)).collect();
    for key in removed.into_iter().skip(1) {
        assert!(state.remove(&(key[0].clone(), key[1].clone())).is_some(), "removed key {key:?} was in the dump");
    }
    let mut updated = 0;
    for row in changes.into_iter().skip(1) {
        updated += usize::from(state.insert((row[1].clone(), row[2].clone()), row).is_some());
    }
    let revision: HashMap<_, _> = whole.into_iter().skip(1).map(|r| ((r[1].clone(), r[2].clone()), r)).collect();
    assert_eq!(state, revision, "first dump + changes - removed keys != the revision");
    assert!((500..=700).contains(&updated), "updated {updated}");
    assert!(removed_rows > 50, "removed {removed_rows}");
    let (added, added_rows) = part(Part::Added);
    assert_eq!(added_rows, rows * 50 / 10_000, "a revision adds 0.5 %");
    let first: HashSet<(String, String)> =
        parse_csv(&generate(rows, 9, 1)).into_iter().skip(1).map(|r| (r[1].clone(), r[2].clone())).collect();
    for row in added.into_iter().skip(1) {
        let key = (row[1].clone(), row[2].clone());
        assert!(!first.contains(&key) && revision[&key] == row, "added row {key:?} is new and as in the revision");
    }
    let first = SampleOptions { revision: 0, ..opts };
    assert!(matches!(
        write_part(Dataset::Violations, &first, Part::Changes, Vec::new()),
        Err(SampleError::NotARevision)
    ));
}
