//! The encoder against a real PostgreSQL: what the server reads back from our
//! binary COPY must be exactly the Arrow values we encoded.
//!
//! Needs a server: `make test` starts a throwaway one (tests/pg/pg.sh) and
//! sets PQSTAGE_PG_URL; to run these by hand, `make pg-up` and export the URL
//! it prints.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use pqstage_postgres::{encode_batch, Constant, HEADER, TRAILER};
use proptest::prelude::*;

fn client() -> postgres::Client {
    let url = std::env::var("PQSTAGE_PG_URL").expect(
        "PQSTAGE_PG_URL is not set: run `make test` (it starts a throwaway PostgreSQL), \
         or `make pg-up` and export the URL it prints",
    );
    postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// One generated row; `None` is NULL.
#[derive(Debug, Clone)]
struct Row {
    b: Option<bool>,
    i16: Option<i16>,
    i32: Option<i32>,
    i64: Option<i64>,
    f: Option<f64>,
    wide: Option<i128>,
    money: Option<i64>,
    day: Option<i32>,
    ts: Option<i64>,
    tz: Option<i64>,
    text: Option<String>,
}

/// Days of 0001-01-01 and 9999-12-31 from 1970-01-01.
const MIN_DAY: i32 = -719_162;
const MAX_DAY: i32 = 2_932_896;
const DAY_US: i64 = 86_400_000_000;

fn row() -> impl Strategy<Value = Row> {
    let float = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE)
    ];
    let wide = prop_oneof![
        -(10i128.pow(38) - 1)..=(10i128.pow(38) - 1),
        Just(10i128.pow(38) - 1),
        Just(-(10i128.pow(38) - 1)),
        Just(0i128),
        -100_000i128..100_000
    ];
    let us = (MIN_DAY as i64) * DAY_US..(MAX_DAY as i64 + 1) * DAY_US;
    (
        (
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<i16>()),
            proptest::option::of(any::<i32>()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(float),
            proptest::option::of(wide),
        ),
        (
            proptest::option::of(-(10i64.pow(12) - 1)..10i64.pow(12)),
            proptest::option::of(MIN_DAY..=MAX_DAY),
            proptest::option::of(us.clone()),
            proptest::option::of(us),
            proptest::option::of("[^\u{0}]{0,12}"),
        ),
    )
        .prop_map(|((b, i16, i32, i64, f, wide), (money, day, ts, tz, text))| Row {
            b,
            i16,
            i32,
            i64,
            f,
            wide,
            money,
            day,
            ts,
            tz,
            text,
        })
}

fn batch(rows: &[Row]) -> RecordBatch {
    let mut b = BooleanBuilder::new();
    let mut i16b = Int16Builder::new();
    let mut i32b = Int32Builder::new();
    let mut i64b = Int64Builder::new();
    let mut f = Float64Builder::new();
    let mut wide = Decimal128Builder::new().with_precision_and_scale(38, 10).unwrap();
    let mut money = Decimal128Builder::new().with_precision_and_scale(12, 2).unwrap();
    let mut day = Date32Builder::new();
    let mut ts = TimestampMicrosecondBuilder::new();
    let mut tz = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut text = StringBuilder::new();
    for r in rows {
        b.append_option(r.b);
        i16b.append_option(r.i16);
        i32b.append_option(r.i32);
        i64b.append_option(r.i64);
        f.append_option(r.f);
        wide.append_option(r.wide);
        money.append_option(r.money.map(i128::from));
        day.append_option(r.day);
        ts.append_option(r.ts);
        tz.append_option(r.tz);
        text.append_option(r.text.as_deref());
    }
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("b", Arc::new(b.finish())),
        ("i16", Arc::new(i16b.finish())),
        ("i32", Arc::new(i32b.finish())),
        ("i64", Arc::new(i64b.finish())),
        ("f", Arc::new(f.finish())),
        ("wide", Arc::new(wide.finish())),
        ("money", Arc::new(money.finish())),
        ("day", Arc::new(day.finish())),
        ("ts", Arc::new(ts.finish())),
        ("tz", Arc::new(tz.finish())),
        ("text", Arc::new(text.finish())),
    ];
    RecordBatch::try_from_iter(cols).unwrap()
}

