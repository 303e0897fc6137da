//! Property test: generated typed rows → CSV → convert → Parquet read back
//! equals the rows. Edge values are oversampled: NULLs, empty strings,
//! quotes, commas, newlines, multi-byte UTF-8, integer extremes, dates from
//! year 1 to 9999, NaN and ±inf, 38-digit decimals.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use pqstage_convert::{convert, ConvertOptions};
use pqstage_spec::Spec;
use pqstage_stage::Stage;
use proptest::prelude::*;

const SPEC: &str = r#"
name = "rt"
[[columns]]
name = "id"
type = "int64"
nullable = false
[[columns]]
name = "b"
type = "bool"
[[columns]]
name = "i16"
type = "int16"
[[columns]]
name = "i32"
type = "int32"
[[columns]]
name = "i64"
type = "int64"
[[columns]]
name = "f"
type = "float64"
[[columns]]
name = "d18"
type = "decimal(18,4)"
[[columns]]
name = "d38"
type = "decimal(38,10)"
[[columns]]
name = "day"
type = "date"
[[columns]]
name = "ts"
type = "timestamp"
[[columns]]
name = "tz"
type = "timestamptz"
[[columns]]
name = "t"
type = "text"
[partition]
by = "year(day)"
"#;

#[derive(Debug, Clone, PartialEq)]
struct Row {
    b: Option<bool>,
    i16: Option<i16>,
    i32: Option<i32>,
    i64: Option<i64>,
    f: Option<f64>,
    d18: Option<i64>,
    d38: Option<i128>,
    day: Option<(i64, u32, u32)>,
    ts: Option<i64>,
    tz: Option<(i64, i32)>,
    t: Option<String>,
}

fn opt<T: std::fmt::Debug + Clone + 'static>(s: impl Strategy<Value = T> + 'static) -> BoxedStrategy<Option<T>> {
    prop_oneof![1 => Just(None), 4 => s.prop_map(Some)].boxed()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\"".to_string()),
        Just("a,b".to_string()),
        Just("line\nbreak\r\nagain".to_string()),
        Just("  padded  ".to_string()),
        Just("NULL".to_string()),
        Just("00501".to_string()),
        "[a-zA-Z0-9 ,\"'\\n&.éüñ日本語🙂-]{0,24}",
    ]
}

fn row() -> impl Strategy<Value = Row> {
    let ints = (
        opt(any::<bool>()),
        opt(prop_oneof![Just(i16::MIN), Just(i16::MAX), Just(0i16), any::<i16>()]),
        opt(prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>()]),
        opt(prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(-1i64), any::<i64>()]),
        opt(prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
            any::<f64>()
        ]),
    );
    let rest = (
        opt(prop_oneof![
            Just(999_999_999_999_999_999i64),
            Just(-999_999_999_999_999_999i64),
            -10_000_000i64..10_000_000
        ]),
        opt(prop_oneof![Just(10i128.pow(38) - 1), Just(-(10i128.pow(38) - 1)), any::<i64>().prop_map(i128::from)]),
        opt(prop_oneof![Just((1i64, 1u32, 1u32)), Just((9999, 12, 31)), (1900i64..2100, 1u32..=12, 1u32..=28)]),
        opt(prop_oneof![
            Just(-62_135_596_800_000_000i64),
            Just(253_402_300_799_999_999),
            -4_000_000_000_000_000i64..4_000_000_000_000_000
        ]),
        opt((-4_000_000_000_000_000i64..4_000_000_000_000_000, -14 * 60..14 * 60i32)),
        opt(text()),
    );
    (ints, rest).prop_map(|((b, i16, i32, i64, f), (d18, d38, day, ts, tz, t))| Row {
        b,
        i16,
        i32,
        i64,
        f,
        d18,
        d38,
        day,
        ts,
        tz: tz.map(|(v, m)| (v - v.rem_euclid(1_000_000) + v.rem_euclid(1_000_000) / 1000 * 1000, m)),
        t,
    })
}

fn decimal(v: i128, scale: u32) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs();
    let p = 10u128.pow(scale);
    format!("{}{}.{:0width$}", if neg { "-" } else { "" }, a / p, a % p, width = scale as usize)
}

