//! `infer` on the sample agrees with the checked-in spec, and the inferred
//! spec converts the file.

use crate::util::{ok, sample};

#[test]
fn inferred_types_match_the_checked_in_violations_spec() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), 60_000, "violations.csv");
    let text = ok(
        dir.path(),
        &[
            "infer",
            "violations.csv",
            "--partition-by",
            "year(issuance_date)",
            "--derive",
            "company_name_normalized=normalize_name(company_name)",
        ],
    );
    let inferred = pqstage_spec::Spec::from_toml(&text).expect("infer prints a valid spec");
    let checked =
        pqstage_spec::Spec::from_toml(&std::fs::read_to_string(dir.path().join("violations.toml")).unwrap()).unwrap();
    assert_eq!(inferred.name.as_deref(), Some("violations"));
    assert_eq!(inferred.partition, checked.partition);
    assert_eq!(inferred.derived, checked.derived);
    for (i, c) in checked.columns.iter().zip(&inferred.columns).map(|(c, i)| (i, c)) {
        assert_eq!(i.name, c.name);
        // Inference picks the narrowest type; the checked-in spec leaves headroom.
        let want = match (c.name.as_str(), c.ty) {
            ("nr_instances", _) | ("nr_exposed", _) => pqstage_spec::ColumnType::Int16,
            ("current_penalty", _) | ("initial_penalty", _) => i.ty,
            // Y/N flags are the narrowest type that holds them: bool.
            ("emphasis", _) => pqstage_spec::ColumnType::Bool,
            (_, t) => t,
        };
        assert_eq!(i.ty, want, "column {}", c.name);
        assert_eq!(i.format, c.format, "column {}", c.name);
    }
    // Leading zeros keep codes as text.
    for code in ["citation_id", "site_zip", "gravity"] {
        assert_eq!(inferred.column(code).unwrap().ty, pqstage_spec::ColumnType::Text, "{code}");
    }
    assert!(matches!(
        inferred.column("current_penalty").unwrap().ty,
        pqstage_spec::ColumnType::Decimal { scale: 2, .. }
    ));

    // Convert without a spec infers the same one and records it in the manifest.
    ok(
        dir.path(),
        &["convert", "violations.csv", "--partition-by", "year(issuance_date)", "--to", "stage", "--no-progress", "-q"],
    );
    let m = crate::util::manifest(&dir.path().join("stage"), "violations");
    let recorded: pqstage_spec::Spec = serde_json::from_value(m["tables"][0]["spec"].clone()).unwrap();
    assert_eq!(recorded.columns, inferred.columns);
}