/// `unscaled / 10^scale` as PostgreSQL prints a numeric with that scale.
fn decimal_text(unscaled: i128, scale: u32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let digits = format!("{digits:0>width$}", width = scale as usize + 1);
    let (int, frac) = digits.split_at(digits.len() - scale as usize);
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

fn date(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(i64::from(days))
}

fn timestamp(us: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(us).unwrap().naive_utc()
}

/// COPYs `rows` into a fresh temporary table and reads them back in order.
fn round_trip(client: &mut postgres::Client, rows: &[Row], year: Option<i32>) -> Vec<postgres::Row> {
    client
        .batch_execute(
            "DROP TABLE IF EXISTS pg_temp.t;
             CREATE TEMP TABLE t (b boolean, i16 smallint, i32 integer, i64 bigint, f double precision,
                 wide numeric(38,10), money numeric(12,2), day date, ts timestamp, tz timestamptz, text text,
                 year integer)",
        )
        .unwrap();
    let mut data = HEADER.to_vec();
    encode_batch(&batch(rows), &[Constant::Int4(year)], &mut data).unwrap();
    data.extend_from_slice(TRAILER);
    let mut w = client.copy_in("COPY t FROM STDIN (FORMAT binary)").unwrap();
    w.write_all(&data).unwrap();
    let n = w.finish().unwrap();
    assert_eq!(n as usize, rows.len());
    client
        .query("SELECT b, i16, i32, i64, f, wide::text, money::text, day, ts, tz, text, year FROM t ORDER BY ctid", &[])
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_server_reads_back_what_was_encoded(rows in proptest::collection::vec(row(), 0..40), year in proptest::option::of(1i32..9999)) {
        let mut client = client();
        let got = round_trip(&mut client, &rows, year);
        prop_assert_eq!(got.len(), rows.len());
        for (r, g) in rows.iter().zip(&got) {
            prop_assert_eq!(g.get::<_, Option<bool>>(0), r.b);
            prop_assert_eq!(g.get::<_, Option<i16>>(1), r.i16);
            prop_assert_eq!(g.get::<_, Option<i32>>(2), r.i32);
            prop_assert_eq!(g.get::<_, Option<i64>>(3), r.i64);
            let f = g.get::<_, Option<f64>>(4);
            match (f, r.f) {
                (Some(a), Some(b)) if b.is_nan() => prop_assert!(a.is_nan()),
                (Some(a), Some(b)) => prop_assert_eq!(a.to_bits(), b.to_bits()),
                (a, b) => prop_assert_eq!(a, b),
            }
            prop_assert_eq!(g.get::<_, Option<String>>(5), r.wide.map(|v| decimal_text(v, 10)));
            prop_assert_eq!(g.get::<_, Option<String>>(6), r.money.map(|v| decimal_text(i128::from(v), 2)));
            prop_assert_eq!(g.get::<_, Option<NaiveDate>>(7), r.day.map(date));
            prop_assert_eq!(g.get::<_, Option<NaiveDateTime>>(8), r.ts.map(timestamp));
            prop_assert_eq!(g.get::<_, Option<DateTime<Utc>>>(9), r.tz.map(|us| timestamp(us).and_utc()));
            prop_assert_eq!(g.get::<_, Option<String>>(10), r.text.clone());
            prop_assert_eq!(g.get::<_, Option<i32>>(11), year);
        }
    }
}

#[test]
fn extremes_round_trip() {
    let rows = vec![
        Row {
            b: Some(true),
            i16: Some(i16::MIN),
            i32: Some(i32::MIN),
            i64: Some(i64::MIN),
            f: Some(f64::NEG_INFINITY),
            wide: Some(-(10i128.pow(38) - 1)),
            money: Some(-1),
            day: Some(MIN_DAY),
            ts: Some(i64::from(MIN_DAY) * DAY_US),
            tz: Some(-1),
            text: Some(String::new()),
        },
        Row {
            b: Some(false),
            i16: Some(i16::MAX),
            i32: Some(i32::MAX),
            i64: Some(i64::MAX),
            f: Some(f64::NAN),
            wide: Some(1),
            money: Some(999_999_999_999),
            day: Some(24_855), // 2038-01-19
            ts: Some(i64::from(MAX_DAY + 1) * DAY_US - 1),
            tz: Some(2_147_483_648_000_000),
            text: Some("Café \"quoted\", ünïcode ✓\nnew line".into()),
        },
    ];
    let mut client = client();
    let got = round_trip(&mut client, &rows, None);
    let text = |i: usize, c: usize| got[i].get::<_, Option<String>>(c);
    assert_eq!(text(0, 5).unwrap(), "-9999999999999999999999999999.9999999999");
    assert_eq!(text(1, 5).unwrap(), "0.0000000001");
    assert_eq!(text(0, 6).unwrap(), "-0.01");
    assert_eq!(text(1, 6).unwrap(), "9999999999.99");
    assert_eq!(got[0].get::<_, Option<NaiveDate>>(7), NaiveDate::from_ymd_opt(1, 1, 1));
    assert_eq!(got[1].get::<_, Option<NaiveDate>>(7), NaiveDate::from_ymd_opt(2038, 1, 19));
    assert_eq!(got[1].get::<_, Option<NaiveDateTime>>(8).unwrap().to_string(), "9999-12-31 23:59:59.999999");
    assert_eq!(text(0, 10).unwrap(), "");
    assert_eq!(got[0].get::<_, Option<i32>>(11), None);
}

/// The server's refusals keep the driver's error as their source, so callers
/// can match on the SQLSTATE rather than on message text.
#[test]
fn refusals_keep_the_servers_sqlstate() {
    use postgres::error::SqlState;
    use pqstage_postgres::connect::{connect, Settings};
    use pqstage_postgres::PgError;

    let url = std::env::var("PQSTAGE_PG_URL").expect("PQSTAGE_PG_URL is set by `make test`");
    let (base, _db) = url.rsplit_once('/').unwrap();
    let unknown_role = url.replacen("pqtest@", "nobody_here@", 1);
    // Only the URL counts: no PG* variables, ~/.pgpass or ~/.postgresql of
    // whoever runs the test.
    let settings = |url: &str| Settings::resolve_with(Some(url), &|_| None).unwrap();
    let refused = |url: &str| connect(&settings(url)).err().expect("the server refuses");
    let e = refused(&unknown_role);
    assert!(matches!(e, PgError::Auth { .. }), "{e:?}");
    assert_eq!(e.sqlstate(), Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION));
    assert!(e.to_string().contains("refused user nobody_here"), "{e}");
    assert!(std::error::Error::source(&e).is_some(), "the driver's error is kept");

    let no_database = format!("{base}/no_such_database");
    let e = refused(&no_database);
    assert_eq!(e.sqlstate(), Some(&SqlState::INVALID_CATALOG_NAME), "{e:?}");

    let e = Settings::resolve_with(Some("postgres://host:notaport/db"), &|_| None).unwrap_err();
    assert!(matches!(e, PgError::Settings(_)), "{e:?}");
    assert_eq!(e.sqlstate(), None);
}
