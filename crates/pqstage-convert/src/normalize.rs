//! `normalize_name`: a matching key for company names.

/// Legal-form words dropped from the end of a name (after punctuation is removed).
pub const LEGAL_SUFFIXES: &[&str] = &[
    "INC",
    "INCORPORATED",
    "LLC",
    "LLP",
    "LP",
    "LTD",
    "LIMITED",
    "CORP",
    "CORPORATION",
    "CO",
    "COMPANY",
    "PLLC",
    "PC",
    "PLC",
    "GMBH",
    "SA",
];

/// Upper-cases, turns `&` into `AND`, drops `.` and `'` (so `L.L.C.` is `LLC`),
/// turns other punctuation into spaces, collapses whitespace and strips legal
/// suffixes from the end, keeping at least one word.
///
/// ```
/// use pqstage_convert::normalize::normalize_name;
/// assert_eq!(normalize_name("  Acme Roofing, Inc. "), "ACME ROOFING");
/// assert_eq!(normalize_name("\"Big Joe\" Smith & Sons L.L.C."), "BIG JOE SMITH AND SONS");
/// ```
pub fn normalize_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    normalize_name_into(s, &mut out);
    out
}

/// [`normalize_name`] into a reused buffer (cleared first). ASCII names, the
/// common case, take a byte-level path with no allocation.
pub fn normalize_name_into(s: &str, out: &mut String) {
    out.clear();
    if !s.is_ascii() {
        out.push_str(&normalize_unicode(s));
        return;
    }
    let mut pending_space = false;
    let word = |out: &mut String, w: &str, pending: &mut bool| {
        if *pending && !out.is_empty() {
            out.push(' ');
        }
        *pending = false;
        out.push_str(w);
    };
    for &b in s.as_bytes() {
        match b {
            b'.' | b'\'' => {}
            b'&' => {
                pending_space = true;
                word(out, "AND", &mut pending_space);
                pending_space = true;
            }
            b if b.is_ascii_alphanumeric() => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(char::from(b.to_ascii_uppercase()));
            }
            _ => pending_space = true,
        }
    }
    while let Some(i) = out.rfind(' ') {
        if LEGAL_SUFFIXES.contains(&&out[i + 1..]) {
            out.truncate(i);
        } else {
            break;
        }
    }
}

fn normalize_unicode(s: &str) -> String {
    let mut cleaned = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '.' | '\'' | '’' => {}
            '&' => cleaned.push_str(" AND "),
            c if c.is_alphanumeric() => cleaned.extend(c.to_uppercase()),
            _ => cleaned.push(' '),
        }
    }
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    while words.len() > 1 && words.last().is_some_and(|w| LEGAL_SUFFIXES.contains(w)) {
        words.pop();
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::{normalize_name, normalize_unicode};

    #[test]
    fn strips_suffixes_and_punctuation() {
        for (raw, want) in [
            ("ACME ROOFING, INC.", "ACME ROOFING"),
            ("Acme Roofing Inc", "ACME ROOFING"),
            ("acme   roofing corp.", "ACME ROOFING"),
            ("O'Brien Construction Co., Ltd.", "OBRIEN CONSTRUCTION"),
            ("Café Müller GmbH", "CAFÉ MÜLLER"),
            ("CO", "CO"),
            ("", ""),
            ("Smith&Sons", "SMITH AND SONS"),
            ("& Co", "AND"),
            ("  ,,  ", ""),
            ("INC LLC", "INC"),
        ] {
            assert_eq!(normalize_name(raw), want, "{raw}");
            assert_eq!(normalize_unicode(raw), want, "unicode path on {raw}");
        }
    }

    #[test]
    fn the_ascii_path_agrees_with_the_general_one() {
        let pieces = [
            "acme",
            "Roofing",
            "INC",
            "inc.",
            "L.L.C.",
            "Co",
            "&",
            ",",
            " ",
            "  ",
            "'",
            "-",
            "\t",
            "O'Brien",
            "corp",
            "7",
            "INCORPORATED",
            "Corporation",
            "x",
            "gmbh",
            ".",
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut reused = String::new();
        for _ in 0..20_000 {
            let mut name = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..(x % 7) {
                name.push_str(pieces[((x >> (8 * k)) % pieces.len() as u64) as usize]);
            }
            super::normalize_name_into(&name, &mut reused);
            assert_eq!(reused, normalize_unicode(&name), "{name:?}");
        }
    }
}
