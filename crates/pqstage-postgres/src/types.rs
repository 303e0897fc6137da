//! Spec types and pqstage's names as PostgreSQL spells and limits them.

use pqstage_spec::ColumnType;

/// PostgreSQL's name of a spec type, as `format_type` spells it.
pub fn pg_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Bool => "boolean".into(),
        ColumnType::Int16 => "smallint".into(),
        ColumnType::Int32 => "integer".into(),
        ColumnType::Int64 => "bigint".into(),
        ColumnType::Float64 => "double precision".into(),
        ColumnType::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
        ColumnType::Date => "date".into(),
        ColumnType::Timestamp => "timestamp without time zone".into(),
        ColumnType::TimestampTz => "timestamp with time zone".into(),
        ColumnType::Text => "text".into(),
    }
}

/// Names of a partition's tables: the attached one and the one being loaded,
/// e.g. `violations_p1987` and `violations_p1987_load`.
pub fn partition_names(table: &str, key: Option<i64>) -> (String, String) {
    let suffix = match key {
        Some(y) if y < 0 => format!("_pm{}", y.unsigned_abs()),
        Some(y) => format!("_p{y}"),
        None => "_pnull".to_string(),
    };
    // PostgreSQL truncates names at 63 bytes; keep the suffixes.
    let mut base = table.to_string();
    while base.len() + suffix.len() + "_load".len() > 63 {
        base.pop();
    }
    (format!("{base}{suffix}"), format!("{base}{suffix}_load"))
}

/// The key of a partition bound: `FOR VALUES FROM (1987) TO (1988)` → 1987, `DEFAULT` → NULL.
pub fn bound_key(bound: &str) -> Option<i64> {
    let from = bound.split("FROM (").nth(1)?;
    from.split(')').next()?.trim().trim_matches('\'').parse().ok()
}

/// A partition's CHECK constraint and bound on the key column `k` (quoted):
/// `k IS NOT NULL AND k >= 1987 AND k < 1988` and
/// `FOR VALUES FROM (1987) TO (1988)`, or `k IS NULL` and `DEFAULT`.
pub fn check_and_bound(k: &str, key: Option<i64>) -> (String, String) {
    match key {
        Some(y) => (
            format!("{k} IS NOT NULL AND {k} >= {y} AND {k} < {}", y + 1),
            format!("FOR VALUES FROM ({y}) TO ({})", y + 1),
        ),
        None => (format!("{k} IS NULL"), "DEFAULT".to_string()),
    }
}

/// A stable index name: `violations_agency_company_name_idx`, cut to 63 bytes.
pub fn index_name(table: &str, cols: &[String]) -> String {
    let mut name = format!("{table}_{}_idx", cols.join("_"));
    if name.len() > 63 {
        let hash = format!("{:08x}", xxhash_rust::xxh3::xxh3_64(name.as_bytes()) as u32);
        name.truncate(63 - 9);
        while !name.is_char_boundary(name.len()) {
            name.pop();
        }
        name = format!("{name}_{hash}");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse() {
        assert_eq!(bound_key("FOR VALUES FROM (1987) TO (1988)"), Some(1987));
        assert_eq!(bound_key("FOR VALUES FROM ('-5') TO ('-4')"), Some(-5));
        assert_eq!(bound_key("DEFAULT"), None);
        assert_eq!(
            check_and_bound("k", Some(1987)),
            ("k IS NOT NULL AND k >= 1987 AND k < 1988".into(), "FOR VALUES FROM (1987) TO (1988)".into())
        );
        assert_eq!(check_and_bound("k", None), ("k IS NULL".into(), "DEFAULT".into()));
    }

    #[test]
    fn names_fit_postgresql_limits() {
        assert_eq!(partition_names("v", Some(1987)), ("v_p1987".into(), "v_p1987_load".into()));
        assert_eq!(partition_names("v", None).0, "v_pnull");
        assert_eq!(partition_names("v", Some(-5)).0, "v_pm5");
        let long = "x".repeat(80);
        let (a, b) = partition_names(&long, Some(2020));
        assert!(a.ends_with("_p2020") && b.len() <= 63, "{a} {b}");
        let idx = index_name(&long, &["agency".into()]);
        assert!(idx.len() <= 63, "{idx}");
        assert_eq!(index_name("v", &["a".into(), "b".into()]), "v_a_b_idx");
    }
}