fn ts_text(micros: i64, sep: char) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
    format!("{}{sep}{}.{frac:06}", dt.format("%Y-%m-%d"), dt.format("%H:%M:%S"))
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn csv(rows: &[Row]) -> String {
    let mut out = String::from("id,b,i16,i32,i64,f,d18,d38,day,ts,tz,t\n");
    for (id, r) in rows.iter().enumerate() {
        let f = |o: Option<String>| o.unwrap_or_default();
        let fields = [
            id.to_string(),
            f(r.b.map(|v| if v { "true".into() } else { "F".into() })),
            f(r.i16.map(|v| v.to_string())),
            f(r.i32.map(|v| v.to_string())),
            f(r.i64.map(|v| v.to_string())),
            f(r.f.map(|v| format!("{v:?}"))),
            f(r.d18.map(|v| decimal(i128::from(v), 4))),
            f(r.d38.map(|v| decimal(v, 10))),
            f(r.day.map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))),
            f(r.ts.map(|v| ts_text(v, ' '))),
            f(r.tz.map(|(v, mins)| {
                let local = v + i64::from(mins) * 60_000_000;
                let sign = if mins < 0 { '-' } else { '+' };
                format!("{}{sign}{:02}:{:02}", ts_text(local, 'T'), mins.abs() / 60, mins.abs() % 60)
            })),
            // Text is always quoted, so "" is an empty string and never NULL.
            f(r.t.as_deref().map(quote)),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

fn read_back(dir: &std::path::Path) -> BTreeMap<i64, (Option<i32>, Row)> {
    let mut out = BTreeMap::new();
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("rt/_manifest.json")).unwrap()).unwrap();
    for p in m["tables"][0]["partitions"].as_array().unwrap() {
        let key = p["value"].as_i64().map(|v| v as i32);
        for f in p["files"].as_array().unwrap() {
            let file = std::fs::File::open(dir.join("rt").join(f["path"].as_str().unwrap())).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
            for b in reader {
                collect(&b.unwrap(), key, &mut out);
            }
        }
    }
    out
}

fn get<T: ArrowPrimitiveType>(b: &RecordBatch, c: usize, r: usize) -> Option<T::Native> {
    let a = b.column(c).as_primitive::<T>();
    (!a.is_null(r)).then(|| a.value(r))
}

fn collect(b: &RecordBatch, key: Option<i32>, out: &mut BTreeMap<i64, (Option<i32>, Row)>) {
    for r in 0..b.num_rows() {
        let bools = b.column(1).as_boolean();
        let text = b.column(11).as_string::<i32>();
        let civil = |days: i32| {
            let d = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(i64::from(days));
            use chrono::Datelike;
            (i64::from(d.year()), d.month(), d.day())
        };
        // Readers without our Arrow schema may see decimals as 128-bit.
        let d18 = match b.column(6).data_type() {
            arrow_schema::DataType::Decimal64(..) => get::<Decimal64Type>(b, 6, r),
            _ => get::<Decimal128Type>(b, 6, r).map(|v| v as i64),
        };
        let row = Row {
            b: (!bools.is_null(r)).then(|| bools.value(r)),
            i16: get::<Int16Type>(b, 2, r),
            i32: get::<Int32Type>(b, 3, r),
            i64: get::<Int64Type>(b, 4, r),
            f: get::<Float64Type>(b, 5, r),
            d18,
            d38: get::<Decimal128Type>(b, 7, r),
            day: get::<Date32Type>(b, 8, r).map(civil),
            ts: get::<TimestampMicrosecondType>(b, 9, r),
            tz: get::<TimestampMicrosecondType>(b, 10, r).map(|v| (v, 0)),
            t: (!text.is_null(r)).then(|| text.value(r).to_string()),
        };
        out.insert(get::<Int64Type>(b, 0, r).unwrap(), (key, row));
    }
}

fn same_float(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (x, y) => x == y,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn csv_to_parquet_round_trip(rows in proptest::collection::vec(row(), 1..60), jobs in 1usize..3) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rt.csv"), csv(&rows)).unwrap();
        let stage = Stage::create(dir.path().join("stage").to_str().unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let opts = ConvertOptions::builder(vec![dir.path().join("rt.csv")], "rt", Spec::from_toml(SPEC).unwrap())
            .with_jobs(jobs)
            .with_chunk_bytes(1024)
            .build()
            .unwrap();
        let summary = convert(&stage, rt.handle(), &opts).unwrap();
        prop_assert_eq!(summary.manifest.tables[0].rows_written, rows.len() as u64);
        let back = read_back(&dir.path().join("stage"));
        prop_assert_eq!(back.len(), rows.len());
        for (id, want) in rows.iter().enumerate() {
            let (key, got) = &back[&(id as i64)];
            prop_assert_eq!(*key, want.day.map(|(y, _, _)| y as i32), "partition of row {}", id);
            let want_tz = want.tz.map(|(v, _)| (v, 0));
            let got_cmp = Row { f: None, tz: None, ..got.clone() };
            let want_cmp = Row { f: None, tz: None, ..want.clone() };
            prop_assert_eq!(&got_cmp, &want_cmp, "row {}", id);
            prop_assert!(same_float(got.f, want.f), "float of row {}: {:?} vs {:?}", id, got.f, want.f);
            prop_assert_eq!(got.tz, want_tz, "timestamptz of row {}", id);
        }
    }
}
